"""tools/cpu_kind.py and the root conftest.py's use of it: a notebook's outputs are compared
strictly on the kind of CPU they were stored on, with numbers masked on another kind, where
text, structure and asserts still count."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from tools import nb as nbtool
from tools.cpu_kind import (
    MASK_ENV,
    MASK_NUMBERS,
    OUTPUTS_CPU,
    STRICT_ENV,
    cpu_kind,
    masks_numbers,
)

ROOT = Path(__file__).resolve().parents[1]

INTEL = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 143
model name\t: Intel(R) Xeon(R) Platinum 8481C
flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512bw avx512vl avx512_vnni avx512_bf16 amx_tile

processor\t: 1
vendor_id\t: SomethingElse
"""
ZEN3 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
flags\t\t: fpu sse sse2 avx avx2 fma
"""


def _caches(folder: Path, sizes: dict[tuple[str, str], str]) -> Path:
    for i, ((level, kind), size) in enumerate(sizes.items()):
        index = folder / f"index{i}"
        index.mkdir(parents=True)
        (index / "level").write_text(level + "\n")
        (index / "type").write_text(kind + "\n")
        (index / "size").write_text(size + "\n")
    return folder


def test_kind_names_vendor_model_isa_and_caches(tmp_path):
    caches = _caches(
        tmp_path,
        {("1", "Data"): "48K", ("1", "Instruction"): "32K", ("2", "Unified"): "2048K"},
    )
    kind = cpu_kind(INTEL, caches)
    assert kind == (
        "GenuineIntel 6/143 avx avx2 fma avx512f avx512bw avx512vl avx512_vnni avx512_bf16 "
        "amx_tile L1d 48K L2 2048K"
    )
    assert cpu_kind(ZEN3, tmp_path / "none") == "AuthenticAMD 25/1 avx avx2 fma"


def test_the_same_machine_gives_the_same_kind():
    assert cpu_kind() == cpu_kind() and cpu_kind().strip()


def test_without_proc_cpuinfo_python_names_the_machine(tmp_path):
    assert cpu_kind("", tmp_path).strip()


def test_numbers_are_masked_only_for_another_kind(monkeypatch):
    monkeypatch.delenv(STRICT_ENV, raising=False)
    monkeypatch.delenv(MASK_ENV, raising=False)
    here = "AuthenticAMD 25/1 avx avx2 fma"
    assert masks_numbers({"godeep": {OUTPUTS_CPU: "GenuineIntel 6/143 avx512f"}}, here)
    assert not masks_numbers({"godeep": {OUTPUTS_CPU: here}}, here)
    assert not masks_numbers({}, here)  # not recorded: strict (tools/nb.py check flags it)
    monkeypatch.setenv(MASK_ENV, "1")  # make rounding: every notebook, as if from elsewhere
    assert masks_numbers({"godeep": {OUTPUTS_CPU: here}}, here) and masks_numbers({}, here)
    monkeypatch.setenv(STRICT_ENV, "1")  # overrides both
    assert not masks_numbers({"godeep": {OUTPUTS_CPU: "GenuineIntel 6/143 avx512f"}}, here)
    assert not masks_numbers({"godeep": {OUTPUTS_CPU: here}}, here)


def _mask(text: str) -> str:
    for pattern, replacement in MASK_NUMBERS.items():
        text = re.sub(pattern, replacement, text)
    return text


def test_the_mask_equates_other_digits_and_padding_not_other_words():
    # two CPUs' lines from the course's CI (4.6, TensorFlow), numbers and padding apart
    a = "  chain-35     median relative gradient [0.0738 0.0559 0.0767]\n  lr 0.1   [0.7, 0.48]"
    b = "  chain-35     median relative gradient [0.0738 0.056  0.0766]\n  lr 0.1   [0.71, 0.53]"
    assert a != b and _mask(a) == _mask(b)
    assert _mask("loss 1.5e-05, nan") == _mask("loss 2, 0.3")
    # NumPy pads an array to its widest number, and wraps it by width
    assert _mask("factor [1.  3.3 2.5]\n") == _mask("factor [ 1.   3.3 12.5]\n")
    assert _mask("[0.1 0.2\n 0.3]") == _mask("[0.1 0.2 0.3]")
    assert _mask("best: Kaiming 0.48") != _mask("best: LSUV 0.48")


def test_execute_records_the_kind_and_check_asks_for_it(tmp_path):
    cell = v4.new_code_cell("print(1)", execution_count=1)
    nb = v4.new_notebook(cells=[cell])
    assert nbtool.stamp(nb).metadata.godeep[OUTPUTS_CPU] == cpu_kind()
    path = tmp_path / "n.ipynb"
    nbformat.write(v4.new_notebook(cells=[cell], metadata={"kernelspec": nbtool.KERNELSPEC}), path)
    assert any("kind of CPU" in p for p in nbtool.problems(path))
    nbformat.write(nbtool.stamp(nbformat.read(path, as_version=4)), path)
    assert not any("kind of CPU" in p or "godeep" in p for p in nbtool.problems(path))


def _nbval(notebook: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    from tests.test_make_targets import clean_env

    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(notebook.relative_to(ROOT)),
            "--nbval",
            "--nbval-sanitize-with",
            "tests/nbval-sanitize.cfg",
            "-p",
            "no:xdist",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**clean_env(), **env},
    )


@pytest.mark.parametrize(
    "stored_on, stored, strict, passes",
    [
        ("other", "loss 0.1234  | [0.5 0.25]\n", "0", True),  # other digits, other CPU
        ("here", "loss 0.1234  | [0.5 0.25]\n", "0", False),  # other digits, this CPU
        ("other", "loss 0.1234  | [0.5 0.25]\n", "1", False),  # GODEEP_NBVAL_STRICT=1
        ("other", "accuracy 0.1234  | [0.5 0.25]\n", "0", False),  # other words
        ("here", "loss 0.1235 | [0.5  0.25]\n", "0", True),  # the very output
    ],
)
def test_nbval_masks_numbers_of_outputs_from_another_cpu(stored_on, stored, strict, passes):
    """The conftest's masking under real nbval: a notebook printing `loss 0.1235 | [0.5  0.25]`
    against a stored output, recorded on this kind of CPU or another."""
    source = "import numpy as np\nprint('loss', 0.1235, '|', np.array([0.5, 0.25]))"
    cell = v4.new_code_cell(source, execution_count=1)
    cell.outputs = [v4.new_output("stream", name="stdout", text=stored)]
    kind = cpu_kind() if stored_on == "here" else "GenuineIntel 6/143 avx512f (another kind)"
    (ROOT / "_build").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cpu-kind-", dir=ROOT / "_build") as folder:
        path = Path(folder) / "n.ipynb"
        metadata = {"kernelspec": nbtool.KERNELSPEC, "godeep": {OUTPUTS_CPU: kind}}
        nbformat.write(v4.new_notebook(cells=[cell], metadata=metadata), path)
        result = _nbval(path, {STRICT_ENV: strict})
    out = result.stdout + result.stderr
    assert (result.returncode == 0) == passes, out[-3000:]
    masked_note = "compared with every number masked" in out
    assert masked_note == (stored_on == "other" and strict == "0"), out[-3000:]
