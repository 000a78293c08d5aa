"""Notebook files for tools/nb.py: find, read and write notebooks, strip what changes from run to
run (normalize), and keep the Colab set-up cell that starts every notebook."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}
SKIP_DIRS = {".ipynb_checkpoints", "_build"}
ROOT = Path(__file__).resolve().parent.parent
COLAB_CELL_ID = "colab-setup"


# --------------------------------------------------------------------------- files


def find_notebooks(paths: list[str]) -> list[Path]:
    """Expand files and folders into a sorted list of notebooks (folders recursively)."""
    found: list[Path] = []
    for arg in paths:
        path = Path(arg)
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*.ipynb") if not SKIP_DIRS & set(p.relative_to(path).parts)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise SystemExit(f"nb.py: no such notebook or folder: {arg}")
    return found


def read(path: Path) -> nbformat.NotebookNode:
    """Read a notebook as nbformat v4, giving cells that lack an id a deterministic one
    (nbformat would invent random ids, which would churn diffs)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    if (raw.get("nbformat"), raw.get("nbformat_minor", 0)) >= (4, 5):
        for index, cell in enumerate(raw.get("cells", [])):
            cell.setdefault("id", f"cell-{index}")
    return nbformat.reads(json.dumps(raw), as_version=4)


def write(nb: nbformat.NotebookNode, path: Path) -> None:
    """Write like JupyterLab does (indent=1, sorted keys, trailing newline) for small diffs."""
    nbformat.write(nb, path)


# --------------------------------------------------------------------------- normalize


def normalize(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip what changes from run to run, in place; cell ids and outputs' content are kept.

    Drops cell timing metadata and notebook widget state, sets kernelspec and language_info
    to one canonical form, renumbers executed code cells 1..n in order (their
    execute_result outputs too) and removes widget-view outputs (keeping any text/plain
    fallback). Applying it twice gives the same notebook.
    """
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = json.loads(json.dumps(LANGUAGE_INFO))
    count = 0
    for cell in nb.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type != "code":
            continue
        if cell.execution_count is not None:
            count += 1
            cell.execution_count = count
        outputs = []
        for output in cell.outputs:
            data = output.get("data")
            if data is not None and WIDGET_MIME in data:
                del data[WIDGET_MIME]
                if not data:
                    continue
            if output.output_type == "execute_result":
                output.execution_count = cell.execution_count
            outputs.append(output)
        cell.outputs = outputs
    return nb


def repository_url() -> str:
    """The course repository's address, from its one home: `repository_url` in _config.yml."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["repository"]["url"]


def colab_cell_source() -> str:
    """The first cell of every notebook: on Colab, install the course package (elsewhere a no-op)."""
    return (
        "# On Google Colab, install the course's package first; elsewhere this cell does nothing.\n"
        "import sys\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet "godeep @ git+{repository_url()}#subdirectory=code"\n'
    ).rstrip("\n")


def is_colab_cell(cell) -> bool:
    """Whether ``cell`` is a Colab set-up cell: the current one (by id) or an older copy under
    another id (its code installs godeep on Colab)."""
    if cell.get("id") == COLAB_CELL_ID:
        return True
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    return cell.get("cell_type") == "code" and (
        source == colab_cell_source()
        or ('"google.colab" in sys.modules' in source and "pip install" in source)
    )


def ensure_colab_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Make the Colab set-up cell the notebook's first cell, with the current repository URL.

    The cell carries the `remove-cell` tag: the book does not show it (the site has nothing
    to install), the notebook a reader downloads or opens in Colab starts with it. Older copies
    of the cell, under other ids, are removed (:func:`is_colab_cell`).
    """
    cells = [cell for cell in nb.cells if not is_colab_cell(cell)]
    cell = nbformat.v4.new_code_cell(colab_cell_source(), metadata={"tags": ["remove-cell"]})
    cell.id = COLAB_CELL_ID
    nb.cells = [cell, *cells]
    return nb
