"""Tests of tools/nb.py on tiny notebooks made in tmp_path (three kernel starts, a few seconds)."""

from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from tools import nb as nb_tool

ROOT = Path(__file__).resolve().parents[1]

WIDGET = "application/vnd.jupyter.widget-view+json"


def make(path: Path, *cells, **metadata) -> Path:
    """Write a notebook with the given cells and notebook metadata; return its path."""
    nb = v4.new_notebook(cells=list(cells), metadata=metadata)
    nbformat.write(nb, path)
    return path


def stale_notebook(path: Path, *cells) -> Path:
    """A notebook carrying everything that normalize must strip or fix."""
    return make(
        path,
        *cells,
        kernelspec={"display_name": "my-env", "language": "python", "name": "python3"},
        language_info={"name": "python", "version": "3.11.7", "pygments_lexer": "ipython3"},
        widgets={"application/vnd.jupyter.widget-state+json": {"state": {}}},
    )


def code(source, count=None, outputs=(), **metadata):
    cell = v4.new_code_cell(source, execution_count=count, metadata=metadata)
    cell.outputs = list(outputs)
    return cell


def test_execute_runs_in_folder_and_normalizes(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "GODEEP_PROGRESS", "1"
    )  # the kernel gets 0 whatever the caller's environment
    monkeypatch.setenv("GODEEP_INTERACTIVE", "1")
    path = stale_notebook(
        tmp_path / "a.ipynb",
        v4.new_markdown_cell("# A"),
        code(
            "import os\nprint(os.environ['GODEEP_PROGRESS'], os.environ['GODEEP_INTERACTIVE'], os.getcwd())",
            count=7,
            execution={"iopub.status.busy": "2024-01-01T00:00:00Z"},
        ),
        code("21 * 2", count=3),
        code("1 / 0", tags=["raises-exception"]),
    )
    assert nb_tool.main(["execute", str(path)]) == 0
    nb = nbformat.read(path, as_version=4)
    colab, *cells = [c for c in nb.cells if c.cell_type == "code"]
    assert nb.cells[0] is colab and colab.id == nb_tool.COLAB_CELL_ID and colab.outputs == []
    assert [c.execution_count for c in [colab, *cells]] == [1, 2, 3, 4]
    assert cells[0].outputs[0].text == f"0 0 {tmp_path.resolve()}\n"
    assert cells[1].outputs[0].data["text/plain"] == "42"
    assert cells[1].outputs[0].execution_count == 3
    assert cells[2].outputs[0].ename == "ZeroDivisionError"
    assert nb.metadata.kernelspec == nb_tool.KERNELSPEC
    assert nb.metadata.language_info == nb_tool.LANGUAGE_INFO
    assert "widgets" not in nb.metadata
    assert all("execution" not in c.metadata for c in nb.cells)
    text = path.read_text()
    assert text.endswith("}\n") and text.startswith('{\n "cells": [\n  {\n')
    # normalize after execute changes nothing, and check finds nothing
    assert nb_tool.main(["normalize", str(path)]) == 0
    assert path.read_text() == text
    assert nb_tool.main(["check", str(path)]) == 0


def test_execute_failure_names_cell_and_leaves_file_untouched(tmp_path, capsys):
    path = make(tmp_path / "bad.ipynb", code("x = 1"), v4.new_markdown_cell("m"), code("1 / 0"))
    before = path.read_bytes()
    assert nb_tool.main(["execute", str(path)]) == 1
    assert f"{path}: cell 3 failed" in capsys.readouterr().err  # counting the Colab cell put first
    assert path.read_bytes() == before


