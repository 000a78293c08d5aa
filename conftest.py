"""pytest set-up for every invocation in this repository (tests/, chapters/, one notebook, ...).

It lives at the repository root, next to pytest.ini, so pytest loads it whatever paths are
given: `pytest tests`, `pytest chapters -n 2`, `pytest chapters/03-normalization/05-batch-size.ipynb`,
`make nbval NB=...`. (A conftest.py under tests/ is seen only when tests/ is collected.)

* **One worker per file.** A notebook's cells share one kernel and must run in order in one
  process, so every test is put in the pytest-xdist group of its file, and with workers (`-n`)
  the distribution is `loadgroup` (xdist's default, `load`, ignores groups and spreads a
  notebook's cells over workers, where they fail with NameError).
* **Longest first.** With workers, the groups are queued longest first (the book, the
  TensorFlow notebooks, the other notebooks, the unit-test files: :func:`group_rank`), so the
  run does not end with one worker on a long notebook while the other idles.
* **Strict CI.** With `CI=true` (GitHub Actions and `.ci/run` set it), a skipped test in a file
  of `STRICT_IN_CI`, or any test skipped by `pytest.importorskip`, is a failure: the parity
  tests skip when TensorFlow is missing, the browser tests when Chromium is, the workflow lint
  when actionlint is, and CI must not go green with one of those suites unrun.
* **Outputs of another kind of CPU.** A notebook's outputs are compared strictly on the kind of
  CPU recorded in its metadata (``godeep.outputs_cpu``), with every number masked on another
  kind (tools/cpu_kind.py says why); the summary names the notebooks compared so.
* **One framework per derived notebook.** A split source notebook (metadata
  ``godeep: {split: true}``, see tools/frameworks.py) is not run by nbval: its derived
  notebooks ``NAME.pytorch.ipynb`` / ``NAME.tensorflow.ipynb`` are, each on a kernel where the
  other framework cannot be imported (the kernel inherits this process's environment, set
  before each notebook's kernel starts).
"""

from __future__ import annotations

import fnmatch
import json
import os
from functools import cache
from pathlib import Path

import pytest

#: Files (relative to the repository root) whose skips fail the run when CI=true.
STRICT_IN_CI = (
    "tests/test_parity_*.py",
    "tests/test_browser.py",
    "tests/test_book.py",
    "tests/test_workflows.py",
    "tests/test_make_targets.py",
)
#: What pytest.importorskip says: in CI a missing framework (TensorFlow for the Keras twins) fails.
IMPORT_SKIP = "could not import"
#: Distributions that ignore xdist groups; `loadgroup` replaces them.
GROUP_BLIND = ("load", "worksteal")


def in_ci() -> bool:
    """True when the environment says this is a CI run (CI=true, as GitHub Actions sets)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def strict_in_ci(nodeid: str) -> bool:
    """Whether a skip of this test (or collector) id counts as a failure in CI."""
    path = nodeid.split("::")[0]
    return any(fnmatch.fnmatch(path, pattern) for pattern in STRICT_IN_CI)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # registered here too, so the mark is known when pytest-xdist is not loaded (-p no:xdist)
    config.addinivalue_line(
        "markers", "xdist_group(name): run the marked tests on one pytest-xdist worker"
    )
    if getattr(config.option, "numprocesses", None) and getattr(config.option, "dist", "no") in (
        "no",
        *GROUP_BLIND,
    ):
        config.option.dist = "loadgroup"
    if getattr(config.option, "numprocesses", None):
        # keep the order of heaviest_first (xdist's default reorders the groups by test count)
        config.option.loadscopereorder = False
    if getattr(config, "workerinput", {}).get("godeep_loadgroup"):
        config.option.loadgroup = (
            True  # a worker: name-suffix the groups, as for `--dist loadgroup`
        )


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """Tell each xdist worker that groups are on (it re-reads only the command line)."""
    node.workerinput["godeep_loadgroup"] = node.config.getvalue("dist") == "loadgroup"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put each test in the xdist group of its file, unless it names a group itself.

    tests/test_book.py and tests/test_browser.py share the group "book" (set in those files),
    so the `built_book` fixture builds the site once. Runs before xdist's own hook, which turns
    the groups into node-id suffixes.
    """
    _deselect_split_sources(config, items)
    _mask_numbers_of_other_cpus(items)
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    if getattr(config.option, "numprocesses", None) or hasattr(config, "workerinput"):
        items[:] = heaviest_first(items)  # with workers: every worker collects this order


