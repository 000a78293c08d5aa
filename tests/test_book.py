"""The book builds with zero warnings (Sphinx -W -n, nitpicky), as `make book` builds it.

The build itself is the session fixture `built_book` (tests/conftest.py), shared with the
browser tests (tests/test_browser.py).
"""

import json
import re
from pathlib import Path

import pytest

# one pytest-xdist worker runs the book and browser tests, so the book is built once
pytestmark = pytest.mark.xdist_group("book")

ROOT = Path(__file__).resolve().parents[1]


def test_book_builds_without_warnings(built_book):
    result, html = built_book
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    for page in (
        "index.html",
        "preface.html",
        "setting-up.html",
        "references.html",
        "chapters/01-signal-propagation/02-watching-signals.html",
    ):
        assert (html / page).exists(), page
    text = (html / "chapters/01-signal-propagation/02-watching-signals.html").read_text()
    assert "<img" in text  # figures made it into the page


def test_every_figure_has_alt_text_and_a_caption(built_book):
    """The convention of CONTRIBUTING.md: every image in a page's article carries alt text and
    sits in a figure with a caption (read from the built HTML of every page of _toc.yml)."""
    from bs4 import BeautifulSoup

    from tools import website

    _, html = built_book
    problems, images = {}, 0
    for page in website.toc_files():
        soup = BeautifulSoup((html / f"{page}.html").read_text(), "html.parser")
        bad = []
        for img in soup.select("article.bd-article img"):
            images += 1
            if not (img.get("alt") or "").strip():
                bad.append(f"no alt text: {img.get('src')}")
            figure = img.find_parent("figure")
            if figure is None or figure.find("figcaption") is None:
                bad.append(f"no caption: {img.get('src')}")
        if bad:
            problems[page] = bad
    assert images > 50, f"only {images} images found: the selector no longer matches the theme"
    assert problems == {}, problems


def test_framework_cells_become_synced_tabs(built_book):
    """Every framework-tagged code cell of chapter 1 sits in a tab of the sync group `framework`."""
    _, html = built_book
    page = "chapters/01-signal-propagation/02-watching-signals"
    text = (html / f"{page}.html").read_text()
    labels = re.findall(r'<label[^>]*class="sd-tab-label"[^>]*>', text)
    ids = [
        re.search(r'data-sync-id="(\w+)"', label).group(1)
        for label in labels
        if 'data-sync-group="framework"' in label
    ]
    nb = json.loads((ROOT / f"{page}.ipynb").read_text())
    tags = [
        t for c in nb["cells"] for t in c["metadata"].get("tags", []) if t.startswith("framework-")
    ]
    assert ids == [t.removeprefix("framework-") for t in tags]
    assert ids.count("pytorch") == ids.count("tensorflow") >= 1


def test_split_pages_offer_each_frameworks_notebook(built_book):
    """A page made from a split source names its derived notebooks for the launch buttons'
    script, the download folder holds them, and they are no pages of their own."""
    _, html = built_book
    page = "chapters/01-signal-propagation/03-training-deep-nets"
    text = (html / f"{page}.html").read_text()
    assert '<meta name="godeep-framework-notebooks"' in text and "godeep-launch.js" in text
    for framework in ("pytorch", "tensorflow"):
        name = f"{page}.{framework}.ipynb"
        assert (html / "_sources" / name).read_bytes() == (ROOT / name).read_bytes()
        assert not (html / f"{page}.{framework}.html").exists()
    # an unconverted notebook's page (any one still left) keeps its own buttons
    unconverted = [
        path
        for path in sorted((ROOT / "chapters").glob("*/*.ipynb"))
        if path.suffixes[-2:-1] not in ([".pytorch"], [".tensorflow"])
        and not json.loads(path.read_text())["metadata"].get("godeep", {}).get("split")
        and (html / path.relative_to(ROOT).with_suffix(".html")).exists()
    ]
    for path in unconverted[:1]:
        page_html = html / path.relative_to(ROOT).with_suffix(".html")
        assert "godeep-framework-notebooks" not in page_html.read_text()


def test_mathjax_is_served_by_the_site(built_book):
    _, html = built_book
    text = (html / "chapters/01-signal-propagation/01-chain-rule.html").read_text()
    assert 'src="../../_static/mathjax/tex-mml-chtml.js"' in text
    assert "cdn.jsdelivr" not in text
    assert (html / "_static/mathjax/output/chtml/fonts/woff-v2").is_dir()


