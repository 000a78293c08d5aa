"""Watch signals travel: per-layer statistics of activations and gradients (PyTorch).

For a stack of layers ``h_l = f(W_l h_{l-1})`` we record, at each watched layer ``l``:

* the forward signal: mean and standard deviation of the activations ``h_l``, pooled over
  units and examples, and the *per-unit* standard deviation across the examples of the batch
  (:func:`unit_std`), which alone says whether the layer's output still depends on the input;
* the backward signal: the standard deviation of ``dE/dh_l``, the gradient of the loss
  ``E`` with respect to those activations;
* how much of the layer is *saturated* (the activation's slope ``f'(z)`` is below
  :data:`SATURATION_THRESHOLD` of its maximum, so almost no gradient passes) and how much is
  *dead* (a unit whose output is exactly zero for every example of the batch, as with ReLU);
* for every weight matrix, its norm ``||W_l||`` and the norm of its gradient ``||dE/dW_l||``.

The framework-neutral pieces (:class:`LayerStats`, :class:`SignalReport`,
:class:`TrainingMonitor`, :func:`saturation_fraction`, :func:`dead_fraction`) are shared
with the Keras twin :mod:`godeep.keras.signals`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

__all__ = [
    "SATURATION_THRESHOLD",
    "LayerStats",
    "WeightStats",
    "SignalReport",
    "TrainingMonitor",
    "saturation_fraction",
    "dead_fraction",
    "unit_std",
    "layer_stats",
    "diagnose",
    "record",
    "autocorrelation",
    "input_gradients",
    "Lesioned",
    "lesion_study",
    "path_length_distribution",
]

#: A unit counts as saturated when its slope is below this fraction of the activation's
#: largest slope (sigmoid: 1/4 at 0; tanh: 1 at 0): it passes back < 5% of what it could.
SATURATION_THRESHOLD = 0.05

#: Activation kinds whose saturation can be measured from their outputs alone.
_SLOPE_FROM_OUTPUT = {
    "sigmoid": lambda h: 4.0 * h * (1.0 - h),  # sigmoid'(z) / max = 4 h (1 - h)
    "tanh": lambda h: 1.0 - h * h,  # tanh'(z) / max = 1 - h^2
}


def saturation_fraction(h: np.ndarray, kind: Optional[str]) -> float:
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
        raise ValueError(f"activations must have a batch axis and at least one unit axis, got shape {h.shape}")
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
        raise ValueError(f"activations must have a batch axis and at least one unit axis, got shape {h.shape}")
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
    kind: Optional[str]
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


def layer_stats(name: str, kind: Optional[str], h: np.ndarray, grad: Optional[np.ndarray]) -> LayerStats:
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
            raise ValueError(f"unknown statistic {name!r}; choose from {list(LayerStats.__dataclass_fields__)}")
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
    for what, values, first, last in (("activation std (forward)", std, 0, -1), ("gradient std (backward)", gstd, -1, 0)):
        a, b = values[first], values[last]
        if not (np.isfinite(a) and np.isfinite(b)) or a == 0:
            warnings.append(f"{what} is not finite or zero: {a:.3g} -> {b:.3g}")
            continue
        ratio = b / a
        direction = "from the first to the last layer" if first == 0 else "from the last to the first layer"
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

    def log(self, step: int, grad_norm: dict[str, float], weight_norm: dict[str, float], update_norm: dict[str, float]) -> None:
        self.steps.append(int(step))
        for name in grad_norm:
            self.grad_norm.setdefault(name, []).append(float(grad_norm[name]))
            self.weight_norm.setdefault(name, []).append(float(weight_norm[name]))
            w = float(weight_norm[name])
            self.update_ratio.setdefault(name, []).append(float(update_norm[name]) / w if w > 0 else math.nan)

    @property
    def names(self) -> list[str]:
        return list(self.grad_norm)

    def array(self, what: str) -> np.ndarray:
        """``(layers, logged steps)`` array of ``"grad_norm"``, ``"weight_norm"`` or ``"update_ratio"``."""
        if what not in ("grad_norm", "weight_norm", "update_ratio"):
            raise ValueError(f"what must be 'grad_norm', 'weight_norm' or 'update_ratio', got {what!r}")
        table = getattr(self, what)
        return np.array([table[n] for n in self.names], dtype=float)


# --------------------------------------------------------------------------- PyTorch


def _kind(module) -> Optional[str]:
    from torch import nn

    for cls, kind in ((nn.Sigmoid, "sigmoid"), (nn.Tanh, "tanh"), (nn.ReLU, "relu"), (nn.Identity, "linear")):
        if isinstance(module, cls):
            return kind
    return None


def _watched(model, layers: Optional[Sequence[str]]):
    named = dict(model.named_modules())
    if layers is None:
        chosen = [(n, m) for n, m in named.items() if n and _kind(m) is not None]
        if not chosen:
            raise ValueError("found no activation modules to watch; pass layers=[names of modules]")
        return chosen
    missing = [n for n in layers if n not in named]
    if missing:
        raise ValueError(f"layers not found in the model: {missing}; available: {[n for n in named if n][:20]}...")
    return [(n, named[n]) for n in layers]


def record(
    model,
    x,
    y=None,
    loss_fn: Optional[Callable] = None,
    layers: Optional[Sequence[str]] = None,
    keep: bool = False,
) -> SignalReport:
    """One forward and backward pass through a PyTorch ``model``, recording per-layer signals.

    Args:
        model: an ``nn.Module``.
        x: an input batch (tensor or array; converted to the model's dtype).
        y: targets. If given, the loss is ``loss_fn(model(x), y)`` (default cross-entropy);
            if ``None``, the loss is ``model(x).sum()``, i.e. a gradient of one flows back
            from every output unit.
        layers: names of the modules whose outputs to watch; by default every activation
            module (Sigmoid, Tanh, ReLU, Identity).
        keep: also keep the activations themselves (for histograms) in ``report.activations``.

    The model's parameter gradients are left as they were before the call.
    """
    import torch

    watched = _watched(model, layers)
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None else torch.get_default_dtype()
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=dtype)

    outputs: dict[str, "torch.Tensor"] = {}
    grads: dict[str, "torch.Tensor"] = {}

    def make_hook(name: str):
        def hook(_module, _inputs, output):
            outputs[name] = output.detach()
            if output.requires_grad:
                output.register_hook(lambda g: grads.__setitem__(name, g.detach()))

        return hook

    saved = {n: (p.grad.clone() if p.grad is not None else None) for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = None
    handles = [m.register_forward_hook(make_hook(n)) for n, m in watched]
    try:
        out = model(x)
        if y is None:
            loss = out.sum()
        else:
            y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y)
            loss = (loss_fn or torch.nn.functional.cross_entropy)(out, y)
        loss.backward()
    finally:
        for h in handles:
            h.remove()

    from .models import weight_layers

    weights = [
        WeightStats(n, float(m.weight.detach().norm()), float(m.weight.grad.norm()) if m.weight.grad is not None else math.nan)
        for n, m in weight_layers(model).items()
    ]
    for n, p in model.named_parameters():
        p.grad = saved[n]

    stats, kept = [], {}
    for name, module in watched:
        h = outputs[name].double().numpy()
        g = grads[name].double().numpy() if name in grads else None
        stats.append(layer_stats(name, _kind(module), h, g))
        if keep:
            kept[name] = outputs[name].numpy().copy()
    return SignalReport(layers=stats, weights=weights, activations=kept, loss=float(loss.detach()))


# --------------------------------------------------------------------------- shattered gradients (Balduzzi et al. 2017) and lesions (Veit et al. 2016)


def autocorrelation(signal: np.ndarray, max_lag: Optional[int] = None) -> np.ndarray:
    """Normalized autocorrelation ``rho(k)`` of a 1-D signal ``g`` for lags ``k = 0..max_lag``.

        rho(k) = sum_i (g_i - mean g)(g_{i+k} - mean g) / sum_i (g_i - mean g)^2

    ``rho(0) = 1``. White noise has ``rho(k) ~ 0`` for ``k >= 1``; brown noise (a random walk)
    has ``rho(k)`` close to 1 for small lags, decaying slowly. A constant signal raises
    ``ValueError`` (its autocorrelation is undefined).
    """
    g = np.asarray(signal, dtype=np.float64)
    if g.ndim != 1 or g.size < 2:
        raise ValueError(f"signal must be 1-D with at least 2 values, got shape {g.shape}")
    max_lag = g.size - 1 if max_lag is None else int(max_lag)
    if not 0 <= max_lag < g.size:
        raise ValueError(f"max_lag must be in [0, {g.size - 1}], got {max_lag}")
    centred = g - g.mean()
    energy = float(centred @ centred)
    if energy == 0.0:
        raise ValueError("the signal is constant: its autocorrelation is undefined")
    return np.array([float(centred[: g.size - k] @ centred[k:]) / energy for k in range(max_lag + 1)])


def input_gradients(model, grid) -> np.ndarray:
    """``df/dx`` at every point of a grid of scalar inputs, for a PyTorch model ``f: R -> R``.

    ``grid`` is a 1-D array of input values; the model sees them as one batch of shape
    ``(n, 1)`` and must return ``(n, 1)``. Batch-norm layers first take their statistics from
    the grid (one forward pass in training mode with a cumulative average), then the model is
    evaluated in eval mode with those statistics (mean and biased variance over the grid), so
    that ``f`` is one fixed function and ``df/dx_i`` depends on ``x_i`` alone. The model's mode, BN statistics and gradients are restored afterwards.
    """
    import copy

    import torch
    from torch import nn

    x = np.asarray(grid, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"grid must be a 1-D array of input values, got shape {x.shape}")
    work = copy.deepcopy(model)  # leaves the caller's model, statistics and gradients untouched
    param = next(work.parameters(), None)
    dtype = param.dtype if param is not None else torch.get_default_dtype()
    inputs = torch.as_tensor(x, dtype=dtype).reshape(-1, 1)
    norms = [m for m in work.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if norms:
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average: after one batch, the batch's own statistics
        work.train()
        with torch.no_grad():
            work(inputs)
            for m in norms:  # PyTorch stores the unbiased variance; normalize as training mode does
                m.running_var.mul_((x.size - 1) / x.size)
    work.eval()
    inputs.requires_grad_(True)
    out = work(inputs)
    if out.shape != (x.size, 1):
        raise ValueError(f"the model must map (n, 1) inputs to (n, 1) outputs, got {tuple(out.shape)}")
    (grad,) = torch.autograd.grad(out.sum(), inputs)
    return grad.detach().double().numpy().ravel()


def _parent_and_name(model, name: str):
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    if not hasattr(parent, child):
        raise ValueError(f"module {name!r} not found in the model")
    return parent, child


class Lesioned:
    """Context manager: the modules named ``names`` are replaced by the identity, then restored.

    Deleting a residual block ``x + F(x)`` this way leaves its shortcut, ``x``; deleting a
    layer of a plain net passes its input straight on. This is the lesion of Veit et al.
    (2016). Each named module must map its input to an output of the same shape.

        with signals.Lesioned(model, ["block7"]):
            accuracy = evaluate(model)
    """

    def __init__(self, model, names: Sequence[str]) -> None:
        if isinstance(names, str):
            names = [names]
        self.model, self.names = model, list(names)
        self._saved: list = []
        for n in self.names:  # fail before touching anything
            _parent_and_name(model, n)

    def __enter__(self):
        from torch import nn

        for n in self.names:
            parent, child = _parent_and_name(self.model, n)
            self._saved.append((parent, child, getattr(parent, child)))
            setattr(parent, child, nn.Identity())
        return self.model

    def __exit__(self, *exc) -> None:
        for parent, child, module in reversed(self._saved):
            setattr(parent, child, module)
        self._saved.clear()


def lesion_study(model, names: Sequence[str], evaluate: Callable[[object], float]) -> dict[str, float]:
    """``evaluate(model)`` with each module of ``names`` deleted in turn (see :class:`Lesioned`).

    Returns ``{"none": baseline, name_1: score without name_1, ...}``; the model is left intact.
    """
    if not names:
        raise ValueError("names must list at least one module to delete")
    scores = {"none": float(evaluate(model))}
    for n in names:
        with Lesioned(model, [n]):
            scores[n] = float(evaluate(model))
    return scores


def path_length_distribution(n_blocks: int) -> np.ndarray:
    """Fraction of the ``2**n`` paths through ``n`` residual blocks that pass through ``k`` branches.

    Unrolled, ``n`` blocks ``x + F(x)`` give ``2**n`` paths (each block: shortcut or branch);
    exactly ``C(n, k)`` of them go through ``k`` branches, so path lengths follow the
    binomial distribution ``C(n, k) / 2**n``, ``k = 0..n`` (Veit et al. 2016).
    """
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, (int, np.integer)) or n_blocks < 0:
        raise ValueError(f"n_blocks must be a non-negative int, got {n_blocks!r}")
    n = int(n_blocks)
    return np.array([math.comb(n, k) for k in range(n + 1)], dtype=np.float64) / 2.0**n
