"""Deep residual learning (He et al., 2016) in PyTorch: residual blocks and the ResNet family.

A residual block computes

    y = relu( F(x) + s(x) )                                                     (1)

where ``F`` (the *residual branch*) is a few conv-BN(-ReLU) layers and ``s`` (the *shortcut*)
is the identity when the shapes of ``x`` and ``F(x)`` agree. When they do not (a stage that
halves the resolution and doubles the channels), the paper's three options are

* ``"A"``: a parameter-free shortcut: subsample by the stride, pad the new channels with zeros;
* ``"B"``: a projection ``W_s x`` (1x1 conv + BN) only where the shape changes, identity elsewhere;
* ``"C"``: a projection on every block.

Removing ``s`` altogether gives the *plain* network of the same depth, ``y = relu(F(x))``.

What is here:

* :class:`BasicBlock` (two 3x3 convs) and :class:`Bottleneck` (1x1 reduce, 3x3, 1x1 expand),
  with torchvision's attribute names (``conv1, bn1, conv2, bn2[, conv3, bn3], downsample``);
* :func:`resnet18` ... :func:`resnet152`: exactly torchvision's ImageNet ResNets (same modules,
  same ``state_dict`` keys, same parameter counts), without needing torchvision;
* :func:`cifar_resnet`: the CIFAR-10 ResNets of the paper's section 4.2 (6n+2 layers), and their
  plain twins (``plain=True``).

Extension points (used by chapter 5): a block's shortcut comes from :data:`SHORTCUTS` (name ->
factory), and the sum in (1) is done by a *merge* module, ``merge(f, s, x) -> tensor``
(:class:`Add` by default), so variants such as constant scaling or gating are new merge modules.
``model.stages`` lists the stages (``nn.Sequential`` of blocks) and ``model.blocks`` every block
in order; :func:`drop_block` returns a copy of a network with one block replaced by the identity.

Chapter 5's variants (He et al., 2016b, "Identity Mappings in Deep Residual Networks"): the six
shortcuts of their Table 1 are named in :data:`SHORTCUT_VARIANTS` (``cifar_resnet(variant=...)``:
:class:`ConstantScaling`, :class:`ExclusiveGating`, :class:`ShortcutGating`,
:class:`DropoutShortcut`, the 1x1 conv shortcut), and the five placements of BN and ReLU of their
Table 2 in :data:`ACTIVATION_ORDERS` (:class:`PreActBasicBlock`, ``cifar_resnet(activation=...)``).
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections import OrderedDict
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import validate
from .core.residual import ACTIVATION_ORDERS, RESNET_STAGES, check_article_convnet, check_variant_options, cifar_depths
from .core.residual import blocks_per_stage as _blocks_per_stage, check_block as _check_block
from .validate import positive_int as _check_positive_int

__all__ = [
    "Add",
    "ZeroPadShortcut",
    "BasicBlock",
    "Bottleneck",
    "SHORTCUTS",
    "make_shortcut",
    "ResNet",
    "CifarResNet",
    "cifar_resnet",
    "cifar_depths",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "RESNET_LAYERS",
    "count_parameters",
    "count_macs",
    "drop_block",
    "residual_blocks",
    "zero_init_residual_",
    "DenseResidualBlock",
    "dense_resnet",
    "ConvResidualBlock",
    "article_convnet",
    "ConstantScaling",
    "ExclusiveGating",
    "ShortcutGating",
    "DropoutShortcut",
    "SHORTCUT_VARIANTS",
    "PreActBasicBlock",
    "ACTIVATION_ORDERS",
]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """A 3x3 convolution, padding 1, no bias (a BN follows and has its own shift)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


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
        raise ValueError(f"expected a batch of images (N, {conv.in_channels}, H, W), got shape {tuple(x.shape)}")
    autocast = x.is_floating_point() and torch.is_autocast_enabled(x.device.type)  # torch casts there
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