# ------------------------------------------------------------------ the tabs extension, alone

import subprocess  # noqa: E402
import sys  # noqa: E402

import nbformat  # noqa: E402
from nbformat import v4  # noqa: E402

CONF = f"""
import sys
sys.path.insert(0, {str(ROOT / "_ext")!r})
extensions = ["myst_nb", "godeep_book"]
nb_execution_mode = "off"
html_theme = "basic"
mathjax_path = "mathjax/tex-mml-chtml.js"
"""


def code(source, *tags):
    cell = v4.new_code_cell(source, metadata={"tags": list(tags)} if tags else {})
    cell.outputs = [v4.new_output("stream", name="stdout", text=f"out of {source}\n")]
    return cell


def build_notebook(tmp_path, cells):
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(CONF)
    (src / "index.md").write_text("# Index\n\n```{toctree}\nnb\n```\n")
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# Notebook")] + cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, src / "nb.ipynb")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", str(src), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    html = (
        (tmp_path / "out" / "nb.html").read_text()
        if (tmp_path / "out" / "nb.html").exists()
        else ""
    )
    return result, html


def tab_sets(html):
    """Per framework tab set on the page: [(sync id, [what its tab holds, in order]), ...]."""
    from bs4 import BeautifulSoup

    sets = []
    for tab_set in BeautifulSoup(html, "html.parser").select(".godeep-framework-tabs"):
        labels = tab_set.find_all("label", recursive=False)
        contents = tab_set.find_all("div", class_="sd-tab-content", recursive=False)
        sets.append(
            [
                (
                    label["data-sync-id"],
                    re.findall(r"out of (\w+)|(Only for Keras readers)", content.get_text()),
                )
                for label, content in zip(labels, contents)
            ]
        )
        sets[-1] = [(sync, ["".join(m) for m in found]) for sync, found in sets[-1]]
    return sets


def test_tabs_extension_groups_runs_of_tagged_cells(tmp_path):
    result, html = build_notebook(
        tmp_path,
        [
            code("a", "framework-pytorch"),
            code("b", "framework-tensorflow"),  # one group
            code("shared"),
            code("c", "framework-pytorch"),
            code("d", "framework-pytorch"),
            code("e", "framework-tensorflow"),
            code("f", "framework-pytorch"),
            code("g", "framework-tensorflow"),  # a new group: pt after tf
            v4.new_markdown_cell(
                "Only for Keras readers.", metadata={"tags": ["framework-tensorflow"]}
            ),
        ],
    )
    assert result.returncode == 0 and "WARNING" not in result.stderr, result.stderr
    assert tab_sets(html) == [
        [("pytorch", ["a"]), ("tensorflow", ["b"])],
        [("pytorch", ["c", "d"]), ("tensorflow", ["e"])],
        [
            ("pytorch", ["f"]),
            ("tensorflow", ["g", "Only for Keras readers"]),
        ],  # tagged markdown joins
    ]
    assert (
        html.index("out of b") < html.index("out of shared") < html.index("out of c")
    )  # order kept


def test_a_lonely_framework_cell_becomes_one_labelled_tab(tmp_path):
    result, html = build_notebook(
        tmp_path,
        [code("a", "framework-pytorch"), code("shared"), code("b", "framework-tensorflow")],
    )
    assert result.returncode == 0 and "WARNING" not in result.stderr, result.stderr
    assert tab_sets(html) == [[("pytorch", ["a"])], [("tensorflow", ["b"])]]
    from bs4 import BeautifulSoup

    labels = [
        label.get_text(strip=True)
        for label in BeautifulSoup(html, "html.parser").select("label.sd-tab-label")
    ]
    assert labels == ["PyTorch only", "TensorFlow only"]


def test_a_cell_with_both_tags_is_a_warning(tmp_path):
    result, _ = build_notebook(tmp_path, [code("a", "framework-pytorch", "framework-tensorflow")])
    assert "carries both framework tags" in result.stderr, result.stderr


# ------------------------------------------------------------ the seam into MyST-NB's private API


@pytest.fixture
def mystnb_seam(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "_ext"))
    from godeep_book import mystnb

    return mystnb


