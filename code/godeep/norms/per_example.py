"""The normalizations that treat each example on its own: layer, group and instance
normalization, as their ``torch.nn.functional`` namesakes, written with means and variances
only (no running statistics, except InstanceNorm's optional ones)."""

from __future__ import annotations

import math
import numbers
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from .. import validate
from .common import _affine, _check_input, _check_scalars, _check_tensor, _normalize

__all__ = ["layer_norm", "group_norm", "instance_norm"]


def layer_norm(
    input: Tensor,
    normalized_shape: Union[int, Sequence[int]],
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalization over the last ``len(normalized_shape)`` dimensions, as ``torch.nn.functional.layer_norm``.

    For each position of the leading dimensions, with S the trailing ``normalized_shape`` block:
    ``y = gamma (x - mean_S x) / sqrt(var_S x + eps) + beta``, gamma and beta of shape
    ``normalized_shape`` (one per element, not per channel). The same computation at training
    and inference time: there are no running statistics.
    """
    _check_input(input, 1, "layer_norm")
    validate.number("eps", eps, low=0.0)
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    normalized_shape = validate.positive_ints("normalized_shape", normalized_shape)
    k = len(normalized_shape)
    if k == 0 or k > input.dim() or tuple(input.shape[-k:]) != normalized_shape:
        raise ValueError(f"layer_norm: normalized_shape {normalized_shape} must equal the last dimensions of input of shape {tuple(input.shape)}")
    _check_tensor("weight", weight, normalized_shape, input)
    _check_tensor("bias", bias, normalized_shape, input)
    x_hat, _, _ = _normalize(input, tuple(range(input.dim() - k, input.dim())), eps)
    return _affine(x_hat, weight, bias, normalized_shape)


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    eps: float = 1e-5,
) -> Tensor:
    """Group normalization of an ``(N, C, *)`` input, as ``torch.nn.functional.group_norm``.

    The C channels are split into G = ``num_groups`` groups of C/G consecutive channels; for each
    example n and group g, S = (C/G channels, *): ``y = gamma_c (x - mu_ng) / sqrt(sigma_ng^2 + eps) + beta_c``.
    G = 1 is LayerNorm over (C, *) with per-channel affine; G = C is InstanceNorm. An empty
    batch (N = 0) gives an empty output.
    """
    validate.number("eps", eps, low=0.0)
    _check_input(input, 2, "group_norm")
    if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups < 1:
        raise ValueError(f"group_norm: num_groups must be a positive int, got {num_groups!r}")
    N, C = input.shape[:2]
    if C % num_groups:
        raise ValueError(f"group_norm: the number of channels {C} must be divisible by num_groups={num_groups}")
    _check_tensor("weight", weight, (C,), input)
    _check_tensor("bias", bias, (C,), input)
    if input.numel() == 0:
        return _affine(input.clone(), weight, bias, (1, C) + (1,) * (input.dim() - 2))
    grouped = input.reshape(N, num_groups, -1)  # (N, G, C/G * prod(*))
    x_hat, _, _ = _normalize(grouped, (2,), eps)
    return _affine(x_hat.reshape(input.shape), weight, bias, (1, C) + (1,) * (input.dim() - 2))


def instance_norm(
    input: Tensor,
    running_mean: Optional[Tensor] = None,
    running_var: Optional[Tensor] = None,
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Instance normalization of an ``(N, C, *)`` input, as ``torch.nn.functional.instance_norm``.

    For each example n and channel c, S = (*) (the spatial positions, m of them):
    ``y = gamma_c (x - mu_nc) / sqrt(sigma_nc^2 + eps) + beta_c``. With ``use_input_stats`` and
    running statistics given, they are updated in place like :func:`batch_norm`'s, with the
    per-instance means and unbiased variances averaged over the batch. With
    ``use_input_stats=False`` the running statistics are used instead.

    One deliberate difference from torch: an empty batch (N = 0) leaves the running statistics
    alone, where ``torch.nn.functional.instance_norm`` sets them to NaN (the mean of no means).
    """
    _check_input(input, 3, "instance_norm")
    _check_scalars(momentum, eps)
    C = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        _check_tensor(name, t, (C,), input, same_dtype=name in ("weight", "bias"))  # torch casts the stats
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must both be tensors or both be None")
    shape = (1, C) + (1,) * (input.dim() - 2)
    if use_input_stats:
        m = math.prod(input.shape[2:])
        if m <= 1:
            raise ValueError(f"instance_norm: expected more than 1 spatial element when training, got input of shape {tuple(input.shape)}")
        x_hat, mean, var = _normalize(input, tuple(range(2, input.dim())), eps)
        if running_mean is not None and input.shape[0] > 0:  # torch would average N = 0 means into NaN
            with torch.no_grad():
                batch_mean = mean.reshape(input.shape[0], C).mean(0)
                batch_var = (var.reshape(input.shape[0], C) * m / (m - 1)).mean(0)
                running_mean.mul_(1 - momentum).add_(momentum * batch_mean.to(running_mean.dtype))
                running_var.mul_(1 - momentum).add_(momentum * batch_var.to(running_var.dtype))
    else:
        if running_mean is None:
            raise ValueError("instance_norm: running_mean and running_var are required when use_input_stats=False")
        x_hat = (input - running_mean.reshape(shape)) / torch.sqrt(running_var.reshape(shape) + eps)
    return _affine(x_hat, weight, bias, shape)
