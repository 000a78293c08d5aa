"""What both frameworks' training loops share (framework-free: NumPy only).

The order of mini-batches (one NumPy generator seeded with ``seed``), the number of epochs
and steps, the :class:`History` of a run, argument checks and quiet progress bars.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from .. import validate

__all__ = [
    "LOSSES",
    "OPTIMIZERS",
    "History",
    "batches",
    "check_fit_args",
    "check_fit_data",
    "check_eval_args",
    "epoch_plan",
    "log_epoch",
    "progress",
    "progress_enabled",
]

T = TypeVar("T")

LOSSES = ("cross_entropy", "mse")
OPTIMIZERS = ("sgd", "adam")


def progress_enabled() -> bool:
    """Progress bars are on unless the environment variable ``GODEEP_PROGRESS`` is ``0``.

    Set it to 0 wherever output is stored or compared (tests, CI logs, executed documents), so
    that it holds no progress bars.
    """
    return os.environ.get("GODEEP_PROGRESS", "1") != "0"


def progress(
    iterable: Iterable[T], total: int | None = None, desc: str | None = None
) -> Iterable[T]:
    """Wrap ``iterable`` in a ``tqdm.auto`` progress bar when :func:`progress_enabled`."""
    if not progress_enabled():
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False)


@dataclass
class History:
    """What a training run produced: the loss of every step and per-epoch evaluations."""

    step_loss: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)

    @property
    def final(self) -> dict[str, float]:
        """The last epoch's evaluation."""
        out = {}
        for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
            values = getattr(self, key)
            if values:
                out[key] = values[-1]
        return out


def batches(n: int, batch_size: int, epochs: int, seed: int) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(epoch, indices)`` for shuffled minibatches; identical for both frameworks."""
    validate.nonnegative_int("n", n)
    validate.positive_int("batch_size", batch_size)
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            yield epoch, order[start : start + batch_size]


def check_fit_args(
    epochs: int,
    lr: float,
    batch_size: int,
    optimizer: str,
    loss: str,
    steps: int | None = None,
    eval_epochs: bool = True,
    *,
    momentum: float = 0.0,
    seed: int = 0,
) -> None:
    """Validate the arguments shared by both frameworks' :func:`fit`."""
    validate.number("momentum", momentum, low=0.0)
    validate.integer("seed", seed, low=0)
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps must be None or a positive int, got {steps!r}")
    if not isinstance(eval_epochs, bool):
        raise TypeError(f"eval_epochs must be a bool, got {type(eval_epochs).__name__}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


def _length(name: str, x) -> int:
    if x is None or not hasattr(x, "__len__"):
        raise TypeError(f"{name} must be an array of examples, got {type(x).__name__}")
    return len(x)


def check_fit_data(data) -> int:
    """``data`` must be a :class:`godeep.data.Dataset` (or have its four arrays) with a non-empty
    training split of as many labels as examples; returns the number of training examples."""
    missing = [a for a in ("x_train", "y_train", "x_test", "y_test") if not hasattr(data, a)]
    if missing:
        raise TypeError(
            f"data must be a godeep.data.Dataset (x_train, y_train, x_test, y_test), got {type(data).__name__}"
        )
    n, m = _length("data.x_train", data.x_train), _length("data.y_train", data.y_train)
    if n != m:
        raise ValueError(f"data.x_train has {n} examples but data.y_train has {m} labels")
    if n == 0:
        raise ValueError("data.x_train is empty: fit needs at least one training example")
    return n


def check_eval_args(x, y, loss: str, batch_size: int) -> int:
    """Validate :func:`evaluate`'s arguments (both frameworks); returns the number of examples."""
    n, m = _length("x", x), _length("y", y)
    if n != m:
        raise ValueError(f"x has {n} examples but y has {m} labels")
    if n == 0:
        raise ValueError("x is empty: evaluate needs at least one example")
    validate.one_of("loss", loss, LOSSES)
    validate.positive_int("batch_size", batch_size)
    return n


def epoch_plan(n: int, batch_size: int, epochs: int, steps: int | None) -> tuple[int, int]:
    """``(epochs of shuffled batches to draw, steps to run)`` for ``n`` examples.

    Without ``steps``: ``(epochs, epochs * ceil(n / batch_size))``; with it:
    ``(ceil(steps / ceil(n / batch_size)), steps)``. Shared by both frameworks' :func:`fit`.
    """
    validate.positive_int("n", n)
    validate.positive_int("batch_size", batch_size)
    steps_per_epoch = math.ceil(n / batch_size)
    if steps is None:
        return epochs, epochs * steps_per_epoch
    return math.ceil(steps / steps_per_epoch), steps


def log_epoch(history: History, evaluate, model, data, loss: str) -> None:
    """Append one epoch's training (and, if there is a test split, test) loss and accuracy.

    ``evaluate`` is the framework's own :func:`evaluate`; both training loops share this.
    """
    tl, ta = evaluate(model, data.x_train, data.y_train, loss)
    history.train_loss.append(tl)
    history.train_acc.append(ta)
    if data.x_test is not None and len(data.x_test):
        vl, va = evaluate(model, data.x_test, data.y_test, loss)
        history.test_loss.append(vl)
        history.test_acc.append(va)