def _option_a(in_channels: int, out_channels: int, stride: int) -> Optional[nn.Module]:
    if stride == 1 and in_channels == out_channels:
        return None  # identity
    return ZeroPadShortcut(in_channels, out_channels, stride)


def _option_b(in_channels: int, out_channels: int, stride: int) -> Optional[nn.Module]:
    if stride == 1 and in_channels == out_channels:
        return None
    return _projection(in_channels, out_channels, stride)


def _option_c(in_channels: int, out_channels: int, stride: int) -> Optional[nn.Module]:
    return _projection(in_channels, out_channels, stride)


#: Shortcut name -> factory ``(in_channels, out_channels, stride) -> module or None``; ``None``
#: means the identity. Chapter 5 registers more variants here.
SHORTCUTS: dict[str, Callable[[int, int, int], Optional[nn.Module]]] = {
    "A": _option_a,
    "B": _option_b,
    "C": _option_c,
}


def make_shortcut(kind: str, in_channels: int, out_channels: int, stride: int) -> Optional[nn.Module]:
    """The shortcut transform of :data:`SHORTCUTS` named ``kind`` (``None`` = identity)."""
    if kind not in SHORTCUTS:
        raise ValueError(f"shortcut must be one of {tuple(SHORTCUTS)}, got {kind!r}")
    return SHORTCUTS[kind](in_channels, out_channels, stride)


# --------------------------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------------------------


class _Block(nn.Module):
    """What the two blocks share: y = relu(merge(F(x), s(x), x)), or relu(F(x)) if plain."""

    expansion = 1

    def _attach_shortcut(self, downsample: Optional[nn.Module], shortcut: bool, merge: Optional[nn.Module]) -> None:
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

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None,
                 *, shortcut: bool = True, merge: Optional[nn.Module] = None):
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

    ``planes`` is the width of the 3x3 conv; the block outputs ``4 * planes`` channels. The
    stride sits on the 3x3 convolution, as in torchvision ("ResNet v1.5"; the paper's original
    puts it on the first 1x1 conv, which skips three quarters of the input's positions).
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None,
                 *, shortcut: bool = True, merge: Optional[nn.Module] = None):
        super().__init__()
        _check_block(inplanes, planes, stride)
        width = planes
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
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


# --------------------------------------------------------------------------------------------
# ImageNet ResNets (torchvision's architecture)
# --------------------------------------------------------------------------------------------

#: blocks per stage of each ImageNet ResNet, and the block type (paper's Table 1)
RESNET_LAYERS: dict[int, tuple[type, tuple[int, int, int, int]]] = {
    depth: ({"basic": BasicBlock, "bottleneck": Bottleneck}[kind], counts) for depth, (kind, counts) in RESNET_STAGES.items()
}


