"""Full-scale reproductions: He et al.'s CIFAR-10 ResNets and Wu & He's batch-size study.

Command line (see ``python -m godeep.reproduce --help``)::

    python -m godeep.reproduce prepare-data --data-dir DIR
    python -m godeep.reproduce cifar-resnet --framework pytorch --depth 56 --data-dir DIR --out OUT
    torchrun --nproc_per_node=4 -m godeep.reproduce cifar-resnet --depth 110 --data-dir DIR --out OUT
    python -m godeep.reproduce cifar-resnet --framework keras --depth 56 --data-dir DIR --out OUT
    python -m godeep.reproduce norm-batch --norm group --per-device-batch 2 --data-dir DIR --out OUT

This package imports neither PyTorch nor TensorFlow; the runners
(:mod:`godeep.reproduce.torch_runner`, :mod:`godeep.reproduce.keras_runner`) do.
"""

from .augment import crop_flip, crop_flip_params, pad, per_pixel_mean
from .config import RunConfig, SetupError
from .data import DataError, load_prepared
from .metrics import read_metrics
from .recipe import TABLE6, TABLE6_110_MEAN_STD, WU_HE_BATCH_ERRORS, Recipe, lr_at, paper_recipe

__all__ = [
    "RunConfig",
    "SetupError",
    "DataError",
    "Recipe",
    "paper_recipe",
    "lr_at",
    "TABLE6",
    "TABLE6_110_MEAN_STD",
    "WU_HE_BATCH_ERRORS",
    "crop_flip",
    "crop_flip_params",
    "pad",
    "per_pixel_mean",
    "load_prepared",
    "read_metrics",
    "run",
]


def run(cfg: RunConfig) -> dict:
    """Run ``cfg`` with its framework's runner; returns the last metrics record."""
    if cfg.framework == "pytorch":
        from .torch_runner import run as run_torch

        return run_torch(cfg)
    from .keras_runner import run as run_keras

    return run_keras(cfg)
