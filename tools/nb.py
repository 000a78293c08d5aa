#!/usr/bin/env python3
"""Notebook tooling for Going Deep: execute, normalize, check and profile notebooks.

    python tools/nb.py execute   PATH...   # run in place, then normalize
    python tools/nb.py normalize PATH...   # strip volatile metadata only (idempotent)
    python tools/nb.py check     PATH...   # list problems, exit 1 if any
    python tools/nb.py profile   PATH... --report _build/profile.md
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
import json
import os
import sys
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

if __package__ in (None, ""):  # run as a script: python tools/nb.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools import frameworks  # noqa: E402

CELL_TIMEOUT_S = 600
KERNEL_NAME = "python3"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}
MAX_FILE_BYTES = 3_000_000
BUDGET_WALL_S = 120
BUDGET_PEAK_MB = 1536
SKIP_DIRS = {".ipynb_checkpoints", "_build"}
ROOT = Path(__file__).resolve().parent.parent
COLAB_CELL_ID = "colab-setup"


# --------------------------------------------------------------------------- files


def find_notebooks(paths: list[str]) -> list[Path]:
    """Expand files and folders into a sorted list of notebooks (folders recursively)."""
    found: list[Path] = []
    for arg in paths:
        path = Path(arg)
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*.ipynb") if not SKIP_DIRS & set(p.relative_to(path).parts)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise SystemExit(f"nb.py: no such notebook or folder: {arg}")
    return found


def read(path: Path) -> nbformat.NotebookNode:
    """Read a notebook as nbformat v4, giving cells that lack an id a deterministic one
    (nbformat would invent random ids, which would churn diffs)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    if (raw.get("nbformat"), raw.get("nbformat_minor", 0)) >= (4, 5):
        for index, cell in enumerate(raw.get("cells", [])):
            cell.setdefault("id", f"cell-{index}")
    return nbformat.reads(json.dumps(raw), as_version=4)


def write(nb: nbformat.NotebookNode, path: Path) -> None:
    """Write like JupyterLab does (indent=1, sorted keys, trailing newline) for small diffs."""
    nbformat.write(nb, path)


# --------------------------------------------------------------------------- normalize


def normalize(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip what changes from run to run, in place; cell ids and outputs' content are kept.

    Drops cell timing metadata and notebook widget state, sets kernelspec and language_info
    to one canonical form, renumbers executed code cells 1..n in order (their
    execute_result outputs too) and removes widget-view outputs (keeping any text/plain
    fallback). Applying it twice gives the same notebook.
    """
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = json.loads(json.dumps(LANGUAGE_INFO))
    count = 0
    for cell in nb.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type != "code":
            continue
        if cell.execution_count is not None:
            count += 1
            cell.execution_count = count
        outputs = []
        for output in cell.outputs:
            data = output.get("data")
            if data is not None and WIDGET_MIME in data:
                del data[WIDGET_MIME]
                if not data:
                    continue
            if output.output_type == "execute_result":
                output.execution_count = cell.execution_count
            outputs.append(output)
        cell.outputs = outputs
    return nb


def repository_url() -> str:
    """The course repository's address, from its one home: `repository_url` in _config.yml."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["repository"]["url"]


def colab_cell_source() -> str:
    """The first cell of every notebook: on Colab, install the course package (elsewhere a no-op)."""
    return (
        "# On Google Colab, install the course's package first; elsewhere this cell does nothing.\n"
        "import sys\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet "godeep @ git+{repository_url()}#subdirectory=code"\n'
    ).rstrip("\n")


def ensure_colab_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Make the Colab set-up cell the notebook's first cell, with the current repository URL.

    The cell carries the `remove-cell` tag: the book does not show it (the site has nothing
    to install), the notebook a reader downloads or opens in Colab starts with it.
    """
    cells = [cell for cell in nb.cells if cell.get("id") != COLAB_CELL_ID]
    cell = nbformat.v4.new_code_cell(colab_cell_source(), metadata={"tags": ["remove-cell"]})
    cell.id = COLAB_CELL_ID
    nb.cells = [cell, *cells]
    return nb


# --------------------------------------------------------------------------- execute


def kernel_pid(client: NotebookClient) -> int:
    """The process id of the client's running kernel, from its local provisioner."""
    return client.km.provisioner.pid


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) in MB of a process and its children, the max of them."""
    peaks = []
    try:
        pids = [pid] + [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    for one in pids:
        try:
            status = Path(f"/proc/{one}/status").read_text()
        except OSError:  # the child already exited
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)  # kB -> MB
    return max(peaks, default=0.0)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, s) used so far by a process and its children (live or reaped).

    Unlike wall time, it does not grow when other programs compete for the cores, so it is
    the fairer measure of a notebook's cost on a busy machine."""
    try:
        processes = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


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
                write(normalize(derived_nb), frameworks.derived_path(path, framework))
            write(normalize(frameworks.merge(nb, executed)), path)
            continue
        try:
            wall, peak, cpu = profile_one(path, nb)
        except NotebookFailed as error:
            print(error, file=sys.stderr)
            return 1
        write(normalize(nb), path)
        rows.append((path, wall, peak, cpu))
    if report is not None:
        write_report(rows, report)
    return 0


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
    elif "godeep" in nb.metadata and frameworks.derived_framework(nb) is None:
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


