"""The shortcut variants (merges) and activation orders of He et al. (2016b), "Identity Mappings in
Deep Residual Networks" (Table 1 / Fig. 2, Table 2 / Fig. 4), and the pre-activation block."""

from __future__ import annotations

import functools
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .. import validate
from ..core.residual import ACTIVATION_ORDERS, check_variant_options
from ..core.residual import check_block as _check_block
from ..validate import positive_int as _check_positive_int
from .blocks import Add, BasicBlock, _Block, conv3x3


# --------------------------------------------------------------------------------------------
# The shortcut variants and activation orders of He et al. (2016b), "Identity Mappings in
# Deep Residual Networks" (Table 1 / Fig. 2 and Table 2 / Fig. 4)
# --------------------------------------------------------------------------------------------


def _check_real(name: str, value: object) -> float:
    return validate.number(name, value)  # finite: a NaN scale or bias would make every output NaN


class ConstantScaling(nn.Module):
    """``merge(f, s, x) = branch * f + shortcut * s``: the shortcut ``h(x) = lambda x`` (Fig. 2b).

    With ``lambda = shortcut`` on every one of ``L - l`` blocks (and zero branches) the signal and
    the gradient are multiplied by ``lambda^(L-l)``. ``branch = 1 - lambda`` is the paper's
    "frozen gating" (He et al. 2016b, Table 1).
    """

    def __init__(self, shortcut: float = 0.5, branch: float = 1.0):
        super().__init__()
        self.shortcut_scale = _check_real("shortcut", shortcut)
        self.branch_scale = _check_real("branch", branch)

    def forward(self, f: torch.Tensor, s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # noqa: ARG002
        return self.branch_scale * f + self.shortcut_scale * s

    def extra_repr(self) -> str:
        return f"shortcut={self.shortcut_scale}, branch={self.branch_scale}"


class _Gate(nn.Module):
    """``g = sigmoid(W_g s + b_g)``, a 1x1 convolution with bias, computed from the shortcut's
    output ``s`` (which is the block's input ``x`` wherever the shapes agree; where the block
    subsamples, ``s`` is ``x`` subsampled and zero-padded, so this is a strided 1x1 conv of ``x``).
    ``b_g`` starts at ``bias`` for every channel; ``W_g`` gets the network's conv initialization."""

    def __init__(self, channels: int, bias: float):
        super().__init__()
        _check_positive_int("channels", channels)
        self.gate = nn.Conv2d(channels, channels, kernel_size=1, bias=True)
        with torch.no_grad():
            self.gate.bias.fill_(_check_real("bias", bias))

    def g(self, s: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.gate(s))


class ExclusiveGating(_Gate):
    """``merge = g * f + (1 - g) * s``, Highway-style gates (Fig. 2c); the default initial
    bias ``b_g = -6`` (He et al. 2016b, Table 1) starts the gate nearly closed on ``F``."""

    def __init__(self, channels: int, bias: float = -6.0):
        super().__init__(channels, bias)

    def forward(self, f: torch.Tensor, s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # noqa: ARG002
        g = self.g(s)
        return g * f + (1 - g) * s


class ShortcutGating(_Gate):
    """``merge = f + (1 - g) * s``: only the shortcut is gated (Fig. 2d); with ``b_g = 0`` the gate
    starts near 1/2, with ``b_g = -6`` near 1 (both in He et al. 2016b, Table 1)."""

    def __init__(self, channels: int, bias: float = 0.0):
        super().__init__(channels, bias)

    def forward(self, f: torch.Tensor, s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # noqa: ARG002
        return f + (1 - self.g(s)) * s


class DropoutShortcut(nn.Module):
    """``merge = f + m * s`` with ``m ~ Bernoulli(1 - p)`` per element while training (Fig. 2f),
    ``f + (1 - p) s`` in eval mode. The mask is *not* rescaled by ``1 / (1 - p)``: as the paper
    says, dropout "statistically imposes a scale of lambda with an expectation of 0.5 on the
    shortcut" for ``p = 0.5``."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        p = _check_real("p", p)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, f: torch.Tensor, s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # noqa: ARG002
        if not self.training:
            return f + (1.0 - self.p) * s
        return f + torch.bernoulli(torch.full_like(s, 1.0 - self.p)) * s

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _Variant:
    """A shortcut variant: which shortcut option it needs and its merge ``factory(channels, **options)``."""

    def __init__(self, shortcut: Optional[str], merge: Callable[..., nn.Module], figure: str):
        self.shortcut, self.merge, self.figure = shortcut, merge, figure

    def __repr__(self) -> str:
        return f"_Variant(shortcut={self.shortcut!r}, figure={self.figure!r})"


#: The shortcuts of He et al. (2016b), Table 1 / Fig. 2, by name (``cifar_resnet(variant=...)``).
#: ``variant_options`` go to the merge: ``shortcut``/``branch`` scales, a gate's ``bias``, dropout's ``p``.
SHORTCUT_VARIANTS: dict[str, _Variant] = {
    "identity": _Variant(None, lambda c: Add(), "2(a)"),
    "constant_scaling": _Variant(None, lambda c, shortcut=0.5, branch=1.0: ConstantScaling(shortcut, branch), "2(b)"),
    "constant_scaling_both": _Variant(None, lambda c, shortcut=0.5, branch=0.5: ConstantScaling(shortcut, branch), "2(b)"),
    "exclusive_gating": _Variant(None, lambda c, bias=-6.0: ExclusiveGating(c, bias), "2(c)"),
    "shortcut_gating": _Variant(None, lambda c, bias=0.0: ShortcutGating(c, bias), "2(d)"),
    "conv_shortcut": _Variant("C", lambda c: Add(), "2(e)"),
    "dropout_shortcut": _Variant(None, lambda c, p=0.5: DropoutShortcut(p), "2(f)"),
}

class PreActBasicBlock(_Block):
    """A basic block with BN and ReLU placed as in Fig. 4 of He et al. (2016b), by ``order``:

    * ``"original"``: ``relu(s + BN(W2 relu(BN(W1 x))))``, the same computation (and parameters,
      created in the same order) as :class:`BasicBlock`;
    * ``"bn_after_add"``: ``relu(BN(s + W2 relu(BN(W1 x))))`` (``bn2`` sits after the addition);
    * ``"relu_before_add"``: ``s + relu(BN(W2 relu(BN(W1 x))))``: the branch is non-negative;
    * ``"relu_preact"``: ``s + BN(W2 relu(BN(W1 relu(x))))``;
    * ``"full_preact"``: ``s + W2 relu(BN(W1 relu(BN(x))))``, the proposed unit: nothing but the
      addition on the path from ``x_l`` to ``x_{l+1}`` (``bn1`` normalizes the block's input).

    ``s`` is the shortcut of the raw input (identity, or option A/B/C where the shape changes),
    combined with the branch by ``merge`` (default :class:`Add`). Networks of blocks whose
    output is not activated end with one more activation: see :func:`cifar_resnet`'s ``activation``.
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None,
                 *, shortcut: bool = True, merge: Optional[nn.Module] = None, order: str = "full_preact"):
        super().__init__()
        _check_block(inplanes, planes, stride)
        if order not in ACTIVATION_ORDERS:
            raise ValueError(f"order must be one of {tuple(ACTIVATION_ORDERS)}, got {order!r}")
        self.order = order
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(inplanes if order == "full_preact" else planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self._attach_shortcut(downsample, shortcut, merge)
        self.stride = stride

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        o = self.order
        if o == "full_preact":
            return self.conv2(self.relu(self.bn2(self.conv1(self.relu(self.bn1(x))))))
        if o == "relu_preact":
            return self.bn2(self.conv2(self.relu(self.bn1(self.conv1(self.relu(x))))))
        out = self.relu(self.bn1(self.conv1(x)))
        if o == "bn_after_add":
            return self.conv2(out)
        out = self.bn2(self.conv2(out))
        return self.relu(out) if o == "relu_before_add" else out

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        """The BN whose zero gamma makes ``F(x) = 0`` (``bn1`` when ``bn2`` follows the addition)."""
        return self.bn1 if self.order == "bn_after_add" else self.bn2

    def activate(self, out: torch.Tensor) -> torch.Tensor:
        """After the merge: ``relu`` (original), ``relu(bn2(.))`` (bn_after_add), else nothing."""
        if self.order == "original":
            return self.relu(out)
        if self.order == "bn_after_add":
            return self.relu(self.bn2(out))
        return out


def _variant_and_activation(variant, variant_options, activation, shortcut, block, merge, plain):
    """Resolve ``variant`` / ``activation`` into (merge factory of channels, shortcut option, block)."""
    merge_for = None
    if variant is not None:
        if variant not in SHORTCUT_VARIANTS:
            raise ValueError(f"variant must be one of {tuple(SHORTCUT_VARIANTS)}, got {variant!r}")
        if plain:
            raise ValueError("a plain net (plain=True) has no shortcut to vary")
        if merge is not None:
            raise ValueError("give either variant or merge, not both")
        spec = SHORTCUT_VARIANTS[variant]
        options = check_variant_options(variant, spec.merge, variant_options, skip=1)
        spec.merge(1, **options)  # bad option values fail here, with their own message
        if spec.shortcut is not None:
            shortcut = spec.shortcut
        merge_for = lambda planes: spec.merge(planes, **options)  # noqa: E731
    elif variant_options:
        raise ValueError("variant_options needs a variant")
    if activation is not None:
        if activation not in ACTIVATION_ORDERS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATION_ORDERS)}, got {activation!r}")
        if block is not None:
            raise ValueError("give either activation or block, not both")
        block = functools.partial(PreActBasicBlock, order=activation)
    return merge_for, shortcut, block


def _final_activation(activation: Optional[str], channels: int) -> nn.Module:
    """What a network of ``activation``-ordered blocks needs after its last block: BN-ReLU for
    full pre-activation (the authors' code), ReLU for ReLU-only pre-activation, else nothing."""
    if activation == "full_preact":
        return nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU())
    if activation == "relu_preact":
        return nn.ReLU()
    return nn.Identity()
