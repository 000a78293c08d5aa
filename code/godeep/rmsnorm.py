"""RMSNorm from its definition (PyTorch): LayerNorm without the mean (Zhang & Sennrich 2019).

Over the trailing ``normalized_shape`` of ``x`` (``n`` entries),

    RMS(x) = sqrt(1/n sum_i x_i^2 + eps),    y_i = x_i / RMS(x) * gamma_i,

so ``y`` has unit root-mean-square but keeps its mean: RMSNorm re-scales but does not
re-center (LayerNorm does both). It is invariant to a rescaling of the input (``x -> a x``,
``a > 0``) but not to a shift (``x -> x + b``).

:func:`rms_norm` has the signature and numbers of ``torch.nn.functional.rms_norm``: with
``eps=None`` it uses the machine epsilon of the computation type, ``torch.finfo(torch.float32).eps``
for float16, bfloat16 and float32 input (computed in float32), ``torch.finfo(torch.float64).eps``
for float64. :class:`RMSNorm` has the parameter ``weight`` (ones) of ``torch.nn.RMSNorm``, so
``state_dict`` s can be exchanged.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from . import validate

__all__ = ["default_eps", "rms_norm", "RMSNorm"]


def default_eps(dtype) -> float:
    """The ``eps`` that ``eps=None`` means for input of ``dtype``: the machine epsilon of its
    computation type (float32 for float16, bfloat16 and float32; float64 for float64)."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    return torch.finfo(torch.float64 if dtype == torch.float64 else torch.float32).eps


def _shape(normalized_shape) -> tuple[int, ...]:
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    shape = validate.positive_ints("normalized_shape", normalized_shape)
    if not shape:
        raise ValueError("normalized_shape must hold at least one size, got ()")
    return shape


def rms_norm(
    input: Tensor,
    normalized_shape: Sequence[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """``x / sqrt(mean(x^2) + eps) * weight`` over the trailing ``normalized_shape`` of ``input``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    if not input.is_floating_point():
        raise TypeError(f"input must be a floating-point tensor, got {input.dtype}")
    shape = _shape(normalized_shape)
    k = len(shape)
    if input.dim() < k or tuple(input.shape[-k:]) != shape:
        raise ValueError(
            f"normalized_shape {shape} must equal the last dimensions of input of shape "
            f"{tuple(input.shape)}"
        )
    if weight is not None:
        if not isinstance(weight, Tensor):
            raise TypeError(f"weight must be a torch.Tensor or None, got {type(weight).__name__}")
        if tuple(weight.shape) != shape:
            raise ValueError(f"weight must have shape {shape}, got {tuple(weight.shape)}")
    eps = default_eps(input.dtype) if eps is None else validate.number("eps", eps, low=0.0)
    x = input.float() if input.dtype in (torch.float16, torch.bfloat16) else input
    dims = tuple(range(-k, 0))
    y = x * torch.rsqrt(x.pow(2).mean(dim=dims, keepdim=True) + eps)
    if weight is not None:  # in the computation type, then back to the input's dtype (as torch)
        y = y * weight.to(y.dtype)
    return y.to(input.dtype)


class RMSNorm(nn.Module):
    """RMSNorm over the trailing ``normalized_shape``, as ``torch.nn.RMSNorm`` (``weight`` only)."""

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float | None = None,
        elementwise_affine: bool = True,
    ) -> None:
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = None if eps is None else validate.number("eps", eps, low=0.0)
        self.elementwise_affine = validate.boolean("elementwise_affine", elementwise_affine)
        if self.elementwise_affine:
            self.weight = nn.Parameter(torch.ones(self.normalized_shape))
        else:
            self.register_parameter("weight", None)

    def forward(self, x: Tensor) -> Tensor:
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
