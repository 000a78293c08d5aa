"""Weight standardization (Qiao et al. 2019) from its definition (PyTorch).

Each output channel's weights ``W_o`` (its fan-in: ``in * kh * kw`` entries of a conv weight
``(out, in, kh, kw)``, ``in`` entries of a linear weight ``(out, in)``) are standardized before use:

    mu_o = mean(W_o),    sigma_o^2 = mean((W_o - mu_o)^2),
    W_hat_o = (W_o - mu_o) / sqrt(sigma_o^2 + eps),

so every output unit's weights have zero mean and unit variance over its fan-in whatever the
raw weights are; gradients flow through the standardization (the raw ``W`` is what the
optimizer updates). Paired with GroupNorm it replaces BatchNorm at micro-batch sizes, where
batch statistics are too noisy. (The paper's code divides by the unbiased standard deviation plus
``eps``; this module uses the biased variance with ``eps`` inside the root, which is what
``F.batch_norm`` computes on the weight viewed as ``(1, out, fan_in)``, as timm's ``StdConv2d``.)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from . import validate

__all__ = ["weight_standardization", "WSConv2d"]


def weight_standardization(weight: Tensor, eps: float = 1e-5) -> Tensor:
    """``(W_o - mean(W_o)) / sqrt(var(W_o) + eps)`` per output channel ``o`` (dim 0), over the fan-in."""
    if not isinstance(weight, Tensor):
        raise TypeError(f"weight must be a torch.Tensor, got {type(weight).__name__}")
    if not weight.is_floating_point():
        raise TypeError(f"weight must be a floating-point tensor, got {weight.dtype}")
    if weight.dim() < 2 or weight.numel() == 0:
        raise ValueError(
            f"weight must have a layout (out, in, *kernel) with no zero size, got shape {tuple(weight.shape)}"
        )
    eps = validate.number("eps", eps, low=0.0)
    dims = tuple(range(1, weight.dim()))
    mean = weight.mean(dim=dims, keepdim=True)
    var = (weight - mean).pow(2).mean(dim=dims, keepdim=True)  # biased: divide by the fan-in
    return (weight - mean) / torch.sqrt(var + eps)


class WSConv2d(nn.Conv2d):
    """An ``nn.Conv2d`` that convolves with :func:`weight_standardization` of its weight.

    Same arguments and parameters (``weight``, ``bias``; ``state_dict`` keys of ``nn.Conv2d``)
    plus ``eps``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | str | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        eps: float = 1e-5,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
        )
        self.eps = validate.number("eps", eps, low=0.0)

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, weight_standardization(self.weight, self.eps), self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, eps={self.eps}"
