"""The kind of CPU a notebook's stored outputs were computed on.

Training runs are reproducible on one kind of CPU, not across kinds. PyTorch, oneDNN and MKL
pick their kernels by instruction set at run time (AVX-512 where the CPU has it, AVX2
otherwise), and Eigen, under TensorFlow, sizes its matrix-product blocks by the caches it
reads from the CPU: the same sums are taken in another order, the last bit of a float differs,
and a few hundred training steps later the printed digits differ too (the course's CI, moved
from one CPU kind to another with no change of code, saw 117 notebook cells print other
numbers while every assert held; see PyTorch's reproducibility notes: "completely
reproducible results are not guaranteed ... across platforms").

So `tools/nb.py execute` records the kind in each notebook (metadata ``godeep.outputs_cpu``)
and the root conftest.py compares outputs strictly where the kinds match; on another kind it
compares them with every number masked (text, structure and each cell's asserts still count),
and says so in the test summary.

    python tools/cpu_kind.py     # this machine's kind
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

#: The instruction-set extensions that decide which kernels the math libraries run.
ISA = (
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_tile",
)
#: The key under a notebook's ``godeep`` metadata that records the kind.
OUTPUTS_CPU = "outputs_cpu"
CPUINFO = Path("/proc/cpuinfo")
CACHES = Path("/sys/devices/system/cpu/cpu0/cache")


def _first_cpu(cpuinfo: str) -> dict[str, str]:
    """The ``key: value`` fields of the first processor in /proc/cpuinfo's text."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def _caches(folder: Path) -> str:
    """The data and unified caches of one core, e.g. ``L1d 32K L2 512K L3 32768K``."""
    found = []
    for index in sorted(folder.glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            level = (index / "level").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind != "Instruction":
            found.append(f"L{level}{'d' if kind == 'Data' else ''} {size}")
    return " ".join(found)


def cpu_kind(cpuinfo: str | None = None, caches: Path = CACHES) -> str:
    """A one-line name for this machine's kind of CPU, as far as floating-point results go:
    vendor, family/model, the ISA extensions of :data:`ISA` it has, its caches.

    ``"AuthenticAMD 25/1 avx avx2 fma L1d 32K L2 512K L3 32768K"``; where /proc/cpuinfo is
    missing (macOS, Windows), the machine and processor names Python reports."""
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text()
        except OSError:
            cpuinfo = ""
    fields = _first_cpu(cpuinfo)
    if not fields:
        return f"{platform.machine()} {platform.processor()}".strip() or "unknown"
    flags = set(fields.get("flags", "").split())
    parts = [
        fields.get("vendor_id", "?"),
        f"{fields.get('cpu family', '?')}/{fields.get('model', '?')}",
        *[name for name in ISA if name in flags],
    ]
    cache = _caches(caches)
    return " ".join(parts + ([cache] if cache else []))


#: nbval sanitizer pairs (regex, replacement) for outputs stored on another kind of CPU, applied
#: after tests/nbval-sanitize.cfg's: every number (and nan, inf) becomes "#", and white space
#: goes (a number's width moves the padding of the columns after it, NumPy pads an array's
#: numbers to the widest, "[ 0.5 10.2]", and breaks its lines by width): the words and their
#: order are what is left to compare.
MASK_NUMBERS = {
    r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|\b(?:nan|inf)\b": "#",
    r"\s+": "",
}
#: Set to 1, outputs are compared strictly whatever kind of CPU they were stored on.
STRICT_ENV = "GODEEP_NBVAL_STRICT"
#: Set to 1, every notebook's numbers are masked, as if stored on another kind (`make rounding`).
MASK_ENV = "GODEEP_NBVAL_MASK"


def recorded_kind(metadata: dict) -> str | None:
    """The kind of CPU recorded in a notebook's metadata (None if none is)."""
    return (metadata.get("godeep") or {}).get(OUTPUTS_CPU)


def masks_numbers(metadata: dict, here: str | None = None) -> bool:
    """Whether nbval should compare this notebook's outputs with the numbers masked: they were
    stored on another kind of CPU than this one, or GODEEP_NBVAL_MASK is 1 (GODEEP_NBVAL_STRICT
    set to 1 overrides both)."""
    if os.environ.get(STRICT_ENV, "").strip() == "1":
        return False
    if os.environ.get(MASK_ENV, "").strip() == "1":
        return True
    recorded = recorded_kind(metadata)
    return recorded is not None and recorded != (here or cpu_kind())


if __name__ == "__main__":
    print(cpu_kind())