def test_mystnb_is_the_version_the_seam_was_checked_against(mystnb_seam):
    """Raising MyST-NB past the checked minor version means re-checking the seam first."""
    installed = mystnb_seam.installed_version().split(".")[:2]
    assert installed == mystnb_seam.CHECKED_WITH.split(".")[:2], (
        f"MyST-NB {mystnb_seam.installed_version()} is installed; _ext/godeep_book/mystnb.py "
        f"was checked against {mystnb_seam.CHECKED_WITH}"
    )


def test_the_seam_wraps_once_and_refuses_a_changed_method(mystnb_seam, monkeypatch):
    from myst_nb.core.render import MditRenderMixin
    from sphinx.errors import ExtensionError

    def plain(self, token):
        return ("original", token)

    monkeypatch.setattr(MditRenderMixin, "render_nb_cell_markdown", plain)
    calls = []

    def wrapper(original, renderer, token):
        calls.append(token)
        return original(renderer, token)

    assert mystnb_seam.wrap_markdown_cells(wrapper) is True
    assert mystnb_seam.wrap_markdown_cells(wrapper) is False  # already installed
    assert MditRenderMixin.render_nb_cell_markdown(None, "tok") == ("original", "tok")
    assert calls == ["tok"]

    monkeypatch.setattr(MditRenderMixin, "render_nb_cell_markdown", lambda self, token, extra: None)
    with pytest.raises(ExtensionError, match="checked against"):
        mystnb_seam.wrap_markdown_cells(wrapper)


def test_stored_outputs_hold_no_progress_bars_or_widgets():
    """Progress bars and explore() widgets are for live readers: stored outputs stay static."""
    found = []
    for path in sorted((ROOT / "chapters").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = json.loads(path.read_text())
        if "widgets" in nb.get("metadata", {}):
            found.append(f"{path.name}: widget state in metadata")
        for index, cell in enumerate(nb["cells"]):
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                text = "".join(output.get("text", "")) + "".join(data.get("text/plain", ""))
                if "application/vnd.jupyter.widget-view+json" in data:
                    found.append(f"{path.name} cell {index}: widget output")
                if re.search(r"\d+/\d+ \[[\d:<]+, +[\d.]+(it|s)/(s|it)\]", text):
                    found.append(f"{path.name} cell {index}: progress bar text")
    assert found == [], found


def test_framework_copies_of_a_figure_share_one_number(tmp_path, monkeypatch):
    """A split page's TensorFlow copy of a figure (NAME-tensorflow) takes NAME's number, and
    the figures after it keep counting as if there were one (see _ext/godeep_book/figures.py)."""
    monkeypatch.syspath_prepend(str(ROOT / "_ext"))
    from godeep_book.figures import share_numbers

    numbers = {
        "a": {
            "figure": {
                "fig-1": (1, 1),
                "fig-2": (1, 2),
                "fig-2-tensorflow": (1, 3),
                "fig-3": (1, 4),
            },
            "table": {"t": (1, 1)},
        },
        "b": {"figure": {"fig-4": (1, 5), "other": (2, 1)}},
    }
    share_numbers(numbers)
    assert numbers == {
        "a": {
            "figure": {
                "fig-1": (1, 1),
                "fig-2": (1, 2),
                "fig-2-tensorflow": (1, 2),
                "fig-3": (1, 3),
            },
            "table": {"t": (1, 1)},
        },
        "b": {"figure": {"fig-4": (1, 4), "other": (2, 1)}},
    }

    # and in a real build: a figure with its -tensorflow twin, then one more figure
    def figure(source, name, *tags):
        cell = code(source, *tags)
        cell.metadata["mystnb"] = {"figure": {"caption": f"caption {source}", "name": name}}
        cell.outputs = [v4.new_output("display_data", data={"image/png": PNG, "text/plain": "fig"})]
        return cell

    global CONF
    saved, CONF = CONF, CONF + "numfig = True\n"
    try:
        result, html = build_notebook(
            tmp_path,
            [
                figure("p", "fig-x", "framework-pytorch"),
                figure("t", "fig-x-tensorflow", "framework-tensorflow"),
                figure("n", "fig-next"),
            ],
        )
    finally:
        CONF = saved
    assert result.returncode == 0 and "WARNING" not in result.stderr, result.stderr
    assert re.findall(r'caption-number">Fig\. (\d+)', html) == ["1", "1", "2"], html[-3000:]


#: a 1x1 PNG
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