def framework_label(path: Path) -> str:
    """'pytorch' / 'tensorflow' for a derived notebook, 'both' for an unsplit one."""
    try:
        return frameworks.derived_framework(read(path)) or "both"
    except (OSError, ValueError):
        return "?"


def write_report(rows: list[tuple], report: Path) -> str:
    """Write the Markdown profile table of (path, wall, peak, cpu) rows (wall None: failed)."""
    lines = [
        "| notebook | framework | wall s | kernel CPU s | peak MB | within budget |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for path, wall, peak, cpu in rows:
        framework = framework_label(path)
        if wall is None:
            lines.append(f"| {path} | {framework} | | | | **error** |")
            continue
        ok = wall <= BUDGET_WALL_S and peak <= BUDGET_PEAK_MB
        lines.append(
            f"| {path} | {framework} | {wall:.1f} | {cpu:.1f} | {peak:.0f} | {'yes' if ok else '**NO**'} |"
        )
    total = sum(row[1] for row in rows if row[1] is not None)
    table = "\n".join(lines) + "\n"
    table += (
        f"\nTotal: {total:.0f} s. Budget: {BUDGET_WALL_S} s wall, {BUDGET_PEAK_MB} MB peak kernel memory per notebook."
        " Kernel CPU time (user + system) does not grow when other programs share the cores;"
        f" load average at the end: {os.getloadavg()[0]:.1f}.\n"
    )
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(table)
    print(table)
    return table


def cmd_profile(paths: list[Path], report: Path) -> int:
    """Profile each notebook, write a Markdown table to `report` and print it."""
    rows: list[tuple] = []
    failed = 0
    for path, framework in runnable(paths):
        print(f"profiling {path}", file=sys.stderr, flush=True)
        try:
            wall, peak, cpu = profile_one(path, framework=framework)
        except NotebookFailed as error:
            print(error, file=sys.stderr)
            rows.append((path, None, None, None))
            failed += 1
            continue
        rows.append((path, wall, peak, cpu))
    write_report(rows, report)
    return 1 if failed else 0


# --------------------------------------------------------------------------- CLI


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
    ]:
        command = sub.add_parser(name, help=help_)
        command.add_argument("paths", nargs="+", metavar="PATH", help="notebook or folder")
        if name == "profile":
            command.add_argument("--report", required=True, type=Path, help="Markdown file")
        if name == "execute":
            command.add_argument(
                "--report", type=Path, help="also write the run's profile (Markdown)"
            )
    args = parser.parse_args(argv)
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
    return cmd_profile(paths, args.report)


if __name__ == "__main__":
    sys.exit(main())
