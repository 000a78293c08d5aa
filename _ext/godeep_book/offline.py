"""MathJax 3 served from the site itself, so that pages typeset maths with no internet.

Sphinx's default ``mathjax_path`` is a CDN address. The course instead installs MathJax 3.2.2
with the ``django-static-mathjax`` wheel (a plain copy of MathJax's ``es5`` build, no
dependencies; its Python package is ``mathjax``) and this module copies the parts the site
needs into ``_static/mathjax/`` when the HTML build finishes: the ``tex-mml-chtml.js``
combined component, the TeX extensions it loads on demand (``\\boldsymbol`` and friends), the
CHTML output with its web fonts, and the menu's accessibility components.

``_config.yml`` sets ``mathjax_path: mathjax/tex-mml-chtml.js`` (relative to ``_static``); if
it is a relative path and MathJax is not installed, the build stops with a clear error.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

__all__ = ["KEEP", "mathjax_source", "setup"]

#: What the site needs from MathJax's es5 folder (the rest: SVG output, other bundles).
KEEP = (
    "tex-mml-chtml.js",
    "input",
    "output/chtml",
    "output/chtml.js",
    "a11y",
    "ui",
    "sre",
    "adaptors",
)
TARGET = "mathjax"


def mathjax_source() -> Path:
    """The es5 folder of the installed MathJax 3 (django-static-mathjax)."""
    try:
        import mathjax  # the django-static-mathjax distribution
    except ImportError as error:
        raise ExtensionError(
            "godeep_book: MathJax is not installed; `pip install django-static-mathjax` "
            "(it is in requirements.txt) so that the site typesets maths offline"
        ) from error
    roots = [Path(p) / "static" / "mathjax" / "es5" for p in mathjax.__path__]
    for root in roots:
        if (root / "tex-mml-chtml.js").is_file():
            return root
    raise ExtensionError(f"godeep_book: no MathJax es5 build found under {roots}")


def _local(app) -> bool:
    path = app.config.mathjax_path or ""
    return "://" not in path and not path.startswith("/") and path.startswith(TARGET + "/")


def _check(app) -> None:
    if app.builder.format == "html" and _local(app):
        mathjax_source()


def _copy(app, exception) -> None:
    if exception is not None or app.builder.format != "html" or not _local(app):
        return
    source = mathjax_source()
    target = Path(app.outdir) / "_static" / TARGET
    for part in KEEP:
        src = source / part
        if src.is_dir():
            shutil.copytree(src, target / part, dirs_exist_ok=True)
        elif src.is_file():
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target / part)


def setup(app) -> None:
    app.connect("builder-inited", _check)
    app.connect("build-finished", _copy)
