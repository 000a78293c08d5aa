"""One notebook per framework, derived from one source notebook (issue 17).

A *split* source notebook (notebook metadata ``"godeep": {"split": true}``) holds the cells
of both frameworks: cells tagged ``framework-pytorch`` / ``framework-tensorflow`` and shared
(untagged) cells. From it:

* :func:`split` derives one notebook per framework (its own cells and the shared ones, tags
  kept), written next to the source as ``NAME.pytorch.ipynb`` and ``NAME.tensorflow.ipynb``
  (same folder: relative paths, ``{doc}`` links and ``literalinclude`` resolve alike);
* each derived notebook is executed on its own kernel, where the other framework cannot be
  imported (:func:`kernel_env`: ``tools/blocker/sitecustomize.py`` installs an import
  blocker named by ``GODEEP_BLOCK_IMPORTS``), and validated by strict nbval on its own;
* :func:`merge` writes the executed outputs back into the source, which is the book page: a
  shared cell with the same outputs in both runs keeps one copy; one whose outputs differ is
  stored as two copies tagged by framework (metadata ``"godeep": {"shared": ORIGINAL_ID}``),
  which the book shows as synced framework tabs (a figure's name gets the suffix
  ``-tensorflow`` in the TensorFlow copy: labels must be unique; {numref} the plain name).
  :func:`split` folds such copies back into one shared cell (the PyTorch copy's metadata),
  so ``split(merge(...))`` is the derived notebook again.

:func:`problems` lists what is wrong with a split source: a shared cell that uses a
framework (:func:`framework_uses`), copies of one shared cell whose code differs, or derived
notebooks that are missing or stale (not what ``split`` + execute + ``merge`` gives).
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
from functools import lru_cache
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "code" / "godeep"
BLOCKER_DIR = ROOT / "tools" / "blocker"
BLOCK_ENV = "GODEEP_BLOCK_IMPORTS"

#: framework -> cell tag; the order of the tabs and of execution.
TAGS = {"pytorch": "framework-pytorch", "tensorflow": "framework-tensorflow"}
#: framework -> the top-level modules its kernel may not import (the other framework's).
BLOCKED = {"pytorch": ("tensorflow", "keras", "tf_keras"), "tensorflow": ("torch", "torchvision")}
#: top-level modules, and the names notebooks bind them to, that a shared cell may not use.
FRAMEWORK_MODULES = ("torch", "torchvision", "tensorflow", "keras", "tf_keras")
FRAMEWORK_NAMES = ("torch", "tf", "tensorflow", "keras", "nn", "F")


# --------------------------------------------------------------------------- notebooks


def godeep_meta(node) -> dict:
    """The ``godeep`` metadata dict of a notebook or cell (empty if none)."""
    return node.get("metadata", {}).get("godeep", {}) or {}


def is_split(nb) -> bool:
    """Whether a notebook is a split source (metadata ``godeep: {split: true}``)."""
    return godeep_meta(nb).get("split") is True


def derived_framework(nb) -> str | None:
    """The framework of a derived notebook, None for any other notebook."""
    return godeep_meta(nb).get("framework")


def derived_path(source: Path, framework: str) -> Path:
    """Where the derived notebook of `framework` lives: next to its source."""
    if framework not in TAGS:
        raise ValueError(f"unknown framework {framework!r}; expected one of {list(TAGS)}")
    return source.with_name(f"{source.stem}.{framework}.ipynb")


def source_path(derived: Path, nb) -> Path:
    """The source notebook a derived notebook was made from."""
    return derived.with_name(godeep_meta(nb)["source"])


def cell_framework(cell) -> str | None:
    """The framework a cell is tagged for, None for a shared cell."""
    tags = cell.get("metadata", {}).get("tags", [])
    found = [fw for fw, tag in TAGS.items() if tag in tags]
    if len(found) > 1:
        raise ValueError(f"cell {cell.get('id')} carries both framework tags")
    return found[0] if found else None


def _shared_cell(copy_cell) -> nbformat.NotebookNode:
    """The shared cell that an expanded copy (see :func:`merge`) stands for, without outputs."""
    cell = copy.deepcopy(copy_cell)
    meta = cell.metadata
    cell.id = meta["godeep"].pop("shared")
    if not meta["godeep"]:
        del meta["godeep"]
    meta["tags"] = [t for t in meta.get("tags", []) if t not in TAGS.values()]
    if not meta["tags"]:
        del meta["tags"]
    return cell


def collapse(source) -> list:
    """The source's cells with every pair of expanded copies folded into one shared cell."""
    cells, seen = [], set()
    for cell in source.cells:
        shared = godeep_meta(cell).get("shared")
        if shared is None:
            cells.append(copy.deepcopy(cell))
        elif shared not in seen:
            seen.add(shared)
            cells.append(_shared_cell(cell))
    return cells