class ResNet(nn.Module):
    """The ImageNet ResNet: 7x7/2 conv, 3x3/2 max pool, four stages (64..512 planes), pool, fc.

    Same modules and names as ``torchvision.models.ResNet`` (``conv1, bn1, relu, maxpool,
    layer1..layer4, avgpool, fc``), so a torchvision ``state_dict`` loads into it. ``shortcut``
    is ``"B"`` (torchvision's); ``"A"`` and ``"C"`` give the paper's other two options.
    """

    def __init__(self, block: type, layers: Sequence[int], num_classes: int = 1000,
                 zero_init_residual: bool = False, in_channels: int = 3, shortcut: str = "B"):
        super().__init__()
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {tuple(SHORTCUTS)}, got {shortcut!r}")
        self.shortcut_kind = shortcut
        _check_positive_int("num_classes", num_classes)
        _check_positive_int("in_channels", in_channels)
        validate.boolean("zero_init_residual", zero_init_residual)
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__") or len(layers) != 4:
            raise ValueError(f"layers must list the blocks of 4 stages, got {layers!r}")
        layers = validate.positive_ints("layers", layers)
        self.inplanes = 64
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        _init_weights(self)
        if zero_init_residual:
            zero_init_residual_(self)

    def _make_layer(self, block: type, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        # torchvision: option B, a projection (1x1 conv + BN) where the shape changes
        out = planes * block.expansion
        layers = [block(self.inplanes, planes, stride, make_shortcut(self.shortcut_kind, self.inplanes, out, stride))]
        self.inplanes = out
        layers += [block(out, planes, 1, make_shortcut(self.shortcut_kind, out, out, 1)) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    @property
    def stages(self) -> list[nn.Sequential]:
        return [self.layer1, self.layer2, self.layer3, self.layer4]

    @property
    def blocks(self) -> list[nn.Module]:
        return residual_blocks(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.conv1)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in self.stages:
            x = stage(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _resnet(depth: int, num_classes: int, zero_init_residual: bool) -> ResNet:
    block, layers = RESNET_LAYERS[depth]
    return ResNet(block, layers, num_classes=num_classes, zero_init_residual=zero_init_residual)


def resnet18(num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-18: basic blocks [2, 2, 2, 2]; 11,689,512 parameters for 1000 classes."""
    return _resnet(18, num_classes, zero_init_residual)


def resnet34(num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-34: basic blocks [3, 4, 6, 3]; 21,797,672 parameters for 1000 classes."""
    return _resnet(34, num_classes, zero_init_residual)


def resnet50(num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-50: bottleneck blocks [3, 4, 6, 3]; 25,557,032 parameters for 1000 classes."""
    return _resnet(50, num_classes, zero_init_residual)


def resnet101(num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-101: bottleneck blocks [3, 4, 23, 3]."""
    return _resnet(101, num_classes, zero_init_residual)


def resnet152(num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-152: bottleneck blocks [3, 8, 36, 3]."""
    return _resnet(152, num_classes, zero_init_residual)


# --------------------------------------------------------------------------------------------
# CIFAR ResNets (the paper's section 4.2)
# --------------------------------------------------------------------------------------------


class CifarResNet(nn.Module):
    """He et al.'s CIFAR-10 network: a 3x3 conv, 3 stages of n basic blocks, pool, fc.

    Layers: ``conv1, bn1, relu`` (the stem), ``layer1, layer2, layer3`` (stages of ``n`` blocks
    with ``widths`` channels; the first block of stages 2 and 3 has stride 2), ``avgpool``,
    ``fc``. Depth = 1 + 6n + 1 weight layers. ``stages`` and ``blocks`` list the blocks.
    """

    def __init__(self, depth: int, num_classes: int = 10, plain: bool = False, in_channels: int = 3,
                 widths: Sequence[int] = (16, 32, 64), shortcut: str = "A", zero_init_residual: bool = False,
                 block: Optional[Callable[..., nn.Module]] = None,
                 merge: Optional[Callable[[], nn.Module]] = None,
                 variant: Optional[str] = None, variant_options: Optional[dict] = None,
                 activation: Optional[str] = None):
        super().__init__()
        n = _blocks_per_stage(depth)
        merge_for, shortcut, block = _variant_and_activation(variant, variant_options, activation, shortcut, block,
                                                             merge, plain)
        _check_positive_int("num_classes", num_classes)
        _check_positive_int("in_channels", in_channels)
        widths = tuple(widths)
        if len(widths) != 3:
            raise ValueError(f"widths must give the channels of 3 stages, got {widths!r}")
        for i, w in enumerate(widths):
            _check_positive_int(f"widths[{i}]", w)
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {tuple(SHORTCUTS)}, got {shortcut!r}")
        if not isinstance(plain, bool):
            raise TypeError(f"plain must be a bool, got {type(plain).__name__}")
        validate.boolean("zero_init_residual", zero_init_residual)
        if plain and zero_init_residual:
            raise ValueError("zero_init_residual=True would silence every layer of a plain net (plain=True)")
        if plain and merge is not None:
            raise ValueError("a plain net (plain=True) has no shortcut to merge")
        self.depth, self.plain, self.shortcut_kind = depth, plain, shortcut
        block = BasicBlock if block is None else block
        self.conv1 = conv3x3(in_channels, widths[0])
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        inplanes = widths[0]
        for s, planes in enumerate(widths):
            blocks = []
            for b in range(n):
                stride = 2 if (s > 0 and b == 0) else 1
                down = None if plain else make_shortcut(shortcut, inplanes, planes, stride)
                kwargs = {"shortcut": not plain}
                if merge is not None:
                    kwargs["merge"] = merge()
                elif merge_for is not None:
                    kwargs["merge"] = merge_for(planes)
                blocks.append(block(inplanes, planes, stride, down, **kwargs))
                inplanes = planes
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        #: what follows the last block before pooling: the identity, or the final BN-ReLU (ReLU)
        #: that pre-activation networks need because their blocks end with an addition
        self.post = _final_activation(activation, inplanes)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(inplanes, num_classes)
        _init_weights(self)
        if zero_init_residual:
            zero_init_residual_(self)

    @property
    def stages(self) -> list[nn.Sequential]:
        return [self.layer1, self.layer2, self.layer3]

    @property
    def blocks(self) -> list[nn.Module]:
        return residual_blocks(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.conv1)
        x = self.relu(self.bn1(self.conv1(x)))
        for stage in self.stages:
            x = stage(x)
        x = self.post(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def cifar_resnet(depth: int, num_classes: int = 10, plain: bool = False, in_channels: int = 3,
                 widths: Sequence[int] = (16, 32, 64), shortcut: str = "A", zero_init_residual: bool = False,
                 **options) -> CifarResNet:
    """The CIFAR-10 ResNet of He et al. (2016, section 4.2) with ``depth = 6n + 2`` layers.

    A 3x3 conv to ``widths[0]`` channels, then 3 stages of ``n`` :class:`BasicBlock` s with
    ``widths`` = (16, 32, 64) channels on feature maps of 32, 16, 8 pixels (for CIFAR's 32x32),
    global average pooling and a ``num_classes``-way fully connected layer. Parameters: 0.27M,
    0.46M, 0.66M, 0.85M, 1.7M for depths 20, 32, 44, 56, 110 (shortcut "A").

    Args:
        depth: 6n+2 (20, 32, 44, 56, 110, ...); anything else raises ``ValueError``.
        plain: ``True`` removes every shortcut: the paper's plain net of the same depth.
        in_channels: 3 for colour images, 1 for grey ones (e.g. 8x8 digits: any size >= 4 works).
        shortcut: ``"A"`` (zero-padding, parameter-free; the paper's CIFAR choice), ``"B"``
            (projection where shapes change) or ``"C"`` (projection everywhere), or any name
            registered in :data:`SHORTCUTS`.
        zero_init_residual: start the last BN gamma of every residual branch at 0, so every
            block starts as (the ReLU of) the identity (Goyal et al., 2017).
        options: ``block`` (a block class with :class:`BasicBlock`'s signature) and ``merge``
            (a zero-argument factory of merge modules), for the variants of chapter 5;
            ``variant`` (a name of :data:`SHORTCUT_VARIANTS`: the shortcuts of He et al.'s
            "Identity Mappings" paper, Table 1) with ``variant_options`` (e.g.
            ``{"bias": -6.0}`` for a gate's initial bias); ``activation`` (a name of
            :data:`ACTIVATION_ORDERS`: where BN and ReLU sit relative to the addition, their
            Table 2 / Fig. 4, built from :class:`PreActBasicBlock`).
    """
    return CifarResNet(depth, num_classes=num_classes, plain=plain, in_channels=in_channels, widths=widths,
                       shortcut=shortcut, zero_init_residual=zero_init_residual, **options)


# --------------------------------------------------------------------------------------------
# Counting and surgery
# --------------------------------------------------------------------------------------------


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """The number of (trainable) parameters; BN running statistics are buffers, not counted."""
    _check_module(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass on one input of ``input_shape`` (C, H, W).

    Counts convolutions (``k_h k_w C_in/groups`` per output element) and fully connected layers
    (``in * out``), the layers the paper's "FLOPs" (multiply-adds, Table 1) count.
    """
    _check_module(model)
    input_shape = validate.positive_ints("input_shape", input_shape, length=3)
    total = 0

    def conv_hook(module: nn.Conv2d, inputs, output):
        nonlocal total
        kh, kw = module.kernel_size
        total += output.numel() * kh * kw * module.in_channels // module.groups

    def linear_hook(module: nn.Linear, inputs, output):
        nonlocal total
        total += output.numel() * module.in_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total


def drop_block(model: nn.Module, index: int) -> nn.Module:
    """A deep copy of ``model`` whose block number ``index`` (in :func:`residual_blocks` order)
    is replaced by the identity: the lesion of Veit et al. (2016). Only a block whose input and
    output shapes agree can be dropped."""
    blocks = residual_blocks(model)
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"index must be an int, got {type(index).__name__}")
    if not -len(blocks) <= index < len(blocks):
        raise IndexError(f"index must be in [0, {len(blocks)}), got {index}")
    target = blocks[index]
    if target.downsample is not None or target.stride != 1 or target.conv1.in_channels != target.last_bn.num_features:
        raise ValueError(f"block {index} changes the shape of its input; dropping it would break the network")
    lesioned = copy.deepcopy(model)
    target_copy = residual_blocks(lesioned)[index]
    for parent in lesioned.modules():
        for name, child in parent.named_children():
            if child is target_copy:
                setattr(parent, name, nn.Identity())
                return lesioned
    raise RuntimeError("block not found")  # pragma: no cover


# --------------------------------------------------------------------------------------------
# The source documents' residual examples, rebuilt
# --------------------------------------------------------------------------------------------


class DenseResidualBlock(nn.Module):
    """A fully connected residual block: ``y = relu(BN(W2 relu(BN(W1 x))) + x)``.

    The tutorial article's ``ResidualBlock`` (two Linear+BN layers, a shortcut, a final ReLU),
    with the shortcut added out of place. ``shortcut=False`` gives its plain twin
    ``relu(BN(W2 relu(BN(W1 x))))``; ``zero_init_residual`` starts ``bn2``'s gamma at zero. The
    blog's Keras ``residual_block`` is the same block once its BN is moved before the ReLU,
    as its own advice says (see :func:`godeep.keras.residual.residual_block`).
    ``bias=True`` keeps the article's Linear biases (redundant before a BN, whose beta adds the
    same shift, but they are part of its parameter count).
    """

    def __init__(self, features: int, *, shortcut: bool = True, zero_init_residual: bool = False, bias: bool = True):
        super().__init__()
        _check_positive_int("features", features)
        self.fc1 = nn.Linear(features, features, bias=bias)
        self.bn1 = nn.BatchNorm1d(features)
        self.fc2 = nn.Linear(features, features, bias=bias)
        self.bn2 = nn.BatchNorm1d(features)
        self.relu = nn.ReLU()
        self.shortcut = bool(shortcut)
        if zero_init_residual:
            if not shortcut:
                raise ValueError("zero_init_residual=True would silence a plain block (shortcut=False)")
            nn.init.zeros_(self.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.fc1.in_features:
            raise ValueError(f"expected a batch of vectors (N, {self.fc1.in_features}), got shape {tuple(x.shape)}")
        out = self.bn2(self.fc2(self.relu(self.bn1(self.fc1(x)))))
        if self.shortcut:
            out = out + x  # not `out += x`: see Section 4.2 on in-place additions
        return self.relu(out)


def dense_resnet(features: int, blocks: int, plain: bool = False, zero_init_residual: bool = False) -> nn.Sequential:
    """``blocks`` :class:`DenseResidualBlock` s of ``features`` units (``plain``: no shortcuts),
    named ``block1 .. blockN``: a stack that maps R^features to itself (2 layers per block)."""
    _check_positive_int("blocks", blocks)
    return nn.Sequential(OrderedDict(
        (f"block{i + 1}", DenseResidualBlock(features, shortcut=not plain, zero_init_residual=zero_init_residual))
        for i in range(blocks)
    ))


class ConvResidualBlock(nn.Module):
    """The article's convolutional block: ``y = relu(W2 * relu(W1 * x + b1) + b2 + x)``.

    Two 3x3 convolutions with biases and no normalization, same padding, and the identity
    shortcut; ``shortcut=False`` drops it.
    """

    def __init__(self, channels: int, kernel_size: int = 3, *, shortcut: bool = True):
        super().__init__()
        _check_positive_int("channels", channels)
        _check_positive_int("kernel_size", kernel_size)
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd (same padding), got {kernel_size}")
        self.conv1 = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2)
        self.relu = nn.ReLU()
        self.shortcut = bool(shortcut)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.relu(self.conv1(x)))
        if self.shortcut:
            out = out + x
        return self.relu(out)


def article_convnet(in_channels: int = 1, image_size: int = 28, num_classes: int = 10,
                    widths: Sequence[int] = (32, 64), hidden: int = 128, residual: bool = True) -> nn.Sequential:
    """The article's MNIST model: conv-ReLU, residual block, 2x2 max pool, conv-ReLU, residual
    block, 2x2 max pool, flatten, dense 128 + ReLU, dense ``num_classes`` (logits: the softmax
    is in the loss). ``residual=False`` removes the two shortcuts. ``image_size`` must be a
    multiple of 4 (28 for MNIST, 8 for the 8x8 digits)."""
    w1, w2 = check_article_convnet(in_channels, image_size, num_classes, widths, hidden, residual)
    side = image_size // 4
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(in_channels, w1, 3, padding=1)), ("relu1", nn.ReLU()),
        ("block1", ConvResidualBlock(w1, shortcut=residual)), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(w1, w2, 3, padding=1)), ("relu2", nn.ReLU()),
        ("block2", ConvResidualBlock(w2, shortcut=residual)), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(w2 * side * side, hidden)), ("relu3", nn.ReLU()),
        ("fc2", nn.Linear(hidden, num_classes)),
    ]))


# --------------------------------------------------------------------------------------------
# Chapter 5: the shortcut variants and activation orders of He et al. (2016), "Identity
# Mappings in Deep Residual Networks" (Table 1 / Fig. 2 and Table 2 / Fig. 4)
# --------------------------------------------------------------------------------------------


def _check_real(name: str, value: object) -> float:
    return validate.number(name, value)  # finite: a NaN scale or bias would make every output NaN


class ConstantScaling(nn.Module):
    """``merge(f, s, x) = branch * f + shortcut * s``: the shortcut ``h(x) = lambda x`` (Fig. 2b).

    With ``lambda = shortcut`` on every one of ``L - l`` blocks (and zero branches) the signal and
    the gradient are multiplied by ``lambda^(L-l)``. ``branch = 1 - lambda`` is the paper's
    "frozen gating" (0.5, 0.5: 12.35% error on ResNet-110); ``branch = 1`` failed to converge.
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
    """``merge = g * f + (1 - g) * s``, Highway-style gates (Fig. 2c); the paper's best initial
    bias was ``b_g = -6`` (8.70% error; 0 to -5 failed), so the gate starts nearly closed on ``F``."""

    def __init__(self, channels: int, bias: float = -6.0):
        super().__init__(channels, bias)

    def forward(self, f: torch.Tensor, s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # noqa: ARG002
        g = self.g(s)
        return g * f + (1 - g) * s


class ShortcutGating(_Gate):
    """``merge = f + (1 - g) * s``: only the shortcut is gated (Fig. 2d); with ``b_g = 0`` the gate
    starts near 1/2 (12.86% error), with ``b_g = -6`` near 1 (6.91%)."""

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
