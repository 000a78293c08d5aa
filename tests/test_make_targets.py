"""The documented commands: every target README, CONTRIBUTING and `make help` name exists and
takes the documented variables; a notebook's cells stay on one pytest-xdist worker whatever
the entry point (pytest on a folder, pytest on one notebook, `make nbval NB=...`).

The cheap targets themselves are run by `.ci/run` after `make test`; the last test here checks
that it runs every documented one except the long ones named in LONG.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
#: Never rebuild the set-up stamp from a test: that would reinstall the environment.
MAKE = ["make", "--no-print-directory", "-C", str(ROOT), "-o", ".venv/.installed", f"BIN={BIN}"]
#: Targets too long (or interactive) for every CI run; run by hand before a release.
LONG = {"lab", "notebooks", "clean", "bench"}  # bench: a benchmark, if the Makefile has one
NOTEBOOK_TARGETS = ("nbval", "rounding", "notebooks", "check-notebooks", "profile")


def clean_env() -> dict[str, str]:
    """This environment less what marks the caller as a pytest(-xdist) run or a make of its own
    (`make test WORKERS=0` passes WORKERS=0 to every make below it through MAKEFLAGS)."""
    drop = (
        "PYTEST_XDIST_",
        "PYTEST_ADDOPTS",
        "PYTEST_CURRENT_TEST",
        "MAKEFLAGS",
        "MFLAGS",
        "MAKELEVEL",
    )
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def make(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*MAKE, *args], capture_output=True, text=True, timeout=timeout, env=clean_env()
    )


def rules() -> set[str]:
    """Targets of the Makefile that have a rule (a line `name: ...`, not a variable)."""
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):(?!=)", text, flags=re.M))


def phony() -> set[str]:
    line = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), flags=re.M).group(1)
    return set(line.split())


def help_targets() -> list[str]:
    result = make("help")
    assert result.returncode == 0, result.stderr
    return re.findall(r"^make ([a-z-]+)", result.stdout, flags=re.M)


def documented() -> set[str]:
    """`make X` in README.md, CONTRIBUTING.md and setting-up.md."""
    names: set[str] = set()
    for doc in ("README.md", "CONTRIBUTING.md", "setting-up.md"):
        names |= set(re.findall(r"`make ([a-z][a-z-]*)", (ROOT / doc).read_text()))
        names |= set(re.findall(r"^make ([a-z][a-z-]*)", (ROOT / doc).read_text(), flags=re.M))
    return names


def test_every_phony_or_documented_target_has_a_rule():
    missing = (phony() | documented() | set(help_targets())) - rules()
    assert not missing, f"targets named but without a rule: {sorted(missing)}"


def test_help_lists_every_target_once():
    listed = help_targets()
    assert len(listed) == len(set(listed)), listed
    assert set(listed) == rules() - {"setup"}, "`make help` and the Makefile's rules differ"


@pytest.mark.parametrize("target", NOTEBOOK_TARGETS)
def test_notebook_targets_take_nb(target):
    one = "chapters/03-normalization/05-batch-size.ipynb"
    result = make("-n", target, f"NB={one}")
    assert result.returncode == 0, result.stderr
    assert one in result.stdout, result.stdout
    assert not re.search(r"\schapters(\s|$)", result.stdout), "NB did not replace chapters/"


def test_unit_takes_a_selection():
    result = make("-n", "unit", "TESTS=tests/test_init.py", "K=fans")
    assert result.returncode == 0, result.stderr
    assert re.search(r"pytest tests/test_init.py -k \"?fans\"?", result.stdout), result.stdout


def test_browser_takes_a_selection():
    result = make("-n", "browser", "K=search_finds")
    assert result.returncode == 0, result.stderr
    assert re.search(r"tests/test_browser.py -k \"?search_finds\"?", result.stdout), result.stdout
    whole = make("-n", "browser")
    assert " -k " not in whole.stdout, whole.stdout


def test_ci_runs_every_cheap_documented_target():
    """.ci/run calls `make test`, then each documented target but the long ones."""
    script = (ROOT / ".ci" / "run").read_text()
    called = set(re.findall(r"^\s*(?:timed\s+)?make ([a-z][a-z-]*)", script, flags=re.M))
    assert (documented() | set(help_targets())) - LONG - {"setup"} <= called, sorted(called)


# ------------------------------------------------------------ a notebook's cells, one worker

CELLS = 8


def chained_notebook(folder: Path) -> Path:
    """A notebook whose every cell needs the one before (x counts up): split over two kernels,
    at least one cell fails with NameError or a wrong value."""
    cells = [v4.new_code_cell("x = 1", execution_count=1)]
    for count in range(2, CELLS + 1):
        cell = v4.new_code_cell("x = x + 1\nprint(x)", execution_count=count)
        cell.outputs = [v4.new_output("stream", name="stdout", text=f"{count}\n")]
        cells.append(cell)
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = folder / "chained.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture
def chained():
    """The notebook inside the repository (in _build/, ignored by git and the book), so pytest
    finds pytest.ini and the root conftest.py exactly as for chapters/."""
    (ROOT / "_build").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="grouping-", dir=ROOT / "_build") as folder:
        yield chained_notebook(Path(folder))


def _passed(result: subprocess.CompletedProcess) -> None:
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert re.search(rf"\b{CELLS} passed\b", out), out[-3000:]


@pytest.mark.parametrize("entry", ["folder", "notebook"])
def test_pytest_keeps_a_notebooks_cells_on_one_worker(chained, entry):
    target = chained.parent if entry == "folder" else chained
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(target.relative_to(ROOT)),
            "--nbval",
            "-n",
            "2",
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=clean_env(),
    )
    _passed(result)


def test_make_nbval_keeps_a_notebooks_cells_on_one_worker(chained):
    result = make("nbval", f"NB={chained.relative_to(ROOT)}", "WORKERS=2", timeout=600)
    _passed(result)


# ------------------------------------------------------------ split notebooks under nbval


def _split_folder(folder: Path) -> Path:
    """A split source that must not run (its cell fails) and its two derived notebooks, each
    asserting that the other framework cannot be imported in its kernel."""
    spec = (
        "import importlib.util, os\nassert importlib.util.find_spec({!r}) is None\n"
        "assert os.environ.get('GODEEP_ENV_PROBE') == 'kept'  # the rest of the environment stays\n"
        "print('ok')"
    )
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebooks = {
        "s.ipynb": (
            "raise SystemExit('the source of a split notebook must not be run')",
            {"split": True},
        ),
        "s.pytorch.ipynb": (
            spec.format("tensorflow"),
            {"framework": "pytorch", "source": "s.ipynb"},
        ),
        "s.tensorflow.ipynb": (
            spec.format("torch"),
            {"framework": "tensorflow", "source": "s.ipynb"},
        ),
    }
    for name, (source, godeep) in notebooks.items():
        cell = v4.new_code_cell(source, execution_count=1)
        cell.outputs = [v4.new_output("stream", name="stdout", text="ok\n")]
        nb = v4.new_notebook(cells=[cell], metadata={"kernelspec": kernelspec, "godeep": godeep})
        nbformat.write(nb, folder / name)
    return folder


@pytest.mark.parametrize("entry", ["folder", "source"])
def test_nbval_runs_derived_notebooks_each_without_the_other_framework(entry):
    (ROOT / "_build").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="split-", dir=ROOT / "_build") as folder:
        target = _split_folder(Path(folder))
        args = [str(target.relative_to(ROOT))]
        if entry == "source":  # named on the command line: deselected, the derived ones run
            args = [
                str((target / n).relative_to(ROOT))
                for n in ("s.ipynb", "s.pytorch.ipynb", "s.tensorflow.ipynb")
            ]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                *args,
                "--nbval",
                "-p",
                "no:xdist",
                "-p",
                "no:cacheprovider",
                "-q",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            env=dict(clean_env(), GODEEP_ENV_PROBE="kept"),
        )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert re.search(r"\b2 passed\b", out), out[-3000:]


def test_with_workers_the_longest_groups_are_queued_first():
    """conftest.heaviest_first: the book, then TensorFlow notebooks, then the others (later
    chapters first), then the unit-test files; a group's tests keep their order."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    root_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root_conftest)
    group_rank = root_conftest.group_rank
    groups = [
        "tests/test_init.py",
        "chapters/01-signal-propagation/01-chain-rule.pytorch.ipynb",
        "book",
        "chapters/05-understanding-residuals/02-identity-mappings.tensorflow.ipynb",
        "chapters/01-signal-propagation/01-chain-rule.tensorflow.ipynb@chapters/x",
        "chapters/05-understanding-residuals/02-identity-mappings.pytorch.ipynb",
        "tests/test_data.py",
    ]
    assert sorted(groups, key=group_rank) == [
        "book",
        "chapters/05-understanding-residuals/02-identity-mappings.tensorflow.ipynb",
        "chapters/01-signal-propagation/01-chain-rule.tensorflow.ipynb@chapters/x",
        "chapters/05-understanding-residuals/02-identity-mappings.pytorch.ipynb",
        "chapters/01-signal-propagation/01-chain-rule.pytorch.ipynb",
        "tests/test_init.py",
        "tests/test_data.py",
    ]
