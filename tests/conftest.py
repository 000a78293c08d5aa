"""Shared test set-up: quiet progress bars, static explore() figures, the book built once.

Grouping tests by file on pytest-xdist workers, and the strict skips of CI, are in the
repository's root conftest.py, which every pytest invocation loads.
"""

import os

os.environ.setdefault("GODEEP_PROGRESS", "0")
os.environ.setdefault("GODEEP_INTERACTIVE", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """The book built once per test session, as `make book` builds it (-W -n, into a tmp dir).

    Returns (completed process, path of the html folder). tests/test_book.py checks the build;
    tests/test_browser.py reads the same site in Chromium, so the suite builds the book once.
    """
    if shutil.which("jupyter-book", path=str(JUPYTER_BOOK.parent)) is None:
        pytest.skip("jupyter-book is not installed in this environment")
    out = tmp_path_factory.mktemp("book")
    result = subprocess.run(
        [
            str(JUPYTER_BOOK),
            "build",
            str(ROOT),
            "-W",
            "-n",
            "--keep-going",
            "--path-output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    return result, out / "_build" / "html"
