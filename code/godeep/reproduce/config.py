"""The settings of one run, shared by the PyTorch and Keras runners (framework-neutral)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .recipe import Recipe, check_depth, paper_recipe

__all__ = ["RunConfig", "SetupError", "recipe_for", "RESUME_KEYS"]

EXPERIMENTS = ("cifar-resnet", "norm-batch")
FRAMEWORKS = ("pytorch", "keras")
NORMS = ("batch", "group")
#: settings that must match between a checkpoint and the run resuming from it
RESUME_KEYS = (
    "experiment",
    "framework",
    "depth",
    "plain",
    "norm",
    "groups",
    "sync_bn",
    "batch_size",
    "per_device_batch",
    "steps",
    "lr",
    "warmup",
    "seed",
    "train_subset",
    "val_split",
)


class SetupError(RuntimeError):
    """A run cannot start as asked (devices, processes, arguments): the message says why."""


@dataclass
class RunConfig:
    """One run: the experiment, the model, the recipe's knobs, the data, the machine."""

    experiment: str = "cifar-resnet"
    framework: str = "pytorch"
    depth: int = 56
    plain: bool = False
    norm: str = "batch"
    groups: int = 32
    sync_bn: bool = False
    batch_size: int | None = None  # global; None: 128 (cifar-resnet) or per_device * devices
    per_device_batch: int | None = None
    steps: int | None = None  # None: 64k (cifar-resnet) or `epochs` epochs (norm-batch)
    epochs: float = 164.0
    lr: float | None = None  # None: 0.1 * batch / 128
    warmup: str = "auto"  # auto (depth >= 110) | on | off
    train_subset: int | None = None
    test_subset: int | None = None
    val_split: bool = False
    data_dir: str | None = None
    out: str = "runs/reproduce"
    device: str | None = None  # cpu | cuda (None: cuda when available)
    devices: int | None = None  # Keras: number of devices for MirroredStrategy
    amp: bool = False
    channels_last: bool = False
    compile: bool = False
    seed: int = 0
    resume: bool = False
    stop_after: int | None = None  # iterations in this session, then checkpoint and stop
    log_every: int = 100
    eval_every: int = 1000
    checkpoint_every: int = 1000
    threads: int | None = None
    eval_batch: int = 1000

    def __post_init__(self) -> None:
        if self.experiment not in EXPERIMENTS:
            raise ValueError(f"experiment must be one of {EXPERIMENTS}, got {self.experiment!r}")
        if self.framework not in FRAMEWORKS:
            raise ValueError(f"framework must be one of {FRAMEWORKS}, got {self.framework!r}")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.warmup not in ("auto", "on", "off"):
            raise ValueError(f"warmup must be auto, on or off, got {self.warmup!r}")
        if self.device not in (None, "cpu", "cuda"):
            raise ValueError(f"device must be cpu or cuda, got {self.device!r}")
        check_depth(self.depth)
        for name in (
            "batch_size",
            "per_device_batch",
            "steps",
            "train_subset",
            "test_subset",
            "devices",
            "threads",
            "stop_after",
        ):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("log_every", "eval_every", "checkpoint_every", "groups", "eval_batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.plain and self.experiment == "norm-batch":
            raise ValueError("norm-batch uses residual nets; drop --plain")
        if self.norm == "group" and self.sync_bn:
            raise ValueError("--sync-bn synchronizes BatchNorm; GroupNorm has no batch statistics")

    def global_batch(self, world_size: int) -> int:
        """The global batch: --batch-size, else per-device batch x processes, else 128."""
        if self.per_device_batch is not None:
            b = self.per_device_batch * world_size
            if self.batch_size is not None and self.batch_size != b:
                raise SetupError(
                    f"--batch-size {self.batch_size} contradicts --per-device-batch "
                    f"{self.per_device_batch} x {world_size} processes = {b}"
                )
            return b
        b = 128 if self.batch_size is None else self.batch_size
        if b % world_size:
            raise SetupError(
                f"the global batch {b} must be divisible by the {world_size} processes"
            )
        return b

    def to_dict(self) -> dict:
        return asdict(self)


def recipe_for(cfg: RunConfig, global_batch: int, n_train: int) -> Recipe:
    """He et al.'s recipe for ``cfg`` (see :func:`paper_recipe`); norm-batch trains a fixed
    number of epochs at every batch size, as Wu & He did, so its steps = epochs * n / batch."""
    if cfg.steps is not None:
        steps = cfg.steps
    elif cfg.experiment == "norm-batch":
        steps = max(1, math.ceil(cfg.epochs * n_train / global_batch))
    else:
        steps = 64_000
    warm = {"auto": None, "on": True, "off": False}[cfg.warmup]
    recipe = paper_recipe(cfg.depth, steps=steps, batch_size=global_batch, warmup=warm)
    if cfg.lr is not None:
        recipe = Recipe(**{**recipe.to_dict(), "lr": cfg.lr, "warmup_lr": cfg.lr / 10})
    return recipe
