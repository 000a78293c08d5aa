"""With CI=true a skipped parity, book, browser or workflow suite fails the run (root conftest.py).

Runs pytest on a copy of the root conftest.py in a throwaway project whose files skip the way
the real ones do: a module-level importorskip (the parity tests without TensorFlow), a
skipif mark (the browser tests without Chromium), an importorskip inside a test of any file
(a Keras twin test without TensorFlow), and a plain skip in a file that may skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FILES = {
    "tests/test_parity_fake.py": 'import pytest\npytest.importorskip("no_such_framework")\n\ndef test_x():\n    pass\n',
    "tests/test_browser.py": (
        'import pytest\n\n@pytest.mark.skipif(True, reason="no Chromium")\ndef test_page():\n    '
        "pass\n"
    ),
    "tests/test_other.py": 'import pytest\n\ndef test_optional():\n    pytest.skip("optional here")\n\n'
    '@pytest.mark.xfail(reason="known")\ndef test_known():\n    assert False\n\n'
    'def test_twin():\n    pytest.importorskip("no_such_twin")\n',
}


def run(project: Path, ci: str | None, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith("PYTEST_")}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-rfEs",
            *args,
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def project(tmp_path):
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    shutil.copy(ROOT / "pytest.ini", tmp_path / "pytest.ini")
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_outside_ci_skips_are_skips(project):
    result = run(project, None)
    assert result.returncode == 0, result.stdout
    assert "4 skipped, 1 xfailed" in result.stdout, result.stdout


@pytest.mark.parametrize("value", ["true", "1"])
def test_in_ci_a_strict_suite_that_skips_fails(project, value):
    stopped = run(project, value)  # a parity module that skips is a collection error: the run stops
    assert stopped.returncode == 2 and "ERROR tests/test_parity_fake.py" in stopped.stdout, (
        stopped.stdout
    )
    result = run(project, value, "--continue-on-collection-errors")
    assert result.returncode == 1, result.stdout
    out = result.stdout
    assert "1 failed, 1 skipped, 1 xfailed, 2 errors" in out, (
        out
    )  # skips at collection, set-up: errors
    assert "FAILED tests/test_other.py::test_twin" in out, out  # an importorskip anywhere
    assert "skipped in CI, where this suite must run (CI=true)" in out, out
    assert "no_such_framework" in out and "no Chromium" in out, out
