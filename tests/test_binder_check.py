"""tools/binder_check.sh, the fast parts: its arguments, its modes and its embedded Python.
The full check (a fresh environment from binder/, minutes) is `make binder-check`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "binder_check.sh"


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BINDER_CHECK")} | env
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env=environment)


def heredocs() -> list[str]:
    """The Python programs the script feeds to `python -` (between <<'EOF' and EOF)."""
    return re.findall(r"<<'EOF'[^\n]*\n(.*?)\nEOF\n", SCRIPT.read_text(), flags=re.S)


def test_embedded_python_compiles():
    programs = heredocs()
    assert len(programs) == 4, "expected the environment, server, executed-notebook and kernel checks"
    for program in programs:
        compile(program, str(SCRIPT), "exec")


@pytest.mark.parametrize("args", [("README.md",), ("chapters/no-such.ipynb",),
                                  ("chapters/01-signal-propagation/01-chain-rule.ipynb", "extra")])
def test_refuses_bad_arguments(args):
    result = run(*args)
    assert result.returncode == 2 and "usage:" in result.stderr, result.stderr


def test_refuses_an_unknown_mode():
    result = run(BINDER_CHECK_WITH="docker")
    assert result.returncode == 2 and "venv, repo2docker or current" in result.stderr, result.stderr


@pytest.mark.skipif(shutil.which("jupyter-repo2docker") is not None,
                    reason="repo2docker is installed: the opt-in path would build an image")
def test_repo2docker_is_opt_in_and_says_what_is_missing():
    result = run(BINDER_CHECK_WITH="repo2docker")
    assert result.returncode == 1 and "jupyter-repo2docker is not installed" in result.stderr, result.stderr


def test_make_target_and_script_default_to_an_existing_notebook():
    default = re.search(r"NOTEBOOK=\$\{1:-([^}]+)\}", SCRIPT.read_text()).group(1)
    make_default = re.search(r"^BINDER_NB \?= (\S+)", (ROOT / "Makefile").read_text(), flags=re.M).group(1)
    assert default == make_default and (ROOT / default).is_file()


def test_no_hand_rolled_kernel_protocol():
    """The check leaves the kernel protocol to Jupyter's tools (issue 15, section 4)."""
    assert not (ROOT / "tools" / "run_via_server.py").exists()
    assert not re.search(r"websocket|/channels|execute_request", SCRIPT.read_text())
