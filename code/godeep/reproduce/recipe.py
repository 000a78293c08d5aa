"""He et al.'s CIFAR-10 recipe (2016, section 4.2) and the paper's numbers to compare against.

Framework-neutral: plain Python, no PyTorch or TensorFlow import.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

__all__ = [
    "Recipe",
    "paper_recipe",
    "lr_at",
    "warmup_finished",
    "check_depth",
    "steps_per_epoch",
    "TABLE6",
    "TABLE6_110_MEAN_STD",
    "WU_HE_BATCH_ERRORS",
]

#: He et al. (2016), Table 6: CIFAR-10 test error (%) of the residual nets (option A).
#: ResNet-110's 6.43 is the best of 5 runs; the mean and std are 6.61 +- 0.16.
TABLE6 = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43}
TABLE6_110_MEAN_STD = (6.61, 0.16)

#: Wu & He (2018), Table 2 (ResNet-50, ImageNet val error %, per-GPU batch 32/16/8/4/2):
#: BN degrades at small batches, GN does not.
WU_HE_BATCH_ERRORS = {
    "batch": {32: 23.6, 16: 23.7, 8: 24.8, 4: 27.3, 2: 34.7},
    "group": {32: 24.1, 16: 24.2, 8: 24.0, 4: 24.2, 2: 24.1},
}


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return value


def check_depth(depth: object) -> int:
    """``depth`` if it is 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), else ValueError."""
    _check_int("depth", depth, 1)
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n+2 with n >= 1 (20, 32, 44, 56, 110, ...), got {depth}")
    return depth


@dataclass(frozen=True)
class Recipe:
    """An SGD recipe with step decays and an optional warm-up at a lower rate.

    lr(t) = ``warmup_lr`` while warming up, else ``lr * decay ** #{m in milestones: m <= t}``.
    """

    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batch_size: int = 128
    steps: int = 64_000
    milestones: tuple[int, ...] = (32_000, 48_000)
    decay: float = 0.1
    warmup: bool = False
    warmup_lr: float = 0.01
    #: warm-up ends once the training error, averaged over the last ``warmup_window``
    #: iterations, is below ``warmup_error`` ("until the training error is below 80%")
    warmup_error: float = 0.8
    warmup_window: int = 20
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("lr", "momentum", "weight_decay", "decay", "warmup_lr", "warmup_error"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        _check_int("batch_size", self.batch_size, 1)
        _check_int("steps", self.steps, 1)
        _check_int("warmup_window", self.warmup_window, 1)
        if list(self.milestones) != sorted(self.milestones) or any(m < 0 for m in self.milestones):
            raise ValueError(f"milestones must be non-negative and sorted, got {self.milestones}")

    def to_dict(self) -> dict:
        return asdict(self)


def paper_recipe(
    depth: int, steps: int = 64_000, batch_size: int = 128, warmup: bool | None = None
) -> Recipe:
    """He et al. 2016 section 4.2: SGD(0.1, momentum 0.9, wd 1e-4), batch 128, 64k iterations,
    lr / 10 at 32k and 48k (at 1/2 and 3/4 of ``steps`` when ``steps`` is shorter), and for
    depth 110 (``warmup=None`` means depth >= 110) lr 0.01 until the training error < 80%.

    A batch other than 128 scales the rate linearly, lr = 0.1 * batch / 128 (Goyal et al.,
    2017); the paper itself trained only at 128.
    """
    check_depth(depth)
    _check_int("steps", steps, 1)
    _check_int("batch_size", batch_size, 1)
    scale = batch_size / 128
    return Recipe(
        lr=0.1 * scale,
        batch_size=batch_size,
        steps=steps,
        milestones=(steps // 2, (3 * steps) // 4),
        warmup=depth >= 110 if warmup is None else bool(warmup),
        warmup_lr=0.01 * scale,
    )


def lr_at(step: int, recipe: Recipe, warmup_end: int | None = None) -> float:
    """The learning rate of iteration ``step`` (0-based).

    ``warmup_end`` is the first iteration after the warm-up (``None``: still warming up; it is
    ignored when the recipe has no warm-up): lr = warmup_lr for step < warmup_end, then
    lr * decay ** (number of milestones <= step).
    """
    _check_int("step", step, 0)
    if recipe.warmup and (warmup_end is None or step < warmup_end):
        return recipe.warmup_lr
    drops = sum(1 for m in recipe.milestones if m <= step)
    return recipe.lr * recipe.decay**drops


def warmup_finished(recent_errors: list[float], recipe: Recipe) -> bool:
    """True when the last ``warmup_window`` training errors average below ``warmup_error``."""
    if len(recent_errors) < recipe.warmup_window:
        return False
    window = recent_errors[-recipe.warmup_window :]
    return sum(window) / len(window) < recipe.warmup_error


def steps_per_epoch(n_train: int, global_batch: int, world_size: int = 1) -> int:
    """Full batches per epoch: each of ``world_size`` ranks sees ceil(n / world) samples
    (DistributedSampler pads) in batches of global_batch / world; the last partial one is dropped."""
    _check_int("n_train", n_train, 1)
    _check_int("global_batch", global_batch, 1)
    _check_int("world_size", world_size, 1)
    if global_batch % world_size:
        raise ValueError(
            f"the global batch ({global_batch}) must be divisible by the number of processes "
            f"({world_size})"
        )
    per_rank = math.ceil(n_train / world_size)
    steps = per_rank // (global_batch // world_size)
    if steps < 1:
        raise ValueError(
            f"{n_train} training images give no full batch of {global_batch}; use a smaller "
            f"--batch-size or more images"
        )
    return steps
