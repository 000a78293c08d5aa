"""Shattered gradients (Balduzzi et al. 2017: :func:`autocorrelation`, :func:`input_gradients`)
and lesions of residual networks (Veit et al. 2016: :class:`Lesioned`, :func:`lesion_study`,
:func:`path_length_distribution`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np


def autocorrelation(signal: np.ndarray, max_lag: int | None = None) -> np.ndarray:
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
    return np.array(
        [float(centred[: g.size - k] @ centred[k:]) / energy for k in range(max_lag + 1)]
    )


def input_gradients(model, grid) -> np.ndarray:
    """``df/dx`` at every point of a grid of scalar inputs, for a PyTorch model ``f: R -> R``.

    ``grid`` is a 1-D array of input values; the model sees them as one batch of shape
    ``(n, 1)`` and must return ``(n, 1)``. Batch-norm layers first take their statistics from
    the grid (one forward pass in training mode with a cumulative average), then the model is
    evaluated in eval mode with those statistics (mean and biased variance over the grid), so
    that ``f`` is one fixed function and ``df/dx_i`` depends on ``x_i`` alone. The model's mode,
    BN statistics and gradients are restored afterwards.
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
        raise ValueError(
            f"the model must map (n, 1) inputs to (n, 1) outputs, got {tuple(out.shape)}"
        )
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


def lesion_study(
    model, names: Sequence[str], evaluate: Callable[[object], float]
) -> dict[str, float]:
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