def _clear(cell):
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    return cell


def split(source, framework: str, name: str) -> nbformat.NotebookNode:
    """The unexecuted notebook of one framework: its cells and the shared cells, in order
    (`name`: the source's file name, recorded in the derived notebook's metadata)."""
    if framework not in TAGS:
        raise ValueError(f"unknown framework {framework!r}; expected one of {list(TAGS)}")
    nb = copy.deepcopy(source)
    nb.cells = [_clear(c) for c in collapse(source) if cell_framework(c) in (None, framework)]
    nb.metadata["godeep"] = {"framework": framework, "source": name}
    return nb


def _comparable(outputs) -> str:
    """Outputs as JSON, without execution counts (they differ between the two runs), and with
    consecutive chunks of one stream joined (a kernel may flush the same text in other pieces)."""
    plain = []
    for output in json.loads(json.dumps(outputs)):
        output.pop("execution_count", None)
        if output.get("output_type") == "stream":
            text = "".join(output["text"]) if isinstance(output["text"], list) else output["text"]
            previous = plain[-1] if plain else {}
            if previous.get("output_type") == "stream" and previous["name"] == output["name"]:
                previous["text"] += text
                continue
            output["text"] = text
        plain.append(output)
    return json.dumps(plain, sort_keys=True)


def merge(source, executed: dict) -> nbformat.NotebookNode:
    """The source with the outputs of the executed derived notebooks (framework -> notebook).

    Framework cells take their own run's outputs. A shared code cell whose outputs agree in
    every run keeps one copy of them; otherwise it becomes one copy per framework, tagged for
    it and marked ``godeep.shared`` with the cell's id (the book shows them as tabs).
    """
    by_id = {fw: {c.id: c for c in nb.cells} for fw, nb in executed.items()}
    merged = copy.deepcopy(source)
    cells = []
    for cell in collapse(source):
        framework = cell_framework(cell)
        if cell.cell_type != "code":
            cells.append(cell)
        elif framework is not None:
            ran = by_id[framework][cell.id]
            cell.outputs, cell.execution_count = ran.outputs, ran.execution_count
            cells.append(cell)
        else:
            runs = {fw: by_id[fw][cell.id] for fw in TAGS}
            if len({_comparable(r.outputs) for r in runs.values()}) == 1:
                first = next(iter(runs.values()))
                cell.outputs, cell.execution_count = first.outputs, first.execution_count
                cells.append(cell)
                continue
            for fw, ran in runs.items():
                twin = copy.deepcopy(cell)
                twin.id = f"{cell.id}-{fw}"
                twin.metadata.setdefault("godeep", {})["shared"] = cell.id
                twin.metadata["tags"] = [*cell.metadata.get("tags", []), TAGS[fw]]
                twin.outputs, twin.execution_count = ran.outputs, ran.execution_count
                figure = twin.metadata.get("mystnb", {}).get("figure", {})
                if figure.get("name") and fw != next(iter(TAGS)):
                    figure["name"] = f"{figure['name']}-{fw}"  # one label per figure on the page
                cells.append(twin)
    merged.cells = cells
    return merged


# --------------------------------------------------------------------------- kernels


def kernel_env(framework: str | None, base: dict | None = None) -> dict:
    """Environment for a kernel that may import `framework` only (None: no blocker)."""
    env = dict(os.environ if base is None else base)
    env.pop(BLOCK_ENV, None)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(BLOCKER_DIR)]
    if framework is not None:
        env[BLOCK_ENV] = ",".join(BLOCKED[framework])
        parts.insert(0, str(BLOCKER_DIR))
    if parts:
        env["PYTHONPATH"] = os.pathsep.join(parts)
    else:
        env.pop("PYTHONPATH", None)
    return env


