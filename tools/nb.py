#!/usr/bin/env python3
"""Notebook tooling for Going Deep: execute, normalize, check and profile notebooks.

    python tools/nb.py execute   PATH...   # run in place, then normalize
    python tools/nb.py normalize PATH...   # strip volatile metadata only (idempotent)
    python tools/nb.py check     PATH...   # list problems, exit 1 if any
    python tools/nb.py profile   PATH... --report _build/profile.md [--jobs 2]
    python tools/nb.py split     PATH...   # write the derived notebooks (unexecuted)
    python tools/nb.py merge     PATH...   # merge the stored derived notebooks' outputs into the source

A notebook with metadata `"godeep": {"split": true}` is a *split source* (tools/frameworks.py):
execute derives NAME.pytorch.ipynb and NAME.tensorflow.ipynb next to it, runs each on its own
kernel with the other framework unimportable, and merges their outputs into the source (the
book page); check also checks that shared cells are framework-neutral and nothing is stale;
profile measures the derived notebooks, one row per framework. A derived notebook given as
PATH stands for its source (execute) or for itself (check, profile).

A PATH may be a notebook or a folder (searched recursively for *.ipynb, skipping
.ipynb_checkpoints and _build). Kernels are the `python3` kernel of the interpreter
running this script, started in the notebook's folder with GODEEP_PROGRESS=0 and GODEEP_INTERACTIVE=0.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

if __package__ in (None, ""):  # run as a script: python tools/nb.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools import frameworks  # noqa: E402
from tools.cpu_kind import OUTPUTS_CPU, cpu_kind  # noqa: E402
from tools.notebook_files import (  # noqa: E402, F401  (re-exported: tools.nb is the CLI's module)
    COLAB_CELL_ID,
    KERNELSPEC,
    LANGUAGE_INFO,
    ROOT,
    SKIP_DIRS,
    VOLATILE_CELL_METADATA,
    WIDGET_MIME,
    colab_cell_source,
    ensure_colab_cell,
    find_notebooks,
    is_colab_cell,
    normalize,
    read,
    repository_url,
    write,
)
from tools.notebook_profile import (  # noqa: E402, F401  (re-exported)
    BUDGET_PEAK_MB,
    BUDGET_WALL_S,
    cpu_seconds,
    framework_label,
    kernel_pid,
    peak_rss_mb,
    write_report,
)

CELL_TIMEOUT_S = 600
KERNEL_NAME = "python3"
MAX_FILE_BYTES = 3_000_000


# --------------------------------------------------------------------------- execute


class NotebookFailed(Exception):
    """A notebook could not be executed: which one, at which cell, and why."""

    def __init__(self, path: Path, cell_index: int | None, reason: str):
        super().__init__(f"{path}: cell {cell_index} failed:\n{reason}")
        self.cell_index = cell_index


def run(
    nb: nbformat.NotebookNode, path: Path, on_cell_done=None, framework: str | None = None
) -> nbformat.NotebookNode:
    """Execute `nb` (read from `path`) in memory with nbclient, in the notebook's folder;
    with `framework`, the other framework cannot be imported in the kernel.

    Raises NotebookFailed if a cell not tagged `raises-exception` errors, times out or
    kills the kernel. `on_cell_done(client)` is called after each executed code cell, while
    the kernel still runs.
    """
    current = {"index": None}

    def cell_start(cell, cell_index):
        current["index"] = cell_index

    def cell_done(cell, cell_index, execute_reply):
        if on_cell_done is not None:
            on_cell_done(client)

    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name=KERNEL_NAME,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent.resolve())}},
        on_cell_start=cell_start,
        on_cell_executed=cell_done,
    )
    try:
        client.execute(env=kernel_env(framework))
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        raise NotebookFailed(path, current["index"], str(error)) from None
    return nb


def kernel_env(framework: str | None = None) -> dict[str, str]:
    """The kernel's environment: the same settings `make test` gives nbval's kernels; with
    `framework`, an import blocker for the other framework (tools/frameworks.py)."""
    env = dict(
        frameworks.kernel_env(framework),
        GODEEP_PROGRESS="0",
        GODEEP_INTERACTIVE="0",
        TF_CPP_MIN_LOG_LEVEL="2",
        TF_ENABLE_ONEDNN_OPTS="0",
    )
    env.pop(
        "MPLBACKEND", None
    )  # notebooks draw inline figures, never with a non-interactive backend
    return env


def cmd_execute(paths: list[Path], report: Path | None = None) -> int:
    """Execute each notebook in place and normalize it; stop at the first failing one,
    leaving that file untouched. With `report`, also write the profile table of the run
    (wall time and kernel peak memory, as `profile` measures them)."""
    rows = []
    for path in sources(paths):
        print(f"executing {path}", flush=True)
        nb = ensure_colab_cell(read(path))
        if frameworks.is_split(nb):
            executed = {}
            for framework in frameworks.TAGS:
                derived = frameworks.derived_path(path, framework)
                print(f"executing {derived} ({framework} only)", flush=True)
                executed[framework] = frameworks.split(nb, framework, path.name)
                try:
                    wall, peak, cpu = profile_one(derived, executed[framework], framework)
                except NotebookFailed as error:
                    print(error, file=sys.stderr)
                    return 1
                rows.append((derived, wall, peak, cpu))
            for framework, derived_nb in executed.items():
                write(normalize(stamp(derived_nb)), frameworks.derived_path(path, framework))
            write(normalize(stamp(frameworks.merge(nb, executed))), path)
            continue
        try:
            wall, peak, cpu = profile_one(path, nb)
        except NotebookFailed as error:
            print(error, file=sys.stderr)
            return 1
        write(normalize(stamp(nb)), path)
        rows.append((path, wall, peak, cpu))
    if report is not None:
        write_report(rows, report)
    return 0


def stamp(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Record the kind of CPU the outputs were computed on (tools/cpu_kind.py), in place."""
    nb.metadata.setdefault("godeep", {})[OUTPUTS_CPU] = cpu_kind()
    return nb


