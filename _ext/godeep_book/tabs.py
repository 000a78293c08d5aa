"""Framework tabs: notebook cells tagged by framework become synchronized sphinx-design tabs.

A notebook keeps both versions of a framework-specific cell, PyTorch first, then
TensorFlow, in consecutive cells tagged ``framework-pytorch`` and ``framework-tensorflow``.
Both run, so nbval checks both. On the site, each *tab group* becomes one sphinx-design
``tab-set`` with a "PyTorch" and a "TensorFlow" tab in the sync group ``framework``: choosing
TensorFlow once switches every group on the page, and sphinx-design's script remembers the
choice in ``localStorage`` (key ``sphinx-design-tab-id-framework``) for later pages.

A tab group is a maximal run of adjacent tagged cells, split where a PyTorch cell follows a
TensorFlow one: ``[pt, tf]`` and ``[pt, pt, tf]`` are one group each, ``[pt, tf, pt, tf]`` is two.
Each tab holds its cells in notebook order, inputs and executed outputs both.

Why a transform on MyST-NB's doctree, rather than sphinx-design directives in markdown cells
with glued outputs: the notebook stays an ordinary notebook (two code cells, each with its
own output, run in order by nbval, Binder and Colab), and the authors write no markup. MyST-NB
already renders every code cell as a container that carries the cell's tags
(``nb_element="cell_code"``, ``cell_metadata``); this transform only regroups those containers.

Markdown cells may carry the tags too (text that belongs to one framework): MyST-NB renders
markdown cells without a container, so this module wraps tagged ones in a container while
they are parsed (through the one seam into MyST-NB's private API, :mod:`godeep_book.mystnb`).
Such a cell must not hold a heading (a section cannot live inside a tab).

A group with cells of one framework only (an experiment run in one framework, say) becomes a
single tab labelled "PyTorch only" or "TensorFlow only". Problems are Sphinx warnings (the book
builds with ``-W``): a cell carrying both tags, or a tagged markdown cell with a heading.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

__all__ = [
    "FRAMEWORKS",
    "SYNC_GROUP",
    "FrameworkTabs",
    "cell_framework",
    "render_tagged_markdown",
    "setup",
]

LOGGER = logging.getLogger(__name__)

#: tag -> (sync id, tab label), in the order the tabs appear.
FRAMEWORKS = {
    "framework-pytorch": ("pytorch", "PyTorch"),
    "framework-tensorflow": ("tensorflow", "TensorFlow"),
}
SYNC_GROUP = "framework"
ORDER = list(FRAMEWORKS)


def cell_framework(node: nodes.Node) -> str | None:
    """The framework tag of a MyST-NB cell container, or None for any other node."""
    if not isinstance(node, nodes.container) or node.get("nb_element") not in (
        "cell_code",
        "cell_markdown",
    ):
        return None
    tags = (node.get("cell_metadata") or {}).get("tags", [])
    found = [tag for tag in ORDER if tag in tags]
    if len(found) > 1:
        LOGGER.warning(
            "notebook cell %s carries both framework tags %s; it is shown to every reader",
            node.get("cell_index"),
            found,
            location=node,
            type="godeep",
            subtype="tabs",
        )
        return None
    return found[0] if found else None


def _groups(parent: nodes.Element) -> list[list[tuple[str, nodes.Element]]]:
    """Tab groups among ``parent``'s children: runs of adjacent tagged cells, in order."""
    groups: list[list[tuple[str, nodes.Element]]] = []
    current: list[tuple[str, nodes.Element]] = []
    for child in parent.children:
        tag = cell_framework(child)
        if tag is None:
            if current:
                groups.append(current)
            current = []
            continue
        if current and ORDER.index(tag) < ORDER.index(current[-1][0]):
            groups.append(current)  # a PyTorch cell after a TensorFlow cell starts a new group
            current = []
        current.append((tag, child))
    if current:
        groups.append(current)
    return groups


def _tab_set(group: list[tuple[str, nodes.Element]]):
    """A sphinx-design tab-set component holding the group's cells, one tab per framework.

    A group with cells of one framework only (an experiment run in one framework) becomes a
    single tab labelled "PyTorch only" or "TensorFlow only", so the reader sees which it is.
    """
    from sphinx_design.shared import create_component

    present = [tag for tag in ORDER if any(t == tag for t, _ in group)]
    classes = ["sd-tab-set", "godeep-framework-tabs"] + (
        ["godeep-framework-only"] if len(present) == 1 else []
    )
    tab_set = create_component("tab-set", classes=classes)
    for tag in present:
        cells = [cell for t, cell in group if t == tag]
        sync_id, label = FRAMEWORKS[tag]
        if len(present) == 1:
            label = f"{label} only"
        item = create_component("tab-item", classes=["sd-tab-item"], selected=False)
        rubric = nodes.rubric(label, label, classes=["sd-tab-label"])
        rubric["sync_id"] = sync_id
        rubric["sync_group"] = SYNC_GROUP
        item += rubric
        content = create_component("tab-content", classes=["sd-tab-content"])
        content.extend(cells)
        item += content
        tab_set += item
    tab_set.source, tab_set.line = group[0][1].source, group[0][1].line
    return tab_set


class FrameworkTabs(SphinxTransform):
    """Regroup framework-tagged notebook cells into synced sphinx-design tab sets."""

    default_priority = 500  # after MyST-NB has built the cells, before any post-transform

    def apply(self, **kwargs: Any) -> None:
        parents = {
            id(cell.parent): cell.parent
            for cell in self.document.findall(nodes.container)
            if cell_framework(cell) is not None
        }
        for parent in parents.values():
            for group in _groups(parent):
                first = group[0][1]
                index = parent.index(first)
                for _, cell in group:
                    parent.remove(cell)
                parent.insert(index, _tab_set(group))


def render_tagged_markdown(original, renderer, token) -> None:
    """Render a framework-tagged markdown cell inside a container the transform can see.

    Installed in MyST-NB by :func:`godeep_book.mystnb.wrap_markdown_cells`; any other cell
    goes to MyST-NB's own ``original`` renderer.
    """
    metadata = token.meta.get("metadata", {})
    if not any(tag in ORDER for tag in metadata.get("tags", [])):
        return original(renderer, token)
    container = nodes.container(
        nb_element="cell_markdown",
        cell_index=token.meta.get("index"),
        cell_metadata=metadata,
        classes=["cell", "godeep-markdown-cell"],
    )
    renderer.add_line_and_source_path(container, token)
    with renderer.current_node_context(container, append=True):
        renderer.render_children(token)
    if any(isinstance(n, nodes.section) for n in container.findall(nodes.section)):
        LOGGER.warning(
            "markdown cell %s is tagged for one framework but holds a heading; move the "
            "heading to an untagged cell",
            token.meta.get("index"),
            location=container,
            type="godeep",
            subtype="tabs",
        )


def setup(app) -> None:
    from .mystnb import wrap_markdown_cells

    wrap_markdown_cells(render_tagged_markdown)
    app.add_transform(FrameworkTabs)
    app.add_css_file("godeep-tabs.css")
