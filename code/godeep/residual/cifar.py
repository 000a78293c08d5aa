"""The CIFAR-10 ResNets of He et al. (2016a, Sec. 4.2), ``depth = 6n + 2``, and their plain twins."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from .. import validate
from ..core.residual import blocks_per_stage as _blocks_per_stage
from ..validate import positive_int as _check_positive_int
from .blocks import (
    SHORTCUTS,
    BasicBlock,
    _check_images,
    _init_weights,
    conv3x3,
    make_shortcut,
    residual_blocks,
    zero_init_residual_,
)
from .variants import (
    _final_activation,
    _variant_and_activation,
)

# --------------------------------------------------------------------------------------------
# CIFAR ResNets (He et al. 2016a, Sec. 4.2)
# --------------------------------------------------------------------------------------------


class CifarResNet(nn.Module):
    """He et al.'s CIFAR-10 network: a 3x3 conv, 3 stages of n basic blocks, pool, fc.

    Layers: ``conv1, bn1, relu`` (the stem), ``layer1, layer2, layer3`` (stages of ``n`` blocks
    with ``widths`` channels; the first block of stages 2 and 3 has stride 2), ``avgpool``,
    ``fc``. Depth = 1 + 6n + 1 weight layers. ``stages`` and ``blocks`` list the blocks.
    """

    def __init__(
        self,
        depth: int,
        num_classes: int = 10,
        plain: bool = False,
        in_channels: int = 3,
        widths: Sequence[int] = (16, 32, 64),
        shortcut: str = "A",
        zero_init_residual: bool = False,
        block: Callable[..., nn.Module] | None = None,
        merge: Callable[[], nn.Module] | None = None,
        variant: str | None = None,
        variant_options: dict | None = None,
        activation: str | None = None,
    ):
        super().__init__()
        n = _blocks_per_stage(depth)
        merge_for, shortcut, block = _variant_and_activation(
            variant, variant_options, activation, shortcut, block, merge, plain
        )
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
            raise ValueError(
                "zero_init_residual=True would silence every layer of a plain net (plain=True)"
            )
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


def cifar_resnet(
    depth: int,
    num_classes: int = 10,
    plain: bool = False,
    in_channels: int = 3,
    widths: Sequence[int] = (16, 32, 64),
    shortcut: str = "A",
    zero_init_residual: bool = False,
    block: Callable[..., nn.Module] | None = None,
    merge: Callable[[], nn.Module] | None = None,
    variant: str | None = None,
    variant_options: dict | None = None,
    activation: str | None = None,
) -> CifarResNet:
    """The CIFAR-10 ResNet of He et al. (2016a, Sec. 4.2) with ``depth = 6n + 2`` layers.

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
        block: a block class with :class:`BasicBlock`'s signature (default :class:`BasicBlock`).
        merge: a zero-argument factory of merge modules, one per block (default :class:`Add`).
        variant: a name of :data:`SHORTCUT_VARIANTS`, the shortcuts of He et al. (2016b,
            Table 1 / Fig. 2), with ``variant_options`` (e.g. ``{"bias": -6.0}`` for a gate's
            initial bias).
        activation: a name of :data:`ACTIVATION_ORDERS`: where BN and ReLU sit relative to the
            addition (He et al. 2016b, Table 2 / Fig. 4), built from :class:`PreActBasicBlock`.
    """
    return CifarResNet(
        depth,
        num_classes=num_classes,
        plain=plain,
        in_channels=in_channels,
        widths=widths,
        shortcut=shortcut,
        zero_init_residual=zero_init_residual,
        block=block,
        merge=merge,
        variant=variant,
        variant_options=variant_options,
        activation=activation,
    )
