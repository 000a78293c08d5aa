"""Per-layer signal statistics, their report and diagnosis, and a training monitor
(framework-free, NumPy only): shared by :mod:`godeep.signals` and :mod:`godeep.keras.signals`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: A unit counts as saturated when its slope is below this fraction of the activation's
#: largest slope (sigmoid: 1/4 at 0; tanh: 1 at 0): it passes back < 5% of what it could.
SATURATION_THRESHOLD = 0.05

#: Activation kinds whose saturation can be measured from their outputs alone.
_SLOPE_FROM_OUTPUT = {
    "sigmoid": lambda h: 4.0 * h * (1.0 - h),  # sigmoid'(z) / max = 4 h (1 - h)
    "tanh": lambda h: 1.0 - h * h,  # tanh'(z) / max = 1 - h^2
}


def saturation_fraction(h: np.ndarray, kind: str | None) -> float:
    """Fraction of entries of ``h = f(z)`` where ``f'(z) < SATURATION_THRESHOLD * max f'``.

    Defined for ``kind`` in ``{"sigmoid", "tanh"}``; other activations (ReLU, linear) do not
    saturate in this sense and give 0.0.
    """
    if kind not in _SLOPE_FROM_OUTPUT:
        return 0.0
    h = np.asarray(h, dtype=np.float64)
    return float(np.mean(_SLOPE_FROM_OUTPUT[kind](h) < SATURATION_THRESHOLD))


def dead_fraction(h: np.ndarray) -> float:
    """Fraction of units (every axis but the first, the batch) that output exactly 0 for every example."""
    h = np.asarray(h)
    if h.ndim < 2:
        raise ValueError(
            f"activations must have a batch axis and at least one unit axis, got shape {h.shape}"
        )
    units = h.reshape(h.shape[0], -1)
    return float(np.mean(np.all(units == 0, axis=0)))


def unit_std(h: np.ndarray) -> float:
    """Per-unit standard deviation across the batch, as a root mean square over the units.

    For activations ``h`` of shape ``(batch, *units)`` (every axis but the first is a unit)::

        unit_std = sqrt( mean_u Var_b[h_{b,u}] )

    It splits the pooled variance of :func:`layer_stats`' ``std``::

        std^2 = unit_std^2 + Var_u( mean_b h_{b,u} )

    (across examples, within a unit) + (between the units' means). A layer whose units are
    constant over the batch (its output no longer depends on the input) has ``unit_std = 0``
    however large its pooled ``std`` is. NaN for a batch of one example.
    """
    h = np.asarray(h, dtype=np.float64)
    if h.ndim < 2:
        raise ValueError(
            f"activations must have a batch axis and at least one unit axis, got shape {h.shape}"
        )
    if h.shape[0] < 2:
        return math.nan
    units = h.reshape(h.shape[0], -1)
    return float(np.sqrt(np.mean(np.var(units, axis=0))))


@dataclass(frozen=True)
class LayerStats:
    """Statistics of one watched layer: forward signal, backward signal, saturation.

    ``std`` is pooled over units and examples; ``unit_std`` (:func:`unit_std`) is the spread
    of each unit across the examples only.
    """

    name: str
    kind: str | None
    mean: float
    std: float
    grad_std: float
    saturated: float
    dead: float
    unit_std: float = math.nan


@dataclass(frozen=True)
class WeightStats:
    """Norm of one layer's weight matrix and of the loss gradient with respect to it."""

    name: str
    norm: float
    grad_norm: float


def layer_stats(name: str, kind: str | None, h: np.ndarray, grad: np.ndarray | None) -> LayerStats:
    """Summarize activations ``h`` (and their gradient ``dE/dh``) of one layer."""
    h64 = np.asarray(h, dtype=np.float64)
    g_std = float(np.std(np.asarray(grad, dtype=np.float64))) if grad is not None else math.nan
    return LayerStats(
        name=name,
        kind=kind,
        mean=float(np.mean(h64)),
        std=float(np.std(h64)),
        grad_std=g_std,
        saturated=saturation_fraction(h64, kind),
        dead=dead_fraction(h64) if h64.ndim >= 2 else 0.0,
        unit_std=unit_std(h64) if h64.ndim >= 2 else math.nan,
    )


@dataclass
class SignalReport:
    """Per-layer statistics of one forward and backward pass (see :func:`record`)."""

    layers: list[LayerStats]
    weights: list[WeightStats] = field(default_factory=list)
    activations: dict[str, np.ndarray] = field(default_factory=dict)
    loss: float = math.nan

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.layers]

    def column(self, name: str) -> np.ndarray:
        """One statistic for every watched layer, e.g. ``report.column("std")``."""
        if not self.layers or not hasattr(self.layers[0], name):
            raise ValueError(
                f"unknown statistic {name!r}; choose from {list(LayerStats.__dataclass_fields__)}"
            )
        return np.array([getattr(s, name) for s in self.layers], dtype=float)

    def weight_column(self, name: str) -> np.ndarray:
        """``"norm"`` or ``"grad_norm"`` for every weight layer."""
        if name not in ("norm", "grad_norm"):
            raise ValueError(f"weight statistic must be 'norm' or 'grad_norm', got {name!r}")
        return np.array([getattr(w, name) for w in self.weights], dtype=float)

    def table(self, digits: int = 3):
        """The per-layer statistics as a pandas DataFrame, rounded to ``digits`` significant digits."""
        import pandas as pd

        frame = pd.DataFrame([s.__dict__ for s in self.layers]).set_index("name")
        return frame.map(lambda v: float(f"{v:.{digits}g}") if isinstance(v, float) else v)


