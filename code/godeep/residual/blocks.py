"""Residual blocks and the shortcut options of He et al. (2016a): :class:`BasicBlock`,
:class:`Bottleneck`, the merge :class:`Add` and shortcut options A, B and C (:data:`SHORTCUTS`)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..core.residual import bottleneck_width, check_block as _check_block


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """A 3x3 convolution, padding 1, no bias (a BN follows and has its own shift)."""
    return nn.Conv2d(
        in_planes, out_planes, kernel_size=3, stride=stride, padding=1, groups=groups, bias=False
    )


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """A 1x1 convolution, no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


def _check_module(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _check_images(x: object, conv: nn.Conv2d) -> None:
    """``x`` a batch of NCHW images with ``conv``'s input channels and weight dtype."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != conv.in_channels:
        raise ValueError(
            f"expected a batch of images (N, {conv.in_channels}, H, W), got shape {tuple(x.shape)}"
        )
    autocast = x.is_floating_point() and torch.is_autocast_enabled(
        x.device.type
    )  # torch casts there
    if x.dtype != conv.weight.dtype and not autocast:
        raise TypeError(
            f"x must have the model's dtype {conv.weight.dtype}, got {x.dtype}: convert it with "
            f"x.to({conv.weight.dtype})"
        )


# --------------------------------------------------------------------------------------------
# Shortcuts and the merge
# --------------------------------------------------------------------------------------------


class Add(nn.Module):
    """The merge of a standard residual block: ``merge(f, s, x) = f + s``.

    Not in place: ``f + s`` builds a new tensor, so no tensor that autograd saved is modified.
    """

    def forward(self, f: torch.Tensor, s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # noqa: ARG002
        return f + s


class ZeroPadShortcut(nn.Module):
    """Option A: ``s(x) = [x[:, :, ::stride, ::stride], 0]``, no parameters.

    Subsamples by ``stride`` and appends ``out_channels - in_channels`` channels of zeros (the
    zeros come after the input's channels, as in the authors' Torch code's concatenation).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        _check_block(in_channels, out_channels, stride)
        if out_channels < in_channels:
            raise ValueError(f"option A cannot reduce channels: {in_channels} -> {out_channels}")
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        extra = self.out_channels - self.in_channels
        return F.pad(x, (0, 0, 0, 0, 0, extra)) if extra else x

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


def _projection(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """``W_s x``: a 1x1 convolution with the block's stride, then BN (torchvision's ``downsample``)."""
    return nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))


def _option_a(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    if stride == 1 and in_channels == out_channels:
        return None  # identity
    return ZeroPadShortcut(in_channels, out_channels, stride)


def _option_b(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    if stride == 1 and in_channels == out_channels:
        return None
    return _projection(in_channels, out_channels, stride)


def _option_c(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    return _projection(in_channels, out_channels, stride)


#: Shortcut name -> factory ``(in_channels, out_channels, stride) -> module or None``; ``None``
#: means the identity. :mod:`godeep.residual.variants` adds the variants of He et al. (2016b).
SHORTCUTS: dict[str, Callable[[int, int, int], nn.Module | None]] = {
    "A": _option_a,
    "B": _option_b,
    "C": _option_c,
}


def make_shortcut(kind: str, in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    """The shortcut transform of :data:`SHORTCUTS` named ``kind`` (``None`` = identity)."""
    if kind not in SHORTCUTS:
        raise ValueError(f"shortcut must be one of {tuple(SHORTCUTS)}, got {kind!r}")
    return SHORTCUTS[kind](in_channels, out_channels, stride)


# --------------------------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------------------------


class _Block(nn.Module):
    """What the blocks share: ``y = activate(merge(F(x), s(x), x))``, or ``activate(F(x))`` if
    plain, with ``F`` the block's :meth:`residual` branch and ``activate`` a ReLU by default."""

    expansion = 1

    def _attach_shortcut(
        self, downsample: nn.Module | None, shortcut: bool, merge: nn.Module | None
    ) -> None:
        # registered after the convs and BNs, so that state_dict keys come in torchvision's order
        self.relu = nn.ReLU()
        #: the shortcut's transform (torchvision's name); ``None`` is the identity
        self.downsample = downsample
        #: False for a plain block: no shortcut at all
        self.shortcut = bool(shortcut)
        if merge is not None and not shortcut:
            raise ValueError("a plain block (shortcut=False) has nothing to merge")
        if merge is not None:
            self.merge = merge
        else:
            self.merge = Add()

    def residual(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        """The BN that closes the residual branch (zeroing its gamma makes F(x) = 0)."""
        raise NotImplementedError  # pragma: no cover

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.residual(x)
        if self.shortcut:
            s = x if self.downsample is None else self.downsample(x)
            if s.shape != out.shape:
                raise ValueError(
                    f"shortcut shape {tuple(s.shape)} differs from the residual branch's {tuple(out.shape)}: "
                    "use a shortcut option that changes the shape (A, B or C)"
                )
            out = self.merge(out, s, x)
        return self.activate(out)

    def activate(self, out: torch.Tensor) -> torch.Tensor:
        """What follows the merge: ``relu`` (a block with another activation order overrides it)."""
        return self.relu(out)


class BasicBlock(_Block):
    """Two 3x3 conv-BN layers: ``F(x) = BN(W2 relu(BN(W1 x)))`` and ``y = relu(F(x) + s(x))``.

    Args:
        inplanes, planes: input and output channels.
        stride: stride of the first convolution (2 halves the resolution).
        downsample: the shortcut transform, ``None`` for the identity.
        shortcut: ``False`` gives the *plain* block ``y = relu(F(x))``.
        merge: module computing ``merge(F(x), s(x), x)``; default :class:`Add`.

    Attribute names are torchvision's, so its ``state_dict`` keys are reproduced.
    """

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        shortcut: bool = True,
        merge: nn.Module | None = None,
    ):
        super().__init__()
        _check_block(inplanes, planes, stride)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self._attach_shortcut(downsample, shortcut, merge)
        self.stride = stride

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out))

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn2


class Bottleneck(_Block):
    """1x1 reduce, 3x3, 1x1 expand (x4): ``F(x) = BN(W3 relu(BN(W2 relu(BN(W1 x)))))``.

    ``planes`` sets the width: the block outputs ``4 * planes`` channels, and the 3x3 conv has
    ``int(planes * base_width / 64) * groups`` channels in ``groups`` groups (torchvision's rule:
    ``groups=1, base_width=64`` is ResNet's ``planes``; ``base_width=128`` doubles it, the *wide*
    ResNet of Zagoruyko & Komodakis 2016; ``groups=32, base_width=4`` is ResNeXt's 32x4d
    cardinality, Xie et al. 2017). The stride sits on the 3x3 convolution, as in torchvision
    ("ResNet v1.5"; the paper's original puts it on the first 1x1 conv, which skips three quarters
    of the input's positions).
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        shortcut: bool = True,
        merge: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
    ):
        super().__init__()
        _check_block(inplanes, planes, stride)
        width = bottleneck_width(planes, groups, base_width)
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self._attach_shortcut(downsample, shortcut, merge)
        self.stride = stride

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn3


def residual_blocks(model: nn.Module) -> list[nn.Module]:
    """Every residual (or plain) block of ``model``, in the order of the forward pass."""
    return [m for m in _check_module(model).modules() if isinstance(m, _Block)]


def zero_init_residual_(model: nn.Module) -> nn.Module:
    """Set the last BN's gamma of every block's residual branch to 0 (Goyal et al., 2017).

    Then F(x) = 0 at initialization, and a block with an identity shortcut computes
    ``relu(x)``, which is ``x`` itself for the non-negative inputs every block after the first
    ReLU receives.
    """
    with torch.no_grad():
        for block in residual_blocks(model):
            block.last_bn.weight.zero_()
    return model


def _init_weights(model: nn.Module) -> None:
    """torchvision's initialization: He normal, fan_out, for convs; BN gamma 1, beta 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
