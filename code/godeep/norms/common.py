"""What every normalization function shares: argument checks, the normalization step
``(x - mu) / sqrt(sigma^2 + eps)`` and the affine map ``gamma * x_hat + beta``."""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .. import validate

def _check_tensor(name: str, t: Optional[Tensor], shape: Sequence[int], input: Tensor, same_dtype: bool = True) -> None:
    if t is None:
        return
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or None, got {type(t).__name__}")
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} to match input of shape {tuple(input.shape)}, got {tuple(t.shape)}")
    # as torch on the CPU: one dtype for all, except float32 parameters of a half/bfloat16 input
    low_precision = input.dtype in (torch.float16, torch.bfloat16) and t.dtype == torch.float32
    if same_dtype and t.dtype != input.dtype and not low_precision:
        raise TypeError(f"{name} must have the input's dtype {input.dtype}, got {t.dtype}")


def _check_scalars(momentum: object, eps: object) -> None:
    """``momentum`` a number in [0, 1] (the functions keep no batch count, so no None) and ``eps >= 0``."""
    if momentum is None:
        raise TypeError(
            "momentum must be a float in [0, 1], got None (as in torch.nn.functional; the modules' "
            "momentum=None, a cumulative moving average, needs their batch count)"
        )
    validate.number("momentum", momentum, 0.0, 1.0)
    validate.number("eps", eps, low=0.0)


def _check_input(input: Tensor, min_dim: int, what: str) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    if not input.is_floating_point():
        raise TypeError(f"input must be a floating-point tensor, got {input.dtype}")
    if input.dim() < min_dim:
        raise ValueError(f"{what} expects an input of shape {'(N, C, ...)' if min_dim == 2 else '(N, ...)'} with at least {min_dim} dimensions, got shape {tuple(input.shape)}")


def _affine(x_hat: Tensor, weight: Optional[Tensor], bias: Optional[Tensor], shape: Sequence[int]) -> Tensor:
    """y = gamma * x_hat + beta, with gamma and beta reshaped to broadcast as ``shape``."""
    if weight is not None:
        x_hat = x_hat * weight.reshape(shape)
    if bias is not None:
        x_hat = x_hat + bias.reshape(shape)
    return x_hat


class _Standardize(torch.autograd.Function):
    """``x_hat = (x - mu) / sqrt(sigma^2 + eps)`` over ``dims``, with the backward pass in closed form.

    Autograd through the forward's five operations keeps and revisits every intermediate; the
    closed form needs two means (Ioffe & Szegedy 2015, Sec. 3), with ``g = dE/dx_hat``:

        dE/dx = (g - mean_S g - x_hat * mean_S(g * x_hat)) / sqrt(sigma^2 + eps)

    The forward pass computes exactly what the five operations compute. Differentiable once
    (no gradient of the gradient).
    """

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor, Tensor]:
        mean = x.mean(dim=dims, keepdim=True)
        centred = x - mean
        var = (centred**2).mean(dim=dims, keepdim=True)  # biased: divide by |S|
        std = torch.sqrt(var + eps)
        x_hat = centred / std
        ctx.save_for_backward(x_hat, std)
        ctx.dims = dims
        ctx.mark_non_differentiable(mean, var)
        return x_hat, mean, var

    @staticmethod
    @once_differentiable
    def backward(ctx, g: Tensor, _mean: Tensor, _var: Tensor) -> tuple[Tensor, None, None]:
        x_hat, std = ctx.saved_tensors
        g_mean = g.mean(dim=ctx.dims, keepdim=True)
        gx_mean = (g * x_hat).mean(dim=ctx.dims, keepdim=True)
        return (g - g_mean - x_hat * gx_mean) / std, None, None


def _normalize(x: Tensor, dims: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """(x - mu) / sqrt(sigma^2 + eps) over ``dims``; also returns mu and the biased sigma^2 (kept dims)."""
    return _Standardize.apply(x, dims, eps)