def sources(paths: list[Path]) -> list[Path]:
    """The notebooks to execute for `paths`: a derived notebook stands for its source."""
    found: list[Path] = []
    for path in paths:
        nb = read(path)
        if frameworks.derived_framework(nb) is not None:
            path = frameworks.source_path(path, nb)
        if path not in found:
            found.append(path)
    return found


def runnable(paths: list[Path]) -> list[tuple[Path, str | None]]:
    """The notebooks that run on their own kernel for `paths`, with the framework each may
    import (None: both): a split source stands for its derived notebooks."""
    found: list[tuple[Path, str | None]] = []
    for path in paths:
        nb = read(path)
        if frameworks.is_split(nb):
            pairs = [(frameworks.derived_path(path, fw), fw) for fw in frameworks.TAGS]
        else:
            pairs = [(path, frameworks.derived_framework(nb))]
        found += [pair for pair in pairs if pair not in found]
    return found


def cmd_split(paths: list[Path]) -> int:
    """Write the derived notebooks of each split source, unexecuted (execute runs them)."""
    for path in sources(paths):
        nb = ensure_colab_cell(read(path))
        if not frameworks.is_split(nb):
            print(
                f"{path}: not a split source (metadata godeep.split is not true)", file=sys.stderr
            )
            return 1
        for framework in frameworks.TAGS:
            derived = frameworks.derived_path(path, framework)
            write(normalize(frameworks.split(nb, framework, path.name)), derived)
            print(f"wrote {derived}")
    return 0


def cmd_merge(paths: list[Path]) -> int:
    """Merge the stored outputs of each split source's derived notebooks into the source
    (no execution: for a change to the merge itself, or after running a derived notebook
    by hand); refuses derived notebooks whose cells are not the source's."""
    for path in sources(paths):
        nb = ensure_colab_cell(read(path))
        if not frameworks.is_split(nb):
            print(
                f"{path}: not a split source (metadata godeep.split is not true)", file=sys.stderr
            )
            return 1
        executed = {}
        for framework in frameworks.TAGS:
            derived = frameworks.derived_path(path, framework)
            executed[framework] = read(derived)
            if frameworks.stale(executed[framework], nb, framework, path.name):
                print(f"{derived}: its cells are not the source's (run execute)", file=sys.stderr)
                return 1
        write(normalize(frameworks.merge(nb, executed)), path)
        print(f"merged {path}")
    return 0


