"""README's and CONTRIBUTING's maps of the repository name only paths that exist, and name
every tool in tools/ (so a new tool, or a moved file, cannot leave them stale)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAPS = {"README.md": "## What is where", "CONTRIBUTING.md": "## Where things live"}
PATHLIKE = re.compile(r"`([\w./-]+(?:/|\.(?:py|md|toml|yml|txt|ini|sh|cfg|bib)))`")


def table(doc: str) -> str:
    text = (ROOT / doc).read_text()
    start = text.index(MAPS[doc])
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


@pytest.mark.parametrize("doc", MAPS)
def test_every_path_in_the_map_exists(doc):
    rows = [line for line in table(doc).splitlines() if line.startswith("| `")]
    assert rows
    missing = []
    for row in rows:
        names = [
            re.sub(r"NN-\w+", "*", name) for name in PATHLIKE.findall(row)
        ]  # chapters/NN-topic/
        folders = [""] + [n for n in PATHLIKE.findall(row.split("|")[1]) if n.endswith("/")]
        folders = [re.sub(r"NN-\w+", "*", f) for f in folders] + ["tools/"]
        for name in names:
            if not any(any(ROOT.glob(folder + name.rstrip("/"))) for folder in folders):
                missing.append(name)
    assert not missing, f"{doc} names paths that do not exist: {missing}"


@pytest.mark.parametrize("doc", MAPS)
def test_the_map_names_every_tool(doc):
    text = table(doc)
    tools = [
        p.name
        for p in (ROOT / "tools").iterdir()
        if p.suffix in (".py", ".sh") and p.name != "__init__.py"
    ]
    assert tools
    unnamed = [name for name in tools if f"`{name}`" not in text and f"`tools/{name}`" not in text]
    assert not unnamed, f"{doc} does not name {unnamed}"