# --------------------------------------------------------------------------- neutrality


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _top_level_imports(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    """Modules imported by statements run at import time (not inside functions or classes)."""
    found: set[str] = set()
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                stack += getattr(node, field, [])
        elif isinstance(node, ast.ExceptHandler):
            stack += node.body
    return found


@lru_cache(maxsize=1)
def framework_modules() -> frozenset[str]:
    """The godeep modules that import a framework when imported, derived from the package:
    a module whose import-time statements import torch/tensorflow/keras, or such a godeep
    module, is framework-specific; the others (godeep.core, godeep.plots, ...) are neutral."""
    imports = {}
    for path in PACKAGE.rglob("*.py"):
        module = _module_of(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imports[module] = _top_level_imports(tree, module, path.name == "__init__.py")
    specific = {
        m
        for m, found in imports.items()
        if any(i.split(".")[0] in FRAMEWORK_MODULES for i in found)
    }
    changed = True
    while changed:
        changed = False
        for module, found in imports.items():
            if module not in specific and found & specific:
                specific.add(module)
                changed = True
    return frozenset(specific)


MAGIC = re.compile(r"^([ \t]*)[%!].*$", re.MULTILINE)  # IPython magics and shell lines


def _uses_framework_module(name: str) -> bool:
    return (
        name.split(".")[0] in FRAMEWORK_MODULES
        or name in framework_modules()
        or any(name.startswith(m + ".") for m in framework_modules())
    )


def framework_uses(source: str, framework_bound: set[str] = frozenset()) -> list[str]:
    """What in one cell's code uses a framework: imports of torch/tensorflow/keras or of a
    framework-specific godeep module, and names that stand for one (``torch``, ``tf``,
    ``keras``, ... and `framework_bound`: names imported by the notebook's framework cells)."""
    try:
        tree = ast.parse(MAGIC.sub(r"\1pass", source))
    except SyntaxError as error:
        return [f"does not parse: {error.msg}"]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if _uses_framework_module(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            bad = [n for n in names if _uses_framework_module(n)]
            if bad:
                found.append(f"from {node.module} import {', '.join(a.name for a in node.names)}")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in FRAMEWORK_NAMES or node.id in framework_bound:
                found.append(f"name {node.id!r}")
    return sorted(set(found), key=found.index)


def imported_names(source: str) -> set[str]:
    """Names bound by the import statements of a cell."""
    try:
        tree = ast.parse(MAGIC.sub(r"\1pass", source))
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


# --------------------------------------------------------------------------- check


def _inputs(nb) -> str:
    """A notebook's cells without outputs or execution counts, as JSON (for comparisons)."""
    cells = [_clear(copy.deepcopy(c)) for c in nb.cells]
    return json.dumps(cells, sort_keys=True)


def stale(derived, source, framework: str, name: str) -> bool:
    """Whether a derived notebook's cells (outputs aside) are not those `split` makes now."""
    return _inputs(derived) != _inputs(split(source, framework, name))


def problems(path: Path, source, read, normalize) -> list[str]:
    """What is wrong with a split source notebook (`read` reads a notebook from a path,
    `normalize` normalizes one in place as execute does)."""
    found = []
    groups: dict[str, set[str]] = {}
    for cell in source.cells:
        shared = godeep_meta(cell).get("shared")
        if shared is not None:
            groups.setdefault(shared, set()).add(cell.source)
    found += [
        f"copies of shared cell {key} have different code (edit both, or re-execute)"
        for key, sources in groups.items()
        if len(sources) > 1
    ]
    cells = collapse(source)
    bound = set()
    for cell in cells:
        if cell.cell_type == "code" and cell_framework(cell) is not None:
            bound |= imported_names(cell.source)
    neutral = set()
    for cell in cells:
        if cell.cell_type != "code" or cell_framework(cell) is not None:
            continue
        neutral |= imported_names(cell.source)
        uses = framework_uses(cell.source, bound - neutral)
        if uses:
            found.append(
                f"shared cell {cell.id} uses a framework: {'; '.join(uses)} "
                "(tag it, or compute framework-neutral results in the framework cells above)"
            )
    executed = {}
    for framework in TAGS:
        derived = derived_path(path, framework)
        if not derived.exists():
            found.append(f"{derived.name} is missing (run execute)")
            continue
        executed[framework] = read(derived)
        if stale(executed[framework], source, framework, path.name):
            found.append(f"{derived.name} is stale: its cells are not the source's (run execute)")
    if len(executed) == len(TAGS) and not found:
        merged = normalize(merge(source, executed))
        if json.dumps(merged.cells, sort_keys=True) != json.dumps(source.cells, sort_keys=True):
            found.append("stored outputs are not the merge of the derived notebooks' (run execute)")
    return found