def test_normalize_strips_volatile_parts_and_is_idempotent(tmp_path):
    widget = {"model_id": "abc", "version_major": 2, "version_minor": 0}
    path = stale_notebook(
        tmp_path / "w.ipynb",
        code(
            "w",
            count=4,
            outputs=[v4.new_output("display_data", {WIDGET: widget, "text/plain": "W"})],
        ),
        code("", count=None),
        code(
            "v",
            count=9,
            outputs=[v4.new_output("display_data", {WIDGET: widget})],
            ExecuteTime={"end_time": "now"},
        ),
        code(
            "1",
            count=12,
            outputs=[v4.new_output("execute_result", {"text/plain": "1"}, execution_count=12)],
        ),
    )
    ids = [c.id for c in nbformat.read(path, as_version=4).cells]
    assert nb_tool.main(["normalize", str(path)]) == 0
    nb = nbformat.read(path, as_version=4)
    assert [c.id for c in nb.cells] == ids
    assert [c.execution_count for c in nb.cells] == [1, None, 2, 3]
    assert nb.cells[0].outputs[0].data == {"text/plain": "W"}
    assert nb.cells[2].outputs == [] and nb.cells[2].metadata == {}
    assert nb.cells[3].outputs[0].execution_count == 3
    assert "widgets" not in nb.metadata and "version" not in nb.metadata.language_info
    once = path.read_text()
    assert nb_tool.main(["normalize", str(path)]) == 0
    assert path.read_text() == once


def test_missing_cell_ids_become_deterministic(tmp_path):
    path = make(tmp_path / "n.ipynb", code("1", count=1))
    raw = path.read_text()
    path.write_text(raw.replace(f'"id": "{nbformat.read(path, 4).cells[0].id}",', ""))
    nb_tool.main(["normalize", str(path)])
    assert nbformat.read(path, 4).cells[0].id == "cell-0"


