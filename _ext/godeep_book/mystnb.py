"""The one place where the book's extension reaches into MyST-NB's private API.

MyST-NB renders a markdown cell straight into its parent, with no container carrying the
cell's tags, so :mod:`godeep_book.tabs` could not see a markdown cell tagged for one framework.
:func:`wrap_markdown_cells` replaces MyST-NB's private renderer method
``myst_nb.core.render.MditRenderMixin.render_nb_cell_markdown(self, token)`` with a wrapper
that may render the cell itself and otherwise calls the original.

Checked against MyST-NB ``CHECKED_WITH`` (requirements: ``myst-nb`` pinned to that minor
version in code/pyproject.toml, extra ``book``). Before raising the pin, run
tests/test_book.py: it checks the method still exists with this signature and that a tagged
markdown cell lands in its framework's tab. If MyST-NB drops or changes the method, the build
stops here with a message instead of silently showing tagged markdown outside the tabs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from sphinx.errors import ExtensionError

__all__ = ["CHECKED_WITH", "Renderer", "installed_version", "wrap_markdown_cells"]

#: The MyST-NB version this seam was checked against.
CHECKED_WITH = "1.4.0"
#: The wrapped method's parameters, as in that version.
PARAMETERS = ["self", "token"]
MARK = "_godeep_wrapped"

#: ``wrapper(original, renderer, token)``: render the cell, or return ``original(renderer, token)``.
Renderer = Callable[[Callable[[Any, Any], None], Any, Any], None]


def installed_version() -> str:
    """The version of the installed MyST-NB."""
    import myst_nb

    return myst_nb.__version__


def _target():
    try:
        from myst_nb.core.render import MditRenderMixin
    except ImportError as error:  # pragma: no cover - MyST-NB moved its renderer
        raise ExtensionError(
            f"godeep_book: myst_nb.core.render.MditRenderMixin not found in MyST-NB "
            f"{installed_version()} (checked against {CHECKED_WITH}); see _ext/godeep_book/mystnb.py"
        ) from error
    method = getattr(MditRenderMixin, "render_nb_cell_markdown", None)
    if method is None or list(inspect.signature(method).parameters) != PARAMETERS:
        raise ExtensionError(
            f"godeep_book: MyST-NB {installed_version()} has no render_nb_cell_markdown(self, token) "
            f"(checked against {CHECKED_WITH}); see _ext/godeep_book/mystnb.py"
        )
    return MditRenderMixin, method


def wrap_markdown_cells(wrapper: Renderer) -> bool:
    """Route MyST-NB's markdown-cell rendering through ``wrapper``; idempotent.

    Returns True when it installed the wrapper, False when one was installed already.
    """
    cls, original = _target()
    if getattr(original, MARK, False):
        return False

    def render_nb_cell_markdown(self, token) -> None:
        return wrapper(original, self, token)

    setattr(render_nb_cell_markdown, MARK, True)
    cls.render_nb_cell_markdown = render_nb_cell_markdown
    return True
