"""Normalizer-free ResNets (Brock, De & Smith 2021a; Brock et al. 2021b): BN's effects on
signal propagation, without BN.

A normalizer-free residual block computes

    h_{i+1} = h_i + alpha * f_i(h_i / beta_i)                                           (1)

where ``beta_i`` is the *expected* std of the stream ``h_i`` (computed analytically,
:func:`godeep.core.residual.nf_expected_stds`: ``beta_{i+1}^2 = beta_i^2 + alpha^2``), so the
branch ``f_i`` always sees unit-variance inputs, and ``alpha`` (0.2 in the papers) sets how fast
the variance grows with depth. ``f_i`` keeps unit variance by itself: its convolutions use
*scaled weight standardization*,

    W_hat_o = gain_o * (W_o - mean(W_o)) / sqrt(max(N * var(W_o), eps)),   N = fan-in     (2)

(each output unit's weights have zero mean and squared norm ``gain^2``, so a unit-variance input
gives unit-variance output), and every activation ``g`` is multiplied by its gain
``gamma = 1 / sqrt(Var(g(z)))``, ``z ~ N(0, 1)`` (:func:`godeep.core.residual.nonlinearity_gain`;
ReLU: 1.7128). A transition block (stride 2, more channels) applies its 1x1 WS shortcut to
``h_i / beta_i`` as well, so the stream restarts at variance ``1 + alpha^2``.

Adaptive gradient clipping (AGC, Brock et al. 2021b, Eq. 3), for NFNets' large batches, is in
:mod:`godeep.clipping` (:func:`~godeep.clipping.adaptive_clip`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .. import validate
from ..core.residual import blocks_per_stage, nf_expected_stds, nonlinearity_gain

__all__ = ["ScaledWSConv2d", "NFBlock", "NFResNet", "nf_cifar_resnet", "NF_RELU_GAIN"]

#: gamma for ReLU, sqrt(2 / (1 - 1/pi)) (Brock et al. 2021a, Sec. 4)
NF_RELU_GAIN: float = nonlinearity_gain("relu")


class ScaledWSConv2d(nn.Conv2d):
    """A conv whose weight is scaled-standardized, Eq. (2), with a learnable per-output ``gain``
    (initialised to 1) and a bias; ``eps = 1e-4`` as in the NFNets code."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
        eps: float = 1e-4,
    ):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias=bias)
        self.gain = nn.Parameter(torch.ones(out_channels))
        self.eps = validate.number("eps", eps, low=0.0)
        nn.init.kaiming_normal_(self.weight, nonlinearity="linear")
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def standardized_weight(self) -> torch.Tensor:
        """Eq. (2): ``gain * (W - mean) / sqrt(max(fan_in * var, eps))`` per output unit."""
        w = self.weight
        fan_in = w[0].numel()
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        var = w.var(dim=(1, 2, 3), keepdim=True, unbiased=False)
        scale = torch.rsqrt(torch.clamp(var * fan_in, min=self.eps)) * self.gain.view(-1, 1, 1, 1)
        return (w - mean) * scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.standardized_weight(), self.bias)


class NFBlock(nn.Module):
    """A pre-activation basic block of Eq. (1): ``h + alpha * f(h / beta)`` with
    ``f(x) = conv2(gamma relu(conv1(gamma relu(x))))`` (scaled WS 3x3 convs). With ``stride > 1``
    or a change of width, the shortcut is a 1x1 scaled WS conv of ``gamma relu(h / beta)``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, alpha: float, beta: float):
        super().__init__()
        in_channels = validate.positive_int("in_channels", in_channels)
        out_channels = validate.positive_int("out_channels", out_channels)
        stride = validate.positive_int("stride", stride)
        self.alpha = validate.number("alpha", alpha, low=0.0)
        self.beta = validate.number("beta", beta, low=0.0, low_open=True)
        self.conv1 = ScaledWSConv2d(in_channels, out_channels, 3, stride, 1)
        self.conv2 = ScaledWSConv2d(out_channels, out_channels, 3, 1, 1)
        self.transition = stride != 1 or in_channels != out_channels
        self.shortcut = (
            ScaledWSConv2d(in_channels, out_channels, 1, stride) if self.transition else None
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        out = F.relu(h / self.beta) * NF_RELU_GAIN
        s = self.shortcut(out) if self.shortcut is not None else h
        out = self.conv2(F.relu(self.conv1(out)) * NF_RELU_GAIN)
        return s + self.alpha * out


class NFResNet(nn.Module):
    """A CIFAR-style normalizer-free ResNet: a scaled WS 3x3 stem, three stages of ``n``
    :class:`NFBlock` (``widths``, stride 2 at stages 2 and 3) with ``beta`` from
    :func:`~godeep.core.residual.nf_expected_stds`, then ``gamma relu``, global pool, ``fc``."""

    def __init__(
        self,
        depth: int,
        num_classes: int = 10,
        alpha: float = 0.2,
        in_channels: int = 3,
        widths: Sequence[int] = (16, 32, 64),
    ):
        super().__init__()
        n = blocks_per_stage(depth)
        widths = validate.positive_ints("widths", widths, length=3)
        betas = iter(nf_expected_stds([n] * 3, alpha))
        self.alpha = validate.number("alpha", alpha, low=0.0)
        self.stem = ScaledWSConv2d(
            validate.positive_int("in_channels", in_channels), widths[0], 3, 1, 1
        )
        blocks, inplanes = [], widths[0]
        for s, planes in enumerate(widths):
            for b in range(n):
                stride = 2 if (s > 0 and b == 0) else 1
                blocks.append(NFBlock(inplanes, planes, stride, alpha, next(betas)))
                inplanes = planes
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(widths[-1], validate.positive_int("num_classes", num_classes))
        nn.init.zeros_(self.fc.weight)  # as the NFNets code: the classifier starts at zero
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != self.stem.in_channels:
            raise ValueError(
                f"expected a batch of images (N, {self.stem.in_channels}, H, W), "
                f"got {getattr(x, 'shape', type(x).__name__)}"
            )
        h = self.blocks(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(F.relu(h) * NF_RELU_GAIN, 1), 1))


def nf_cifar_resnet(
    depth: int, num_classes: int = 10, alpha: float = 0.2, in_channels: int = 3
) -> NFResNet:
    """A normalizer-free CIFAR ResNet of ``depth = 6n + 2`` layers (widths 16, 32, 64)."""
    return NFResNet(depth, num_classes, alpha, in_channels)
