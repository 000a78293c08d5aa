"""Shared test set-up: quiet progress bars, static explore() figures, deterministic seeds, TensorFlow loaded lazily."""

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
        [str(JUPYTER_BOOK), "build", str(ROOT), "-W", "-n", "--keep-going", "--path-output", str(out)],
        capture_output=True, text=True, timeout=900,
    )
    return result, out / "_build" / "html"


def pytest_configure(config):
    # registered here too, so the mark is known when pytest-xdist is not loaded (-p no:xdist)
    config.addinivalue_line("markers", "xdist_group(name): run the marked tests on one pytest-xdist worker")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Keep each file's tests on one pytest-xdist worker (`make test` runs `-n 2 --dist loadgroup`).

    A notebook's cells share one kernel and must run in order on one worker, so every test
    is grouped by its file; tests/test_book.py and tests/test_browser.py share the group
    "book" (set in those files), so the `built_book` fixture builds the site once.
    Runs before xdist's own hook, which turns the groups into node-id suffixes.
    """
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
