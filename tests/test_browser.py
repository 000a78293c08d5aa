"""The built site, tested as a reader uses it: headless Chromium on a localhost server.

Every page of _toc.yml loads with no console error, no failed request for a local asset and
no request to any other host (the site works offline); every image loads; maths is typeset
by the locally served MathJax; choosing TensorFlow in one framework tab switches every tab of
the page and of the next page; launch buttons open this very notebook on Binder and Colab
and the download button gives it; the search page finds a chapter by a keyword. On a page
made from a split source (tools/frameworks.py), a reader who picked TensorFlow sees no
PyTorch code, and the launch and download buttons give the TensorFlow notebook.

Playwright's Python API drives Debian's `chromium` through `executable_path` (see
tools/website.py): unlike Selenium it needs no separate chromedriver, and it reports console
messages, page errors and failed requests as events. Without Playwright or Chromium the
tests are skipped with the reason (they never pass silently); `.ci/run` installs Chromium.
The book is the one built by the session fixture `built_book` (tests/conftest.py).
"""

from __future__ import annotations

import io
import json
import re
import tokenize
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tools import frameworks, website

ROOT = Path(__file__).resolve().parents[1]

REASON = website.why_no_browser()
pytestmark = [
    pytest.mark.skipif(REASON is not None, reason=f"browser tests skipped: {REASON}"),
    pytest.mark.xdist_group("book"),
]  # the worker that builds the book for tests/test_book.py

TAB_STORAGE_KEY = "sphinx-design-tab-id-framework"  # sphinx-design's prefix + our sync group
PAGES = website.toc_files()
NOTEBOOK_PAGES = [p for p in PAGES if website.source_suffix(p) == ".ipynb"]
#: pages made from a split source notebook: one derived notebook per framework
SPLIT_PAGES = [
    p for p in NOTEBOOK_PAGES if frameworks.is_split(json.loads((ROOT / f"{p}.ipynb").read_text()))
]


@pytest.fixture(scope="module")
def url(built_book):
    result, html = built_book
    if not (html / "index.html").exists():  # warnings alone are test_book.py's to report
        pytest.fail("the book did not build (see test_book.py):\n" + result.stdout[-2000:])
    with website.serve(html) as base:
        yield base


@pytest.fixture(scope="module")
def chromium():
    with website.browser() as instance:
        yield instance


class Watched:
    """A fresh page (own storage) recording console errors, failed and foreign requests."""

    def __init__(self, chromium, base: str):
        self.base = base
        self.context = chromium.new_context()
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.foreign: list[str] = []
        host = urlparse(base).netloc
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        self.page.on(
            "response", lambda r: r.status >= 400 and self.failed.append(f"{r.url} ({r.status})")
        )

        def route(r):  # no network: anything not from our server is recorded and refused
            if urlparse(r.request.url).netloc == host or r.request.url.startswith("data:"):
                r.continue_()
            else:
                self.foreign.append(r.request.url)
                r.abort()

        self.page.route("**/*", route)

    def goto(self, page: str, query: str = ""):
        self.page.goto(f"{self.base}{page}.html{query}", wait_until="load")
        self.page.wait_for_load_state("networkidle")
        return self.page

    def close(self):
        self.context.close()


@pytest.fixture
def reader(chromium, url):
    watched = Watched(chromium, url)
    yield watched
    watched.close()


def wait_for_mathjax(page) -> int:
    """Wait until MathJax has typeset the page; return the number of typeset formulas."""
    page.wait_for_function(
        "window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20000
    )
    page.evaluate("MathJax.startup.promise")
    return page.evaluate("document.querySelectorAll('mjx-container').length")