def cmd_normalize(paths: list[Path]) -> int:
    """Normalize each notebook in place (no execution)."""
    for path in paths:
        write(normalize(read(path)), path)
    return 0


# --------------------------------------------------------------------------- check


def problems(path: Path) -> list[str]:
    """What is wrong with a stored notebook, one sentence each (empty when all is well)."""
    found = []
    if path.stat().st_size > MAX_FILE_BYTES:
        found.append(
            f"file is {path.stat().st_size / 1e6:.1f} MB (> {MAX_FILE_BYTES / 1e6:.0f} MB)"
        )
    nb = read(path)
    if "widgets" in nb.metadata:
        found.append("notebook metadata holds widget state")
    if nb.metadata.get("kernelspec") != KERNELSPEC:
        found.append("kernelspec is not the canonical one (run normalize)")
    if nb.metadata.get("language_info") != LANGUAGE_INFO:
        found.append("language_info is not the canonical one (run normalize)")
    first = nb.cells[0] if nb.cells else None
    if first is None or first.get("id") != COLAB_CELL_ID or first.source != colab_cell_source():
        found.append("the first cell is not the current Colab set-up cell (run execute)")
    extra = [i for i, cell in enumerate(nb.cells[1:], 1) if is_colab_cell(cell)]
    if extra:
        found.append(f"cells {extra}: another Colab set-up cell (run execute)")
    if not frameworks.godeep_meta(nb).get(OUTPUTS_CPU):
        found.append("the kind of CPU its outputs come from is not recorded (run execute)")
    expected = 1
    for index, cell in enumerate(nb.cells):
        volatile = [key for key in VOLATILE_CELL_METADATA if key in cell.metadata]
        if volatile:
            found.append(f"cell {index}: volatile metadata {volatile}")
        if cell.cell_type != "code":
            continue
        if cell.execution_count is None:
            if cell.source.strip() and "skip-execution" not in cell.metadata.get("tags", []):
                found.append(f"cell {index}: code cell not executed")
        elif cell.execution_count != expected:
            found.append(
                f"cell {index}: execution count {cell.execution_count}, expected {expected}"
            )
            expected = cell.execution_count + 1
        else:
            expected += 1
        if any(WIDGET_MIME in output.get("data", {}) for output in cell.outputs):
            found.append(f"cell {index}: widget output")
        lines = cell.source.rstrip().splitlines()
        is_plot = (
            any(
                key.startswith("image/")
                for output in cell.outputs
                for key in output.get("data", {})
            )
            or "plt." in cell.source
        )
        if is_plot and lines and lines[-1].rstrip().endswith(";"):
            found.append(f"cell {index}: plot cell ends with ';' (end it with plt.show())")
    if frameworks.is_split(nb):
        found += frameworks.problems(path, nb, read, normalize)
    elif (
        set(nb.metadata.get("godeep", {})) - {OUTPUTS_CPU}
        and frameworks.derived_framework(nb) is None
    ):
        found.append(
            f"notebook metadata godeep {dict(nb.metadata.godeep)} is neither a split source nor derived"
        )
    return found


def cmd_check(paths: list[Path]) -> int:
    """Print every problem of every notebook; exit 1 if there was any."""
    bad = 0
    for path in paths:
        for problem in problems(path):
            print(f"{path}: {problem}")
            bad += 1
    print(f"{len(paths)} notebook(s) checked, {bad} problem(s)")
    return 1 if bad else 0


# --------------------------------------------------------------------------- profile


def profile_one(
    path: Path, nb: nbformat.NotebookNode | None = None, framework: str | None = None
) -> tuple[float, float, float]:
    """Execute the notebook `nb` (read from `path` if not given; the file is not written),
    with only `framework` importable if given; return (wall s, peak MB, kernel CPU s).

    The wall time covers kernel start to shutdown. Peak memory is sampled after every
    cell (VmHWM never decreases, so the last sample is the peak just before shutdown);
    child processes of the kernel are included, taking the max of their peaks.
    """
    peak = cpu = 0.0

    def sample(client):
        nonlocal peak, cpu
        pid = kernel_pid(client)
        peak = max(peak, peak_rss_mb(pid))
        cpu = max(cpu, cpu_seconds(pid))

    start = time.perf_counter()
    run(read(path) if nb is None else nb, path, on_cell_done=sample, framework=framework)
    return time.perf_counter() - start, peak, cpu


