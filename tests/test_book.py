"""The book builds with zero warnings (Sphinx -W -n, nitpicky), as `make book` builds it."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) is None, reason="jupyter-book is not installed in this environment")
def test_book_builds_without_warnings(tmp_path):
    exe = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(exe), "build", str(ROOT), "-W", "-n", "--keep-going", "--path-output", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    html = tmp_path / "_build" / "html"
    for page in ("index.html", "preface.html", "references.html", "chapters/01-signal-propagation/02-watching-signals.html"):
        assert (html / page).exists(), page
    text = (html / "chapters/01-signal-propagation/02-watching-signals.html").read_text()
    assert "<img" in text  # figures made it into the page
