"""Routes and checks shared by both frameworks' residual MLPs (framework-free: NumPy only)."""

from __future__ import annotations

import numpy as np

from .. import validate

__all__ = [
    "ROUTES",
    "check_flags",
    "check_path_args",
    "check_branch_scale",
    "check_zero_init",
    "check_stochastic_depth_prob",
    "drop_rates",
    "route_random_path",
]

#: How a residual block passes the gradient back (the forward pass is always ``x + F(x)``):
#: ``"both"`` (normal), ``"branch"`` (only through ``F``) or ``"shortcut"`` (only through ``x``).
ROUTES = ("both", "branch", "shortcut")


def check_flags(**flags) -> None:
    """Each keyword argument must be a bool (``plain``, ``batch_norm``, ``bias``; both frameworks)."""
    for name, value in flags.items():
        validate.boolean(name, value)


def check_path_args(found: list, x, y, length, samples, seed, classes: int) -> np.ndarray:
    """Validate :func:`path_gradient_norms`' arguments (both frameworks); returns ``y`` as an array."""
    if any(not b.residual for b in found):
        raise ValueError("path gradients are defined for residual nets only (plain=False)")
    if (
        isinstance(length, bool)
        or not isinstance(length, (int, np.integer))
        or not 0 <= length <= len(found)
    ):
        raise ValueError(f"length must be an int in [0, {len(found)}], got {length!r}")
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ValueError(f"samples must be a positive int, got {samples!r}")
    validate.integer("seed", seed, low=0)
    if x is None or not hasattr(x, "__len__") or len(x) == 0:
        raise ValueError(
            f"x must be a non-empty batch of inputs, got {x if x is None else np.shape(x)}"
        )
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != len(x) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"y must be {len(x)} integer class labels, one per row of x, got shape {labels.shape}"
        )
    if labels.min() < 0 or labels.max() >= classes:
        raise ValueError(
            f"y must hold class labels in [0, {classes}), got {labels.min()} to {labels.max()}"
        )
    return labels


def check_branch_scale(branch_scale, plain: bool) -> float | None:
    """Validate ``branch_scale``: None or a finite real number, and only for residual nets."""
    if branch_scale is None:
        return None
    if isinstance(branch_scale, bool) or not isinstance(
        branch_scale, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"branch_scale must be None or a number, got {type(branch_scale).__name__}")
    if not np.isfinite(branch_scale):
        raise ValueError(f"branch_scale must be finite, got {branch_scale}")
    if plain:
        raise ValueError("branch_scale scales the residual branch: it needs plain=False")
    return float(branch_scale)


def check_zero_init(zero_init_residual, plain: bool) -> bool:
    """Validate ``zero_init_residual``: a bool, and True only for residual nets."""
    if not isinstance(zero_init_residual, (bool, np.bool_)):
        raise TypeError(
            f"zero_init_residual must be a bool, got {type(zero_init_residual).__name__}"
        )
    if zero_init_residual and plain:
        raise ValueError(
            "zero_init_residual zeroes the residual branch: it needs plain=False "
            "(a plain net with zero layers outputs zeros and never learns)"
        )
    return bool(zero_init_residual)


def check_stochastic_depth_prob(prob, plain: bool, mode: str = "row") -> float:
    """Validate ``stochastic_depth_prob``: a number in [0, 1], nonzero only for residual nets,
    and ``mode`` one of ``"row"``, ``"batch"`` (:data:`godeep.core.residual.STOCHASTIC_DEPTH_MODES`)."""
    from .residual import STOCHASTIC_DEPTH_MODES

    if isinstance(prob, bool) or not isinstance(prob, (int, float, np.integer, np.floating)):
        raise TypeError(f"stochastic_depth_prob must be a number, got {type(prob).__name__}")
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"stochastic_depth_prob must be in [0, 1], got {prob}")
    if mode not in STOCHASTIC_DEPTH_MODES:
        raise ValueError(f"stochastic_depth_mode must be 'row' or 'batch', got {mode!r}")
    if prob > 0.0 and plain:
        raise ValueError(
            "stochastic depth drops residual branches: it needs plain=False "
            "(a dropped plain layer outputs zeros)"
        )
    return float(prob)


def drop_rates(prob: float, depth: int) -> list[float]:
    """The drop probability of each block under the linear decay rule of Huang et al. (2016),

        1 - p_l = (l / L) (1 - p_L),    l = 1..L,    1 - p_L = ``prob``,

    so block 1 is dropped with probability ``prob / L`` and block ``L`` with ``prob``
    (``p_l`` is the survival probability of block ``l``)."""
    validate.positive_int("depth", depth)
    return [float(prob) * l / depth for l in range(1, depth + 1)]


def route_random_path(found: list, length: int, rng: np.random.Generator) -> None:
    """Route the gradient through the branches of ``length`` random blocks and the shortcuts of the rest.

    ``found`` are blocks with a ``route`` switch (PyTorch ``Block``s or Keras ``BlockOutput``s);
    the same ``rng`` state picks the same path in both frameworks.
    """
    chosen = set(rng.choice(len(found), size=int(length), replace=False).tolist())
    for i, b in enumerate(found):
        b.route = "branch" if i in chosen else "shortcut"
