"""Batch normalization as ``torch.nn.functional.batch_norm``, written with means and
variances only, and BatchNorm over "ghost" sub-batches."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .common import _affine, _check_input, _check_scalars, _check_tensor, _normalize

__all__ = ["batch_norm", "ghost_batch_norm"]


def batch_norm(
    input: Tensor,
    running_mean: Optional[Tensor],
    running_var: Optional[Tensor],
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalization of an ``(N, C, *)`` input, as ``torch.nn.functional.batch_norm``.

    Training: statistics per channel c over the support set S = (N, *), m = |S| values,

        mu_c = mean_S x,   sigma_c^2 = mean_S (x - mu_c)^2,   y = gamma_c (x - mu_c) / sqrt(sigma_c^2 + eps) + beta_c

    and, if running statistics are given, they are updated *in place*, with the **unbiased**
    variance (m / (m - 1) sigma^2):

        running_mean <- (1 - momentum) running_mean + momentum mu
        running_var  <- (1 - momentum) running_var  + momentum m / (m - 1) sigma^2

    Inference (``training=False``): the running statistics replace mu and sigma^2. An empty
    batch (N = 0) gives an empty output and leaves the running statistics alone.
    """
    _check_scalars(momentum, eps)
    _check_input(input, 2, "batch_norm")
    C = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        _check_tensor(name, t, (C,), input)
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must both be tensors or both be None")
    shape = (1, C) + (1,) * (input.dim() - 2)
    if training and input.numel() == 0:
        return _affine(input.clone(), weight, bias, shape)  # as torch: empty in, empty out
    if training:
        m = input.numel() // C
        if m <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input of shape {tuple(input.shape)}")
        dims = (0,) + tuple(range(2, input.dim()))
        x_hat, mean, var = _normalize(input, dims, eps)
        if running_mean is not None:
            with torch.no_grad():
                running_mean.mul_(1 - momentum).add_(momentum * mean.reshape(C).to(running_mean.dtype))
                running_var.mul_(1 - momentum).add_(momentum * (var.reshape(C) * m / (m - 1)).to(running_var.dtype))
    else:
        if running_mean is None:
            raise ValueError("batch_norm: running_mean and running_var are required when training=False")
        x_hat = (input - running_mean.reshape(shape)) / torch.sqrt(running_var.reshape(shape) + eps)
    return _affine(x_hat, weight, bias, shape)


def ghost_batch_norm(
    input: Tensor,
    virtual_batch_size: int,
    running_mean: Optional[Tensor],
    running_var: Optional[Tensor],
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """BatchNorm whose training statistics come from "ghost" sub-batches of ``virtual_batch_size`` examples.

    The batch of N examples is cut into consecutive chunks of ``virtual_batch_size`` (the last
    may be smaller); each chunk is normalized by :func:`batch_norm` with its own statistics, as if
    it were the whole batch. The running statistics get one update per chunk, in order. At
    inference it is plain :func:`batch_norm`. This lets one experiment vary the *normalization*
    batch size while the gradient-step batch, and thus the compute, stay the same.
    """
    if isinstance(virtual_batch_size, bool) or not isinstance(virtual_batch_size, int) or virtual_batch_size < 1:
        raise ValueError(f"virtual_batch_size must be a positive int, got {virtual_batch_size!r}")
    _check_input(input, 2, "ghost_batch_norm")
    if not training or len(input) == 0:
        return batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    chunks = torch.split(input, virtual_batch_size, dim=0)
    return torch.cat([batch_norm(c, running_mean, running_var, weight, bias, True, momentum, eps) for c in chunks], dim=0)