def test_check_flags_each_problem(tmp_path, capsys):
    stale_notebook(
        tmp_path / "c.ipynb",
        code("a = 1", count=2, execution={"iopub.status.idle": "2024-01-01T00:00:00Z"}),
        code("b = 2"),
        code("plt.plot(x);", count=5),
        code("w", count=6, outputs=[v4.new_output("display_data", {WIDGET: {}})]),
    )
    make(tmp_path / "big.ipynb", v4.new_markdown_cell("x" * 3_100_000))
    assert nb_tool.main(["check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    for problem in [
        "big.ipynb: file is 3.1 MB",
        "widget state",
        "kernelspec is not the canonical one",
        "language_info is not the canonical one",
        "cell 0: volatile metadata ['execution']",
        "cell 0: execution count 2, expected 1",
        "cell 1: code cell not executed",
        "cell 2: execution count 5, expected 3",
        "cell 2: plot cell ends with ';'",
        "cell 3: widget output",
        "the first cell is not the current Colab set-up cell",
    ]:
        assert problem in out, problem


def test_colab_cell_comes_first_once_with_the_configured_url(tmp_path):
    url = nb_tool.repository_url()
    assert url.startswith("https://github.com/")
    source = nb_tool.colab_cell_source()
    assert f'"godeep @ git+{url}#subdirectory=code"' in source
    assert 'if "google.colab" in sys.modules:' in source
    stale = v4.new_code_cell("print('old url')", metadata={"tags": ["remove-cell"]})
    stale.id = nb_tool.COLAB_CELL_ID
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# T"), stale, code("x = 1")])
    once = nb_tool.ensure_colab_cell(nb)
    assert [c.id for c in once.cells].count(nb_tool.COLAB_CELL_ID) == 1
    assert once.cells[0].source == source and once.cells[0].metadata.tags == ["remove-cell"]
    assert [c.source for c in once.cells[1:]] == ["# T", "x = 1"]
    twice = nb_tool.ensure_colab_cell(once)
    assert [c.source for c in twice.cells] == [source, "# T", "x = 1"]


def test_folders_skip_checkpoints_and_build(tmp_path):
    for sub in ["ch", "ch/.ipynb_checkpoints", "_build/ch"]:
        (tmp_path / sub).mkdir(parents=True)
        make(tmp_path / sub / "x.ipynb")
    assert nb_tool.find_notebooks([str(tmp_path)]) == [tmp_path / "ch" / "x.ipynb"]


def test_profile_writes_table_with_positive_peak(tmp_path, capsys):
    path = make(tmp_path / "p.ipynb", code("block = bytearray(64 * 2**20)\nlen(block)"))
    before = path.read_bytes()
    report = tmp_path / "out" / "profile.md"
    assert nb_tool.main(["profile", str(path), "--report", str(report)]) == 0
    table = report.read_text()
    assert table in capsys.readouterr().out
    assert "| notebook | framework | wall s | kernel CPU s | peak MB | within budget |" in table
    row = next(line for line in table.splitlines() if "p.ipynb" in line)
    _, name, framework, wall, cpu, peak, ok, _ = (part.strip() for part in row.split("|"))
    assert framework == "both"
    assert float(wall) > 0 and float(cpu) > 0 and float(peak) > 64 and ok == "yes"
    assert path.read_bytes() == before


def test_an_interrupted_profile_keeps_the_rows_it_measured(tmp_path, monkeypatch):
    first = make(tmp_path / "a.ipynb", code("1"))
    second = make(tmp_path / "b.ipynb", code("2"))
    report = tmp_path / "profile.md"
    real = nb_tool.profile_one

    def profile_one(path, **kwargs):
        if Path(path).name == second.name:
            raise KeyboardInterrupt  # the run is stopped during the second notebook
        return real(path, **kwargs)

    monkeypatch.setattr(nb_tool, "profile_one", profile_one)
    with pytest.raises(KeyboardInterrupt):
        nb_tool.main(["profile", str(first), str(second), "--report", str(report)])
    table = report.read_text()
    assert "a.ipynb" in table and "b.ipynb" not in table


def test_a_profile_with_two_jobs_keeps_the_notebooks_order(tmp_path):
    paths = [make(tmp_path / f"{name}.ipynb", code(f"{i}")) for i, name in enumerate("cab")]
    report = tmp_path / "profile.md"
    assert nb_tool.main(["profile", *map(str, paths), "--report", str(report), "--jobs", "2"]) == 0
    table = report.read_text()
    rows = [line for line in table.splitlines() if ".ipynb" in line]
    assert [row.split("|")[1].strip().rsplit("/", 1)[-1] for row in rows] == [
        "c.ipynb",
        "a.ipynb",
        "b.ipynb",
    ]
    assert all(float(row.split("|")[3]) > 0 for row in rows)
    assert "(2 notebooks at a time)" in table


# --------------------------------------------------------------------------- split notebooks

from tools import frameworks  # noqa: E402

PT, TF = ["framework-pytorch"], ["framework-tensorflow"]
#: which framework a kernel can import, without loading either (the import is refused first)
PROBE = (
    "def importable(name):\n"
    "    try:\n"
    "        __import__(name)\n"
    "    except ModuleNotFoundError:\n"
    "        return False\n"
    "    return True\n"
)


def split_source(path: Path, *cells) -> Path:
    return make(path, *cells, godeep={"split": True})


def probe_source(path: Path) -> Path:
    """A split source: each framework cell asks whether the *other* framework is importable;
    a shared cell prints a per-framework value (outputs differ), another a constant."""
    shared_diff, shared_same = code("print(name)"), code("print(6 * 7)")
    shared_diff.id, shared_same.id = "diff", "same"
    return split_source(
        path,
        v4.new_markdown_cell("# Probe"),
        code(PROBE),
        code('name = "pt"\nprint(importable("tensorflow"), importable("keras"))', tags=PT),
        code('name = "tf"\nprint(importable("torch"))', tags=TF),
        shared_diff,
        shared_same,
    )


def test_split_keeps_own_and_shared_cells_in_order():
    source = v4.new_notebook(
        cells=[v4.new_markdown_cell("m"), code("a", tags=PT), code("b", tags=TF), code("c")]
    )
    pt, tf = (frameworks.split(source, fw, "s.ipynb") for fw in ("pytorch", "tensorflow"))
    assert [c.source for c in pt.cells] == ["m", "a", "c"] and [c.source for c in tf.cells] == [
        "m",
        "b",
        "c",
    ]
    assert pt.metadata.godeep == {"framework": "pytorch", "source": "s.ipynb"}
    with pytest.raises(ValueError, match="unknown framework"):
        frameworks.split(source, "jax", "s.ipynb")


def test_execute_runs_each_framework_alone_and_merges(tmp_path):
    path = probe_source(tmp_path / "s.ipynb")
    assert nb_tool.main(["execute", str(path)]) == 0
    pt = nbformat.read(tmp_path / "s.pytorch.ipynb", as_version=4)
    tf = nbformat.read(tmp_path / "s.tensorflow.ipynb", as_version=4)
    # the other framework cannot be imported in each kernel (proven, not hoped)
    assert pt.cells[3].outputs[0].text == "False False\n"
    assert tf.cells[3].outputs[0].text == "False\n"
    assert [c.source for c in tf.cells].count('name = "tf"\nprint(importable("torch"))') == 1
    assert not any('name = "pt"' in c.source for c in tf.cells)
    merged = nbformat.read(path, as_version=4)
    ids = [c.id for c in merged.cells]
    # the shared cell whose outputs differ is stored twice, tagged; the other once
    assert ids[-3:] == ["diff-pytorch", "diff-tensorflow", "same"]
    assert merged.cells[-3].metadata.tags == PT and merged.cells[-3].outputs[0].text == "pt\n"
    assert merged.cells[-2].metadata.tags == TF and merged.cells[-2].outputs[0].text == "tf\n"
    assert merged.cells[-3].metadata.godeep == {"shared": "diff"}
    assert merged.cells[-1].outputs[0].text == "42\n"
    # the merged source splits back into the derived notebooks' cells
    again = frameworks.split(merged, "tensorflow", "s.ipynb")
    assert [(c.id, c.source) for c in again.cells] == [(c.id, c.source) for c in tf.cells]
    assert nb_tool.main(["check", str(tmp_path)]) == 0
    # execute is idempotent on a merged source
    before = path.read_text()
    assert nb_tool.main(["execute", str(tmp_path / "s.tensorflow.ipynb")]) == 0
    assert path.read_text() == before


def test_check_fails_when_derived_notebooks_are_stale_or_missing(tmp_path, capsys):
    path = probe_source(tmp_path / "s.ipynb")
    assert nb_tool.main(["execute", str(path)]) == 0
    capsys.readouterr()
    nb = nbformat.read(path, as_version=4)
    nb.cells[-1].source = "print(6 * 8)"  # edited, not re-executed
    nbformat.write(nb, path)
    assert nb_tool.main(["check", str(path)]) == 1
    assert "s.pytorch.ipynb is stale" in capsys.readouterr().out
    nb.cells[-1].source = "print(6 * 7)"
    nb.cells[-1].outputs[0].text = "43\n"  # outputs not those of the runs
    nbformat.write(nb, path)
    assert nb_tool.main(["check", str(path)]) == 1
    assert "not the merge of the derived notebooks" in capsys.readouterr().out
    nb.cells[-3].source = "print(name, 1)"  # one copy of a shared cell edited
    nbformat.write(nb, path)
    assert nb_tool.main(["check", str(path)]) == 1
    assert "copies of shared cell diff have different code" in capsys.readouterr().out
    (tmp_path / "s.tensorflow.ipynb").unlink()
    assert nb_tool.main(["check", str(path)]) == 1
    assert "s.tensorflow.ipynb is missing" in capsys.readouterr().out


@pytest.mark.parametrize(
    "source, found",
    [
        ("import torch", ["import torch"]),
        ("import tensorflow as tf2", ["import tensorflow"]),
        ("y = tf.constant(1)", ["name 'tf'"]),
        ("model = keras.Sequential([])", ["name 'keras'"]),
        ("from godeep import models", ["from godeep import models"]),
        ("from godeep.keras import signals", ["from godeep.keras import signals"]),
        ("import godeep.residual.blocks", ["import godeep.residual.blocks"]),
        ("report = ksignals.record(m, x)", ["name 'ksignals'"]),  # bound by a framework cell
        ("%pip install foo\nimport numpy as np\nfrom godeep import plots, core, validate", []),
        ("from godeep.core import models as neutral\nprint(np.mean(x))", []),
    ],
)
def test_framework_uses_flags_frameworks_in_shared_code(source, found):
    assert frameworks.framework_uses(source, {"ksignals"}) == found


def test_framework_modules_are_derived_from_the_package():
    specific = frameworks.framework_modules()
    assert {
        "godeep.models",
        "godeep.norms",
        "godeep.keras",
        "godeep.keras.train",
        "godeep.residual",
    } <= specific
    assert (
        not {
            "godeep",
            "godeep.core",
            "godeep.core.models",
            "godeep.plots",
            "godeep.validate",
            "godeep.data",
        }
        & specific
    )


def test_check_flags_a_shared_cell_that_uses_a_framework(tmp_path, capsys):
    path = split_source(
        tmp_path / "s.ipynb",
        code("from godeep import signals", tags=PT),
        code("from godeep.keras import signals", tags=TF),
        code("signals.diagnose(r)"),
    )
    nb_tool.main(["split", str(path)])
    assert nb_tool.main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "uses a framework: name 'signals'" in out


def test_profile_of_a_split_source_has_one_row_per_framework(tmp_path):
    path = probe_source(tmp_path / "s.ipynb")
    assert nb_tool.main(["execute", str(path)]) == 0
    report = tmp_path / "profile.md"
    assert nb_tool.main(["profile", str(tmp_path), "--report", str(report)]) == 0
    rows = [line.split("|")[1:3] for line in report.read_text().splitlines() if ".ipynb" in line]
    assert [(n.strip(), f.strip()) for n, f in rows] == [
        (str(tmp_path / "s.pytorch.ipynb"), "pytorch"),
        (str(tmp_path / "s.tensorflow.ipynb"), "tensorflow"),
    ]


def test_merge_gives_each_framework_copy_of_a_figure_its_own_label():
    figure = {"mystnb": {"figure": {"caption": "c", "name": "fig-x"}}}
    shared = code("plot()", **figure)
    shared.id = "fig"
    source = v4.new_notebook(cells=[code("a", tags=PT), code("b", tags=TF), shared])
    source.cells[0].id, source.cells[1].id = "a", "b"
    runs = {}
    for fw in frameworks.TAGS:
        runs[fw] = frameworks.split(source, fw, "s.ipynb")
        for cell in runs[fw].cells:
            cell.execution_count = 1
            cell.outputs = [v4.new_output("stream", name="stdout", text=fw)]
    merged = frameworks.merge(source, runs)
    names = [c.metadata.get("mystnb", {}).get("figure", {}).get("name") for c in merged.cells]
    assert names == [None, None, "fig-x", "fig-x-tensorflow"]
    assert [c.id for c in frameworks.collapse(merged)] == ["a", "b", "fig"]
    assert frameworks.collapse(merged)[2].metadata == shared.metadata


def test_nbval_paths_expand_a_split_source_into_its_derived_notebooks(tmp_path):
    source = "chapters/01-signal-propagation/01-chain-rule.ipynb"
    unsplit = str(tmp_path / "unsplit.ipynb")  # one notebook for both frameworks: kept as it is
    nbformat.write(v4.new_notebook(cells=[v4.new_code_cell("1")]), unsplit)
    assert nb_tool.nbval_paths([source, unsplit, "chapters"]) == [
        "chapters/01-signal-propagation/01-chain-rule.pytorch.ipynb",
        "chapters/01-signal-propagation/01-chain-rule.tensorflow.ipynb",
        unsplit,
        "chapters",
    ]


def test_an_older_colab_cell_is_flagged_and_removed(tmp_path):
    """A Colab set-up cell under another id (a copy left by an older tool) is a problem for
    check, and ensure_colab_cell (run by execute) keeps only the current one, first."""
    import nbformat

    from tools.notebook_files import colab_cell_source, ensure_colab_cell

    nb = ensure_colab_cell(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]))
    old = nbformat.v4.new_code_cell(colab_cell_source(), metadata={"tags": ["remove-cell"]})
    old.id = "cell-0"
    nb.cells.insert(1, old)
    path = tmp_path / "twice.ipynb"
    nbformat.write(nb, path)
    assert any("another Colab set-up cell" in p for p in nb_tool.problems(path))
    cleaned = ensure_colab_cell(nbformat.read(path, 4))
    assert [c.id for c in cleaned.cells[:1]] == ["colab-setup"] and len(cleaned.cells) == 2
