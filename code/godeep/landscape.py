"""Loss landscapes along filter-normalized random directions (Li et al. 2018), for PyTorch models.

A loss surface is the loss along one or two directions ``d1, d2`` in parameter space, around
the trained parameters ``theta``:

    f(alpha)        = L(theta + alpha d1)                      (1-D)
    f(alpha, beta)  = L(theta + alpha d1 + beta d2)            (2-D)

Random Gaussian directions are misleading on their own: a network with batch normalization
is invariant to the scale of a layer's weights, so the same step means a lot for a layer with
small weights and nothing for one with large weights. Li et al.'s **filter normalization**
rescales the direction filter by filter, so that each filter of ``d`` has the norm of the
corresponding filter of ``theta``:

    d_{i,j}  <-  d_{i,j} / ||d_{i,j}|| * ||theta_{i,j}||

where ``i`` runs over layers and ``j`` over the filters of a layer (the output channels of a
convolution, the output units, i.e. rows, of a fully connected layer). One-dimensional
parameters (biases, normalization gains and shifts) get a zero direction by default, as in
Li et al.'s experiments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from . import validate

__all__ = ["random_direction", "filter_normalize", "loss_surface_1d", "loss_surface_2d"]


def random_direction(model: nn.Module, seed: int = 0) -> list[torch.Tensor]:
    """A Gaussian random direction with one tensor per parameter of ``model`` (same shapes and dtypes)."""
    generator = torch.Generator().manual_seed(validate.integer("seed", seed))
    return [torch.randn(p.shape, generator=generator, dtype=p.dtype) for p in _parameters(model)]


def _parameters(model: nn.Module) -> list:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return list(model.parameters())


def _check_direction(direction, params: list, name: str = "direction") -> None:
    """``direction`` must hold one tensor per parameter, each of the parameter's shape."""
    if isinstance(direction, torch.Tensor) or not isinstance(direction, (list, tuple)):
        raise TypeError(
            f"{name} must be a list of tensors, one per parameter, got {type(direction).__name__}"
        )
    if len(direction) != len(params):
        raise ValueError(
            f"{name} has {len(direction)} tensors, the model has {len(params)} parameters"
        )
    for i, (d, p) in enumerate(zip(direction, params)):
        if not isinstance(d, torch.Tensor):
            raise TypeError(f"{name}[{i}] must be a torch.Tensor, got {type(d).__name__}")
        if tuple(d.shape) != tuple(p.shape):
            raise ValueError(
                f"{name} tensor of shape {tuple(d.shape)} does not match parameter of shape {tuple(p.shape)}"
            )


def filter_normalize(
    direction: Sequence[torch.Tensor], model: nn.Module, ignore_1d: bool = True
) -> list[torch.Tensor]:
    """Rescale ``direction`` filter by filter to the norms of ``model``'s parameters (a new list).

    For a parameter with 2 or more dimensions, each slice along the first axis (a filter: one
    output channel or output unit) is scaled to ``||d_j|| = ||theta_j||``. One-dimensional
    parameters get zeros if ``ignore_1d``, else are scaled as a whole to ``||theta||``.
    """
    params = list(model.parameters())
    _check_direction(direction, params)
    out = []
    for d, p in zip(direction, params):
        theta = p.detach()
        if theta.dim() <= 1:
            if ignore_1d:
                out.append(torch.zeros_like(theta))
            else:
                out.append(d * (theta.norm() / (d.norm() + 1e-12)))
            continue
        d_flat, t_flat = d.reshape(d.shape[0], -1), theta.reshape(theta.shape[0], -1)
        scale = t_flat.norm(dim=1, keepdim=True) / (d_flat.norm(dim=1, keepdim=True) + 1e-12)
        out.append((d_flat * scale).reshape(d.shape).to(theta.dtype))
    return out


def _evaluate_at(
    model: nn.Module, offsets: Sequence[torch.Tensor], loss: Callable[[nn.Module], float]
) -> float:
    params = list(model.parameters())
    with torch.no_grad():
        for p, o in zip(params, offsets):
            p.add_(o)
    try:
        return float(loss(model))
    finally:
        with torch.no_grad():
            for p, o in zip(params, offsets):
                p.sub_(o)


def loss_surface_1d(
    model: nn.Module, loss: Callable[[nn.Module], float], direction: Sequence[torch.Tensor], alphas
) -> np.ndarray:
    """``[loss(theta + alpha d) for alpha in alphas]``; ``loss(model)`` evaluates the model (set eval mode yourself).

    The parameters are restored after each evaluation (up to floating-point rounding of
    ``theta + alpha d - alpha d``).
    """
    validate.function("loss", loss)
    alphas = validate.finite_vector("alphas", alphas)  # a NaN step would leave the parameters NaN
    _check_direction(direction, _parameters(model))
    return np.array([_evaluate_at(model, [a * d for d in direction], loss) for a in alphas])


def loss_surface_2d(
    model: nn.Module,
    loss: Callable[[nn.Module], float],
    d1: Sequence[torch.Tensor],
    d2: Sequence[torch.Tensor],
    alphas,
    betas: Sequence[float] | None = None,
) -> np.ndarray:
    """``surface[i, j] = loss(theta + alphas[i] d1 + betas[j] d2)`` (``betas`` default to ``alphas``)."""
    validate.function("loss", loss)
    alphas = validate.finite_vector("alphas", alphas)
    betas = alphas if betas is None else validate.finite_vector("betas", betas)
    params = _parameters(model)
    _check_direction(d1, params, "d1")
    _check_direction(d2, params, "d2")
    return np.array(
        [
            [_evaluate_at(model, [a * u + b * v for u, v in zip(d1, d2)], loss) for b in betas]
            for a in alphas
        ]
    )
