"""The framework-neutral core: importing a Keras twin never loads PyTorch, and the neutral
modules (:mod:`godeep.validate`, :mod:`godeep.core`) load neither framework."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

CODE = Path(__file__).resolve().parents[1] / "code"
FRAMEWORKS = ("torch", "tensorflow")


def _modules(package: str) -> list[str]:
    path = CODE.joinpath(*package.split("."))
    return [f"{package}.{m.name}" for m in pkgutil.iter_modules([str(path)])]


KERAS_MODULES = _modules("godeep.keras")
NEUTRAL_MODULES = ["godeep.validate", "godeep.core"] + _modules("godeep.core")

# Imports each module in turn in a fresh interpreter and reports, for each, which of the
# frameworks were loaded after it (imports only add modules, so the first module to load a
# framework is the one that imports it).
_PROBE = """
import importlib, json, sys
seen = {}
for name in sys.argv[1:]:
    importlib.import_module(name)
    seen[name] = [f for f in ("torch", "tensorflow") if f in sys.modules]
print(json.dumps(seen))
"""


def _loaded(modules: list[str]) -> dict[str, list[str]]:
    env = dict(os.environ, PYTHONPATH=str(CODE), TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, "-c", _PROBE, *modules], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_module_lists_are_found():
    assert {"godeep.keras.residual", "godeep.keras.models", "godeep.keras.transformer"} <= set(KERAS_MODULES)
    assert {"godeep.core.models", "godeep.core.residual", "godeep.core.train"} <= set(NEUTRAL_MODULES)


def test_no_keras_module_imports_torch():
    loaded = _loaded(KERAS_MODULES)
    with_torch = [m for m in KERAS_MODULES if "torch" in loaded[m]]
    assert not with_torch, f"importing {with_torch[0]} imports torch (import it inside the function that needs it)"
    assert all("tensorflow" in loaded[m] for m in KERAS_MODULES)  # the probe sees an import when there is one


def test_neutral_modules_import_no_framework():
    loaded = _loaded(NEUTRAL_MODULES)
    offenders = {m: f for m, f in loaded.items() if f}
    assert not offenders, f"framework-neutral modules import a framework: {offenders}"


@pytest.mark.parametrize("twin, names", [
    ("models", ["ACTIVATIONS", "NORMS", "check_architecture", "check_convnet", "check_dtype", "check_norm"]),
    ("resmlp", ["ROUTES", "check_flags", "check_path_args", "route_random_path"]),
    ("transformer", ["NORMS", "LN_EPS", "TASKS", "check_block", "check_tokens", "check_pairs", "sequence_task",
                     "warmup_lr"]),
    ("train", ["History", "batches", "epoch_plan", "check_fit_args", "check_fit_data", "check_eval_args"]),
    ("residual", ["ACTIVATION_ORDERS", "check_mnist_residual_convnet", "check_variant_options", "cifar_depths"]),
])
def test_pytorch_modules_re_export_the_core(twin, names):
    """The PyTorch module keeps every name it had, and it is the core's object (one definition)."""
    import importlib

    core = importlib.import_module(f"godeep.core.{twin}")
    torch_module = importlib.import_module(f"godeep.{twin}")
    for name in names:
        assert getattr(torch_module, name) is getattr(core, name), name


def test_private_names_kept_for_old_imports():
    from godeep import residual, resmlp, transformer
    from godeep.core import residual as core_residual
    from godeep.core import resmlp as core_resmlp

    assert residual._blocks_per_stage is core_residual.blocks_per_stage
    assert residual._check_block is core_residual.check_block
    assert resmlp._check_branch_scale is core_resmlp.check_branch_scale
    assert resmlp._check_zero_init is core_resmlp.check_zero_init
    with pytest.raises(ValueError, match="n_heads must be >= 1"):
        transformer._positive_int("n_heads", 0)
    with pytest.raises(ValueError, match="inplanes must be >= 1"):
        residual._check_block(0, 4, 1)


def test_imagenet_stages_match_the_pytorch_table():
    """``RESNET_LAYERS`` (block classes) is built from the neutral ``RESNET_STAGES`` (block kinds)."""
    from godeep import residual
    from godeep.core.residual import RESNET_STAGES

    assert list(residual.RESNET_LAYERS) == [18, 34, 50, 101, 152] == list(RESNET_STAGES)
    for depth, (block, counts) in residual.RESNET_LAYERS.items():
        kind, core_counts = RESNET_STAGES[depth]
        assert block is {"basic": residual.BasicBlock, "bottleneck": residual.Bottleneck}[kind]
        assert counts == core_counts
        # the paper's depth: 2 layers per basic block, 3 per bottleneck, plus the stem conv and the fc
        assert depth == {"basic": 2, "bottleneck": 3}[kind] * sum(counts) + 2


def test_blocks_per_stage_is_the_n_of_6n_plus_2():
    from godeep.core.residual import blocks_per_stage, cifar_depths

    assert [blocks_per_stage(d) for d in cifar_depths(4)] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="6n\\+2"):
        blocks_per_stage(10)
    with pytest.raises(TypeError, match="depth must be an int"):
        blocks_per_stage(8.0)