def _mask_numbers_of_other_cpus(items: list[pytest.Item]) -> None:
    """nbval compares a notebook's outputs strictly where they were stored on this kind of
    CPU (metadata ``godeep.outputs_cpu``); stored on another kind, with every number masked
    (tools/cpu_kind.py says why). Its cells still run, and their asserts still count."""
    parents = {id(i.parent): i.parent for i in items if str(i.fspath).endswith(".ipynb")}
    parents = [p for p in parents.values() if hasattr(p, "sanitize_patterns")]
    if not parents:
        return
    from tools.cpu_kind import MASK_NUMBERS, masks_numbers

    for parent in parents:
        if masks_numbers(_notebook_metadata(str(parent.fspath))):
            parent.setup_sanitize_files()  # the file's patterns first (its setup re-reads them)
            parent.sanitize_patterns.update(MASK_NUMBERS)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Name the notebooks whose outputs were compared with their numbers masked."""
    if not _nbval_on(config):
        return
    from tools.cpu_kind import MASK_ENV, cpu_kind, masks_numbers, recorded_kind

    here = cpu_kind()
    files = sorted(
        {
            r.nodeid.split("::")[0]
            for reports in terminalreporter.stats.values()
            for r in reports
            if getattr(r, "nodeid", "").split("::")[0].endswith(".ipynb")
        }
    )
    files = [str(config.rootpath / f) for f in files]
    other = {f: recorded_kind(_notebook_metadata(f)) for f in files}
    other = {f: kind for f, kind in other.items() if masks_numbers(_notebook_metadata(f), here)}
    if not other:
        return
    if os.environ.get(MASK_ENV, "").strip() == "1":
        terminalreporter.section("numbers masked")
        terminalreporter.write_line(
            f"{len(other)} notebook(s) were compared with every number masked ({MASK_ENV}=1, "
            "as `make rounding` sets): their asserts and words were checked, not their digits."
        )
        return
    terminalreporter.section("outputs stored on another kind of CPU")
    terminalreporter.write_line(
        f"{len(other)} notebook(s) were compared with every number masked: their outputs were "
        f"computed on another kind of CPU, where floats round differently (tools/cpu_kind.py). "
        f"This one: {here}. Re-execute them here (make notebooks), or set GODEEP_NBVAL_STRICT=1, "
        "to compare their numbers too."
    )
    for f, kind in other.items():
        terminalreporter.write_line(
            f"  {Path(f).relative_to(config.rootpath)}  (stored on: {kind})"
        )


def _group_of(item: pytest.Item) -> str:
    marker = item.get_closest_marker("xdist_group")
    return (marker.args[0] if marker and marker.args else None) or item.nodeid.split("::")[0]


def group_rank(group: str) -> tuple:
    """Where a group goes in the queue of the workers: the longest first, so that no long
    group starts last while the other worker idles (greedy longest-first scheduling).

    The order is an estimate, from the course's profiles: the book's group (build, then every
    page in Chromium) is the longest; then the TensorFlow notebooks (about twice their PyTorch
    twins), then the other notebooks, later chapters first (they train the deepest nets); the
    unit-test files (each under a minute) last, in their collection order."""
    name = group.rsplit("@", 1)[0]  # xdist suffixes a group's test ids with "@group"
    if name == "book":
        return (0,)
    if name.endswith(".ipynb"):
        first = 1 if name.endswith(".tensorflow.ipynb") else 2
        return (first, tuple(-ord(c) for c in name))  # reverse order of the paths
    return (3,)


def heaviest_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """``items`` with the groups in the order of :func:`group_rank` (a stable sort: a group's
    tests, and a notebook's cells, keep their order)."""
    return sorted(items, key=lambda item: group_rank(_group_of(item)))


def _fail_skip(report) -> None:
    """Turn a skip of a strict file, or of a missing import anywhere (pytest.importorskip),
    into a failure that says why (CI only)."""
    if not (in_ci() and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if not (strict_in_ci(report.nodeid) or IMPORT_SKIP in reason):
        return
    report.outcome = "failed"
    report.longrepr = f"skipped in CI, where this suite must run (CI=true): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_skip(outcome.get_result())


@cache
def _notebook_metadata(path: str) -> dict:
    """The notebook metadata of a notebook file (empty if none or unreadable)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {}) or {}
    except (OSError, ValueError):
        return {}


def _notebook_godeep(path: str) -> dict:
    """The ``godeep`` notebook metadata of a notebook file (empty if none or unreadable)."""
    return _notebook_metadata(path).get("godeep", {}) or {}


def _nbval_on(config: pytest.Config) -> bool:
    return bool(
        getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False)
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config):
    """Under nbval, skip split sources found in folders: their derived notebooks run instead."""
    if collection_path.suffix == ".ipynb" and _nbval_on(config):
        if _notebook_godeep(str(collection_path)).get("split") is True:
            return True
    return None


def _deselect_split_sources(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A split source named on the command line is not run either: say so, run nothing of it."""
    if not _nbval_on(config):
        return
    sources = [
        i
        for i in items
        if str(i.fspath).endswith(".ipynb") and _notebook_godeep(str(i.fspath)).get("split") is True
    ]
    if sources:
        config.hook.pytest_deselected(items=sources)
        items[:] = [i for i in items if i not in sources]
        names = sorted({Path(str(i.fspath)).name for i in sources})
        print(
            f"\nnbval runs the derived NAME.pytorch.ipynb / NAME.tensorflow.ipynb of split sources, not {names}"
        )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before a notebook's cells run (and its kernel starts), block the other framework's
    imports for a derived notebook; lift the block for every other test (its subprocesses
    and kernels see both frameworks)."""
    path = str(item.fspath)
    framework = _notebook_godeep(path).get("framework") if path.endswith(".ipynb") else None
    if framework is None and "GODEEP_BLOCK_IMPORTS" not in os.environ:
        return  # the common case; tools/ is imported only where split notebooks are
    from tools import frameworks

    env = frameworks.kernel_env(framework)  # computed from os.environ before it is replaced
    os.environ.clear()
    os.environ.update(env)
