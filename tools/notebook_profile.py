"""Measuring notebooks for `tools/nb.py profile`: a kernel's CPU time and peak memory, and the
Markdown report of one row per notebook (per framework for a split notebook)."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
from nbclient import NotebookClient

from tools import frameworks
from tools.notebook_files import read

BUDGET_WALL_S = 120
BUDGET_PEAK_MB = 1536


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


def framework_label(path: Path) -> str:
    """'pytorch' / 'tensorflow' for a derived notebook, 'both' for an unsplit one."""
    try:
        return frameworks.derived_framework(read(path)) or "both"
    except (OSError, ValueError):
        return "?"


def write_report(rows: list[tuple], report: Path, show: bool = True, jobs: int = 1) -> str:
    """Write the Markdown profile table of (path, wall, peak, cpu) rows (wall None: failed);
    print it too if `show`. ``jobs``: how many notebooks ran at a time (said under the table)."""
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
    at_a_time = f" ({jobs} notebooks at a time)" if jobs > 1 else ""
    table += (
        f"\nTotal: {total:.0f} s{at_a_time}. Budget: {BUDGET_WALL_S} s wall,"
        f" {BUDGET_PEAK_MB} MB peak kernel memory per notebook."
        " Kernel CPU time (user + system) does not grow when other programs share the cores;"
        f" load average at the end: {os.getloadavg()[0]:.1f}.\n"
    )
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(table)
    if show:
        print(table)
    return table