@pytest.mark.parametrize("page", PAGES + ["genindex", "search"])
def test_page_loads_cleanly_offline(reader, page):
    p = reader.goto(page)
    assert p.title(), page
    broken = p.evaluate(
        "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )
    math = p.evaluate("document.querySelectorAll('.math').length")
    if math:
        assert wait_for_mathjax(p) >= 1, page
        untypeset = p.evaluate(
            "[...document.querySelectorAll('.math')].filter(m => "
            "!m.querySelector('mjx-container')).map(m => m.textContent)"
        )
        assert untypeset == [], f"maths left as raw TeX: {untypeset[:3]}"
        assert p.evaluate("document.querySelectorAll('mjx-merror').length") == 0, (
            "MathJax reported a TeX error"
        )
    assert reader.errors == [], reader.errors
    assert reader.failed == [], reader.failed
    assert reader.foreign == [], (
        f"requests to other hosts (the site must work offline): {reader.foreign}"
    )
    assert broken == [], broken


def framework_tab_sets(pages, html: Path) -> dict[str, int]:
    """Page -> number of two-framework tab sets in its built HTML, for the pages that have any
    (read from the files: which pages to open in the browser is not what is tested)."""
    from bs4 import BeautifulSoup

    found = {}
    for page in pages:
        soup = BeautifulSoup((html / f"{page}.html").read_text(), "html.parser")
        count = len(soup.select(".godeep-framework-tabs:not(.godeep-framework-only)"))
        if count:
            found[page] = count
    return found


def checked_frameworks(p) -> list[str]:
    """The sync id of the selected tab of every two-framework tab set on the page."""
    return p.evaluate(
        """[...document.querySelectorAll('.godeep-framework-tabs:not(.godeep-framework-only)')].map(set => {
             const input = [...set.querySelectorAll(':scope > input')].find(i => i.checked);
             return input ? input.nextElementSibling.dataset.syncId : null; })"""
    )


def test_tensorflow_tab_switches_all_tabs_and_persists(reader, built_book):
    tabbed = framework_tab_sets(NOTEBOOK_PAGES, built_book[1])
    several = [page for page, count in tabbed.items() if count >= 2]
    assert several, f"need a page with two framework tab sets, found {tabbed}"
    first = several[0]
    later = next((page for page in tabbed if page != first), None)
    assert later, f"need a second page with framework tabs, found {tabbed}"
    p = reader.goto(first)
    before = checked_frameworks(p)
    assert len(before) >= 2 and set(before) == {"pytorch"}, before
    # the PyTorch output is visible, the TensorFlow one hidden
    visible = p.evaluate("""[...document.querySelectorAll(
        '.godeep-framework-tabs:not(.godeep-framework-only) > .sd-tab-content')]
        .map(c => c.offsetParent !== null)""")
    assert visible[:2] == [True, False], visible
    p.locator('label.sd-tab-label[data-sync-id="tensorflow"]').first.click()
    assert set(checked_frameworks(p)) == {"tensorflow"}
    assert p.evaluate(f"localStorage.getItem('{TAB_STORAGE_KEY}')") == "tensorflow"
    p = reader.goto(later)
    assert set(checked_frameworks(p)) == {"tensorflow"}, "the choice did not carry to the next page"
    # each tab shows its own executed output (code and output both inside the tab)
    tf_tab = p.locator(".godeep-framework-tabs:not(.godeep-framework-only) > .sd-tab-content").nth(
        1
    )
    assert tf_tab.is_visible()
    assert tf_tab.locator(".cell_input").count() >= 1
    p.locator('label.sd-tab-label[data-sync-id="pytorch"]').first.click()
    assert set(checked_frameworks(p)) == {"pytorch"}


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_launch_buttons_open_this_notebook(reader, page):
    cfg = website.config()
    repo = urlparse(cfg["repository"]["url"]).path.strip("/")
    branch = cfg["repository"]["branch"]
    book = cfg["repository"].get("path_to_book", "").strip("/")
    # a split page's buttons give the selected framework's notebook, PyTorch when none is chosen
    notebook = f"{page}.pytorch.ipynb" if page in SPLIT_PAGES else f"{page}.ipynb"
    path = "/".join(x for x in (book, notebook) if x)
    p = reader.goto(page)
    hrefs = p.evaluate("[...document.querySelectorAll('a')].map(a => a.href)")
    binder = [h for h in hrefs if h.startswith(cfg["launch_buttons"]["binderhub_url"])]
    colab = [h for h in hrefs if h.startswith(cfg["launch_buttons"]["colab_url"])]
    assert len(binder) == 1 and len(colab) == 1, (binder, colab)
    assert unquote(binder[0]) == (
        f"https://mybinder.org/v2/gh/{repo}/{branch}?urlpath=lab/tree/{path}"
    )
    assert colab[0] == f"https://colab.research.google.com/github/{repo}/blob/{branch}/{path}"
    downloads = [h for h in hrefs if h.endswith(f"_sources/{notebook}")]
    assert downloads, "no download link to the .ipynb"
    response = p.request.get(downloads[0])
    assert response.ok
    nb = json.loads(response.text())
    assert nb["nbformat"] == 4 and nb["cells"] == json.loads((ROOT / notebook).read_text())["cells"]
    # Thebe ("live code") is offered and loads nothing until clicked
    assert p.locator("button.btn-launch-thebe[onclick^='initThebe']").count() == 1
    assert reader.foreign == []


def test_search_finds_a_chapter_by_keyword(reader):
    p = reader.goto("search", "?q=vanishing")
    p.wait_for_selector("#search-results ul.search li", timeout=20000)
    hits = p.evaluate(
        "[...document.querySelectorAll('#search-results ul.search li a')].map(a => a.href)"
    )
    assert any("chapters/01-signal-propagation/" in h for h in hits), hits


def test_live_code_loads_thebe_only_when_clicked(reader):
    """Thebe's library comes from a CDN, but only after the reader asks for Live Code."""
    page = NOTEBOOK_PAGES[0]
    p = reader.goto(page)
    assert reader.foreign == []
    with p.expect_request(
        lambda r: "thebe" in r.url and urlparse(r.url).netloc != urlparse(reader.base).netloc,
        timeout=15000,
    ) as asked:
        p.evaluate("initThebeSBT()")
    # the request event itself is the evidence (the blocked-request log may be written later)
    assert (
        "thebe" in asked.value.url
        and urlparse(asked.value.url).netloc != urlparse(reader.base).netloc
    )


def uses_torch(code: str) -> bool:
    """Whether a cell's code names `torch` (a comment or a string such as "torchvision's
    counts" or `COLORS["pytorch"]` does not count)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):  # not Python (a magic): any mention counts
        return re.search(r"\btorch\b", code) is not None
    return any(t.type == tokenize.NAME and t.string == "torch" for t in tokens)


def test_uses_torch_reads_code_not_comments():
    assert uses_torch("import torch") and uses_torch("x = torch.ones(3)")
    assert not uses_torch("# as torch's kaiming_normal_\nx = 1")
    assert not uses_torch('c = COLORS["pytorch"]  # torchvision\'s counts')


@pytest.mark.parametrize("page", SPLIT_PAGES)
def test_tensorflow_reader_sees_tensorflow_only_and_gets_its_notebook(chromium, url, page):
    """With TensorFlow chosen (on an earlier page: sphinx-design's stored choice), a page made
    from a split source shows no PyTorch code, and Binder, Colab and download give
    NAME.tensorflow.ipynb; picking PyTorch in a tab points them at NAME.pytorch.ipynb."""
    reader = Watched(chromium, url)
    try:
        reader.context.add_init_script(f"localStorage.setItem('{TAB_STORAGE_KEY}', 'tensorflow')")
        p = reader.goto(page)
        assert set(checked_frameworks(p)) <= {"tensorflow"}
        code = p.evaluate("""[...document.querySelectorAll('.cell_input')]
            .filter(c => c.offsetParent !== null).map(c => c.innerText)""")
        assert code, "no visible code cell"
        torch_code = [c for c in code if uses_torch(c)]
        assert torch_code == [], f"PyTorch code visible to a TensorFlow reader: {torch_code[:2]}"
        assert any("tf." in c or "keras" in c for c in code), "no TensorFlow code visible"
        hrefs = p.evaluate("[...document.querySelectorAll('a')].map(a => a.href)")
        name = page.rsplit("/", 1)[-1]
        launch = [
            h
            for h in hrefs
            if h.startswith(("https://mybinder.org", "https://colab.research.google.com"))
            or "_sources/" in h
            and h.endswith(".ipynb")
        ]
        assert len(launch) == 3 and all(h.endswith(f"{name}.tensorflow.ipynb") for h in launch), (
            launch
        )
        download = next(h for h in launch if "_sources/" in h)
        nb = json.loads(p.request.get(download).text())
        assert nb["metadata"]["godeep"]["framework"] == "tensorflow"
        assert nb["cells"] == json.loads((ROOT / f"{page}.tensorflow.ipynb").read_text())["cells"]
        p.locator('label.sd-tab-label[data-sync-id="pytorch"]').first.click()
        p.wait_for_function(
            f"[...document.querySelectorAll('a')].some(a => a.href.endsWith('{name}.pytorch.ipynb'))"
        )
        hrefs = p.evaluate("[...document.querySelectorAll('a')].map(a => a.href)")
        assert not any(h.endswith(f"{name}.tensorflow.ipynb") for h in hrefs)
        assert reader.errors == [] and reader.failed == [], (reader.errors, reader.failed)
    finally:
        reader.close()
