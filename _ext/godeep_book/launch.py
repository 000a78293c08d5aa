"""Launch and download buttons give the notebook of the selected framework.

A split source notebook (metadata ``godeep: {split: true}``, see tools/frameworks.py) is the
book page; its derived notebooks ``NAME.pytorch.ipynb`` and ``NAME.tensorflow.ipynb`` lie next
to it. For such a page this module

* adds ``<meta name="godeep-framework-notebooks" content=JSON>`` naming the source and the
  derived notebooks' file names;
* copies the derived notebooks next to the page's source in ``_sources/`` (the download
  button's folder), at the end of the build;
* loads ``godeep-launch.js``, which rewrites every link to the source notebook (Binder,
  Colab, download) into a link to the derived notebook of the framework stored by
  sphinx-design under ``localStorage["sphinx-design-tab-id-framework"]`` (PyTorch when none
  is stored), and again whenever the reader picks a framework tab.

Pages of unconverted notebooks get nothing of this: their buttons keep giving the page's
own notebook.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

__all__ = ["derived_notebooks", "setup"]

FRAMEWORKS = ("pytorch", "tensorflow")


def derived_notebooks(source: Path) -> dict[str, Path] | None:
    """framework -> derived notebook of a split source notebook; None for any other file."""
    if source.suffix != ".ipynb" or not source.is_file():
        return None
    try:
        metadata = json.loads(source.read_text(encoding="utf-8")).get("metadata", {})
    except ValueError:
        return None
    if (metadata.get("godeep") or {}).get("split") is not True:
        return None
    return {fw: source.with_name(f"{source.stem}.{fw}.ipynb") for fw in FRAMEWORKS}


def _page_context(app, pagename, templatename, context, doctree) -> None:
    if doctree is None:
        return
    derived = derived_notebooks(Path(app.srcdir) / f"{pagename}.ipynb")
    if derived is None:
        return
    content = {
        "source": f"{Path(pagename).name}.ipynb",
        **{fw: p.name for fw, p in derived.items()},
    }
    meta = json.dumps(content).replace('"', "&quot;")
    context["metatags"] = context.get("metatags", "") + (
        f'\n<meta name="godeep-framework-notebooks" content="{meta}">'
    )


def _copy_derived(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for docname in app.env.found_docs:
        source = Path(app.srcdir) / f"{docname}.ipynb"
        derived = derived_notebooks(source)
        if derived is None:
            continue
        target = Path(app.outdir) / "_sources" / Path(docname).parent
        target.mkdir(parents=True, exist_ok=True)
        for path in derived.values():
            if not path.exists():
                from sphinx.errors import ExtensionError

                raise ExtensionError(
                    f"godeep_book: {path} is missing (run tools/nb.py execute {source})"
                )
            shutil.copyfile(path, target / path.name)


def setup(app) -> None:
    app.connect("html-page-context", _page_context)
    app.connect("build-finished", _copy_derived)
    app.add_js_file("godeep-launch.js")