def _profile_row(item: tuple[Path, str | None]) -> tuple:
    """(path, wall, peak, cpu) of one runnable notebook; (path, None, None, None) if it failed."""
    path, framework = item
    print(f"profiling {path}", file=sys.stderr, flush=True)
    try:
        wall, peak, cpu = profile_one(path, framework=framework)
    except NotebookFailed as error:
        print(error, file=sys.stderr)
        return (path, None, None, None)
    return (path, wall, peak, cpu)


def cmd_profile(paths: list[Path], report: Path, jobs: int = 1) -> int:
    """Profile each notebook, write a Markdown table to `report` and print it. The table is
    rewritten after every notebook, so an interrupted run keeps the rows it measured.

    ``jobs`` > 1 runs that many notebooks at a time (each in a process of its own; a kernel
    computes on one thread, so two jobs on two cores keep each kernel's wall time close to
    what it is alone); the rows keep the order of the notebooks."""
    items = runnable(paths)
    done: dict[int, tuple] = {}

    def record(i: int, row: tuple) -> None:
        done[i] = row
        write_report([done[k] for k in sorted(done)], report, show=False, jobs=jobs)

    if jobs <= 1:
        for i, item in enumerate(items):
            record(i, _profile_row(item))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = {pool.submit(_profile_row, item): i for i, item in enumerate(items)}
            for future in as_completed(futures):
                record(futures[future], future.result())
    rows = [done[k] for k in sorted(done)]
    print(write_report(rows, report, show=False, jobs=jobs))
    return 1 if any(row[1] is None for row in rows) else 0


# --------------------------------------------------------------------------- CLI


def nbval_paths(args: list[str]) -> list[str]:
    """The arguments for nbval: a split source notebook stands for its derived notebooks
    (nbval never runs a source); folders, patterns and other notebooks are kept as given."""
    out = []
    for arg in args:
        path = Path(arg)
        if path.suffix == ".ipynb" and path.is_file() and frameworks.is_split(read(path)):
            out += [str(frameworks.derived_path(path, fw)) for fw in frameworks.TAGS]
        else:
            out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one subcommand."""
    parser = argparse.ArgumentParser(prog="nb.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_ in [
        ("execute", "execute notebooks in place, then normalize them"),
        ("normalize", "strip volatile metadata, renumber execution counts"),
        ("check", "list problems; exit 1 if any"),
        ("profile", "measure wall time and kernel peak memory"),
        ("split", "write the derived notebooks of split sources (unexecuted)"),
        ("merge", "merge the derived notebooks' stored outputs into their split sources"),
        ("nbval-paths", "print the paths nbval runs for PATHs: a split source's derived notebooks"),
    ]:
        command = sub.add_parser(name, help=help_)
        command.add_argument("paths", nargs="+", metavar="PATH", help="notebook or folder")
        if name == "profile":
            command.add_argument("--report", required=True, type=Path, help="Markdown file")
            command.add_argument(
                "--jobs", type=int, default=1, help="notebooks run at a time (default 1)"
            )
        if name == "execute":
            command.add_argument(
                "--report", type=Path, help="also write the run's profile (Markdown)"
            )
    args = parser.parse_args(argv)
    if args.command == "nbval-paths":
        print(" ".join(nbval_paths(args.paths)))
        return 0
    paths = find_notebooks(args.paths)
    if args.command == "execute":
        return cmd_execute(paths, args.report)
    if args.command == "normalize":
        return cmd_normalize(paths)
    if args.command == "check":
        return cmd_check(paths)
    if args.command == "split":
        return cmd_split(paths)
    if args.command == "merge":
        return cmd_merge(paths)
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    return cmd_profile(paths, args.report, args.jobs)


if __name__ == "__main__":
    sys.exit(main())
