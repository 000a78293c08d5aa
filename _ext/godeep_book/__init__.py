"""The book's Sphinx extension: synced framework tabs and offline MathJax.

It belongs to the book, not to the course package learners install: it lives in ``_ext/`` and
``_config.yml`` loads it with ``sphinx.local_extensions: {godeep_book: _ext/}``. Parts:

* :mod:`godeep_book.tabs` turns every group of notebook cells tagged ``framework-pytorch`` /
  ``framework-tensorflow`` into sphinx-design tabs of the sync group ``framework``;
* :mod:`godeep_book.mystnb` is the one seam into MyST-NB's private API (it names the MyST-NB
  version it was checked against);
* :mod:`godeep_book.launch` makes the launch and download buttons of a page built from a
  split source notebook (tools/frameworks.py) give the selected framework's notebook;
* :mod:`godeep_book.figures` gives the framework copies of one figure one number;
* :mod:`godeep_book.offline` copies MathJax 3 (from the ``django-static-mathjax`` wheel) into
  the built site and points Sphinx at it, so that pages typeset maths with no internet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["setup"]


def _add_static_path(app, config) -> None:
    static = str(Path(__file__).with_name("static"))
    if static not in config.html_static_path:
        config.html_static_path.append(static)


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """Drop repeated inline scripts from a page.

    sphinx-thebe adds its inline configuration (``const THEBE_JS_URL = ...``) with
    ``app.add_js_file(None, body=...)`` once the builder exists; Sphinx then keeps it twice,
    once as file name ``None`` (the builder's copy) and once as ``""`` (the registry's copy,
    re-added for every page), so each page declared those constants twice and the browser
    logged "Identifier 'THEBE_JS_URL' has already been declared". sphinx-togglebutton's inline
    script is doubled the same way (harmless, but dropped too).
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        name = getattr(script, "filename", script) or ""  # None and "" both mean an inline script
        key = (str(name), tuple(sorted(getattr(script, "attributes", {}).items())))
        if key in seen:
            continue
        seen.add(key)
        kept.append(script)
    scripts[:] = kept


def setup(app) -> dict[str, Any]:
    from . import figures, launch, offline, tabs

    app.setup_extension("sphinx_design")
    app.connect("config-inited", _add_static_path)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    tabs.setup(app)
    launch.setup(app)
    figures.setup(app)
    offline.setup(app)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "0.1"}
