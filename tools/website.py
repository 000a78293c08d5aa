#!/usr/bin/env python3
"""The built book as a reader sees it: serve _build/html on localhost, open it in Chromium.

Shared by tests/test_browser.py and tools/screenshots.py (named so as not to shadow the
standard library's `site`). The browser is Debian's
`chromium` (/usr/bin/chromium, or $GODEEP_CHROMIUM) driven by Playwright's Python API with
`executable_path`, so Playwright never downloads a browser of its own.

    python -m tools.website [_build/html]     # serve the book on http://127.0.0.1:8000/
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHROMIUM = "/usr/bin/chromium"


def chromium_path() -> str | None:
    """Path of the Chromium executable to drive, or None when there is none."""
    wanted = os.environ.get("GODEEP_CHROMIUM", DEFAULT_CHROMIUM)
    if Path(wanted).is_file() and os.access(wanted, os.X_OK):
        return wanted
    return shutil.which("chromium") or shutil.which("chromium-browser")


def why_no_browser() -> str | None:
    """A sentence saying why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install -r requirements.txt)"
    if chromium_path() is None:
        return (
            "no Chromium found at /usr/bin/chromium (install Debian's: apt-get install -y chromium, "
            "or set GODEEP_CHROMIUM)"
        )
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        pass


@contextlib.contextmanager
def serve(html: Path, port: int = 0) -> Iterator[str]:
    """Serve the folder ``html`` on 127.0.0.1 in a thread; yield its base URL (ending in /)."""
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def browser() -> Iterator[object]:
    """A headless Chromium (Playwright ``Browser``)."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        raise RuntimeError(why_no_browser())
    with sync_playwright() as p:
        # --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
        instance = p.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        try:
            yield instance
        finally:
            instance.close()


def config() -> dict:
    """The book's _config.yml."""
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def toc_files() -> list[str]:
    """Every page of _toc.yml, in reading order, as paths without suffix (e.g. 'preface')."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def chapter_first_pages() -> list[str]:
    """The first page (intro) of every chapter in _toc.yml's main part(s), without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [
        entry["file"]
        for part in toc.get("parts", [])
        for entry in part.get("chapters", [])
        if entry["file"].startswith("chapters/")
    ]


def source_suffix(page: str) -> str:
    """'.ipynb' or '.md': the suffix of a page's source file."""
    for suffix in (".ipynb", ".md"):
        if (ROOT / f"{page}{suffix}").exists():
            return suffix
    raise FileNotFoundError(f"no source for page {page}")


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "_build" / "html")
    with serve(folder, port=8000) as url:
        print(f"serving {folder} on {url} (Ctrl-C stops)")
        threading.Event().wait()
