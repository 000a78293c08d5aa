"""Tests of tools/nb.py on tiny notebooks made in tmp_path (three kernel starts, a few seconds)."""

import os
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
    monkeypatch.setenv("GODEEP_PROGRESS", "1")  # the kernel gets 0 whatever the caller's environment
    monkeypatch.setenv("GODEEP_INTERACTIVE", "1")
    path = stale_notebook(
        tmp_path / "a.ipynb",
        v4.new_markdown_cell("# A"),
        code("import os\nprint(os.environ['GODEEP_PROGRESS'], os.environ['GODEEP_INTERACTIVE'], os.getcwd())", count=7,
             execution={"iopub.status.busy": "2024-01-01T00:00:00Z"}),
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
        code("w", count=4, outputs=[v4.new_output("display_data", {WIDGET: widget, "text/plain": "W"})]),
        code("", count=None),
        code("v", count=9, outputs=[v4.new_output("display_data", {WIDGET: widget})],
             ExecuteTime={"end_time": "now"}),
        code("1", count=12, outputs=[v4.new_output("execute_result", {"text/plain": "1"}, execution_count=12)]),
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
    assert "| notebook | wall s | kernel CPU s | peak MB | within budget |" in table
    row = next(line for line in table.splitlines() if "p.ipynb" in line)
    _, name, wall, cpu, peak, ok, _ = (part.strip() for part in row.split("|"))
    assert float(wall) > 0 and float(cpu) > 0 and float(peak) > 64 and ok == "yes"
    assert path.read_bytes() == before