def diagnose(
    report: SignalReport,
    vanish: float = 1e-3,
    explode: float = 1e3,
    saturated: float = 0.5,
    dead: float = 0.5,
    collapse: float = 1e-2,
) -> list[str]:
    """Plain-language warnings about a :class:`SignalReport`; an empty list means healthy.

    Compares the first and last watched layers: a forward or backward signal that shrinks
    below ``vanish`` times (or grows beyond ``explode`` times) its size at the other end, and
    layers where more than ``saturated`` of the units are saturated or ``dead`` of them dead.
    A layer *collapses* when its units barely vary across the batch: per-unit std
    (:func:`unit_std`) below ``collapse`` times the pooled ``std``, i.e. the layer's output
    hardly depends on the input, which the pooled std alone cannot see.
    """
    for name, value in (("vanish", vanish), ("explode", explode), ("collapse", collapse)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    warnings: list[str] = []
    if len(report.layers) < 2:
        return warnings
    std, gstd = report.column("std"), report.column("grad_std")
    for what, values, first, last in (
        ("activation std (forward)", std, 0, -1),
        ("gradient std (backward)", gstd, -1, 0),
    ):
        a, b = values[first], values[last]
        if not (np.isfinite(a) and np.isfinite(b)) or a == 0:
            warnings.append(f"{what} is not finite or zero: {a:.3g} -> {b:.3g}")
            continue
        ratio = b / a
        direction = (
            "from the first to the last layer" if first == 0 else "from the last to the first layer"
        )
        if ratio < vanish:
            warnings.append(f"{what} vanishes {direction}: x{ratio:.2g}")
        elif ratio > explode:
            warnings.append(f"{what} explodes {direction}: x{ratio:.2g}")
    collapsed = []
    for s in report.layers:
        if s.saturated > saturated:
            warnings.append(f"{s.name}: {s.saturated:.0%} of units saturated")
        if s.dead > dead:
            warnings.append(f"{s.name}: {s.dead:.0%} of units dead")
        if s.std > 0 and np.isfinite(s.unit_std) and s.unit_std < collapse * s.std:
            collapsed.append(s)
    if collapsed:
        worst = min(collapsed, key=lambda s: s.unit_std / s.std)
        warnings.append(
            f"activations collapse in {len(collapsed)} layer(s) from {collapsed[0].name}: units barely "
            f"vary across the batch ({worst.name}: per-unit std {worst.unit_std:.1g}, pooled std "
            f"{worst.std:.2g}), so the output hardly depends on the input"
        )
    return warnings


class TrainingMonitor:
    """Per-layer gradient norms and update-to-weight ratios over training (both frameworks).

    The training loops of :mod:`godeep.train` and :mod:`godeep.keras.train` call
    :meth:`log` every ``every`` steps with, for each weight layer ``l``,
    ``||dE/dW_l||``, ``||W_l||`` and the size of the update just applied ``||dW_l||``.
    The update-to-weight ratio ``||dW_l|| / ||W_l||`` says how fast a layer learns: around
    1e-3 per step is a common rule of thumb; a layer far below that barely moves.
    """

    def __init__(self, every: int = 10) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        self.every = every
        self.steps: list[int] = []
        self.grad_norm: dict[str, list[float]] = {}
        self.weight_norm: dict[str, list[float]] = {}
        self.update_ratio: dict[str, list[float]] = {}

    def wants(self, step: int) -> bool:
        """Whether step ``step`` (0-based) should be logged."""
        return step % self.every == 0

    def log(
        self,
        step: int,
        grad_norm: dict[str, float],
        weight_norm: dict[str, float],
        update_norm: dict[str, float],
    ) -> None:
        self.steps.append(int(step))
        for name in grad_norm:
            self.grad_norm.setdefault(name, []).append(float(grad_norm[name]))
            self.weight_norm.setdefault(name, []).append(float(weight_norm[name]))
            w = float(weight_norm[name])
            self.update_ratio.setdefault(name, []).append(
                float(update_norm[name]) / w if w > 0 else math.nan
            )

    @property
    def names(self) -> list[str]:
        return list(self.grad_norm)

    def array(self, what: str) -> np.ndarray:
        """``(layers, logged steps)`` array of ``"grad_norm"``, ``"weight_norm"`` or ``"update_ratio"``."""
        if what not in ("grad_norm", "weight_norm", "update_ratio"):
            raise ValueError(
                f"what must be 'grad_norm', 'weight_norm' or 'update_ratio', got {what!r}"
            )
        table = getattr(self, what)
        return np.array([table[n] for n in self.names], dtype=float)
