#!/usr/bin/env python3
"""Screenshots of the built book in light and dark mode (`make screenshots`).

    python -m tools.screenshots [_build/html] [_build/screenshots]   # from the repository root

Takes the preface, the "Setting up" page, the first page of every chapter in _toc.yml, and the
first notebook page with framework tabs after choosing TensorFlow (scrolled to the tabs), and the
last page made from a split source notebook (tools/frameworks.py) as a TensorFlow reader sees it
(scrolled to its first figure), each in light and dark mode, as 1280x900 PNGs named
<page>-<mode>.png. Uses the same server and Chromium as the browser tests (tools/website.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tools import frameworks, website

MODES = ("light", "dark")
VIEWPORT = {"width": 1280, "height": 900}


def settle(page) -> None:
    """Wait for the page, its fonts and (if any) its maths to be ready."""
    page.wait_for_load_state("networkidle")
    page.evaluate("document.fonts.ready")
    if page.evaluate("!!(window.MathJax && MathJax.startup && MathJax.startup.promise)"):
        page.evaluate("MathJax.startup.promise")


def split_pages() -> list[str]:
    """The book's pages made from a split source notebook, in _toc.yml order."""
    root = Path(__file__).resolve().parent.parent
    return [
        name
        for name in website.toc_files()
        if website.source_suffix(name) == ".ipynb"
        and frameworks.is_split(json.loads((root / f"{name}.ipynb").read_text(encoding="utf-8")))
    ]


def _local_only(host: str):
    """A route handler (one argument, the route) that lets requests to ``host`` through and
    aborts the others."""
    return lambda r: r.continue_() if r.request.url.split("/")[2] == host else r.abort()


def shoot(chromium, base: str, out: Path) -> list[Path]:
    pages = [website.toc_files()[0]]
    pages += [p for p in website.toc_files() if p == "setting-up"]
    pages += website.chapter_first_pages()
    saved = []
    for mode in MODES:
        context = chromium.new_context(viewport=VIEWPORT, color_scheme=mode)
        # pydata-sphinx-theme reads the mode from localStorage before drawing the page
        context.add_init_script(
            f"localStorage.setItem('mode', '{mode}'); localStorage.setItem('theme', '{mode}');"
        )
        page = context.new_page()
        host = base.split("/")[2]
        # offline, like the browser tests: only the local server answers
        page.route("**/*", _local_only(host))
        for name in pages:
            page.goto(f"{base}{name}.html")
            settle(page)
            saved.append(out / f"{name.replace('/', '__')}-{mode}.png")
            page.screenshot(path=str(saved[-1]))
        for name in website.toc_files():
            if not name.startswith("chapters/") or website.source_suffix(name) != ".ipynb":
                continue
            page.goto(f"{base}{name}.html")
            settle(page)
            label = page.locator('label.sd-tab-label[data-sync-id="tensorflow"]')
            if not label.count():
                continue
            label.first.scroll_into_view_if_needed()
            label.first.click()
            page.evaluate("window.scrollBy(0, -120)")  # keep the heading above the tabs in view
            saved.append(out / f"{name.replace('/', '__')}-tensorflow-tabs-{mode}.png")
            page.screenshot(path=str(saved[-1]))
            break
        converted = split_pages()
        if converted:
            name = converted[-1]
            page.evaluate("localStorage.setItem('sphinx-design-tab-id-framework', 'tensorflow')")
            page.goto(f"{base}{name}.html")
            settle(page)
            figure = page.locator(".cell_output img:visible").first  # the TensorFlow tab's
            if figure.count():
                figure.scroll_into_view_if_needed()
                page.evaluate("window.scrollBy(0, -200)")
            saved.append(out / f"{name.replace('/', '__')}-tensorflow-split-{mode}.png")
            page.screenshot(path=str(saved[-1]))
        context.close()
    return saved


def main(argv: list[str]) -> int:
    html = Path(argv[0] if argv else "_build/html")
    out = Path(argv[1] if len(argv) > 1 else "_build/screenshots")
    if not (html / "index.html").exists():
        print(f"screenshots: no built book at {html} (run `make book` first)")
        return 1
    reason = website.why_no_browser()
    if reason:
        print(f"screenshots: {reason}")
        return 1
    out.mkdir(parents=True, exist_ok=True)
    with website.serve(html) as base, website.browser() as chromium:
        for path in shoot(chromium, base, out):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
