"""The ImageNet ResNets of He et al. (2016a), with torchvision's modules and ``state_dict`` keys."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .. import validate
from ..core.residual import RESNET_STAGES
from ..validate import positive_int as _check_positive_int
from .blocks import (
    SHORTCUTS,
    BasicBlock,
    Bottleneck,
    _check_images,
    _init_weights,
    make_shortcut,
    residual_blocks,
    zero_init_residual_,
)

# --------------------------------------------------------------------------------------------
# ImageNet ResNets (torchvision's architecture)
# --------------------------------------------------------------------------------------------

#: blocks per stage of each ImageNet ResNet, and the block type (paper's Table 1)
RESNET_LAYERS: dict[int, tuple[type, tuple[int, int, int, int]]] = {
    depth: ({"basic": BasicBlock, "bottleneck": Bottleneck}[kind], counts)
    for depth, (kind, counts) in RESNET_STAGES.items()
}


class ResNet(nn.Module):
    """The ImageNet ResNet: 7x7/2 conv, 3x3/2 max pool, four stages (64..512 planes), pool, fc.

    Same modules and names as ``torchvision.models.ResNet`` (``conv1, bn1, relu, maxpool,
    layer1..layer4, avgpool, fc``), so a torchvision ``state_dict`` loads into it. ``shortcut``
    is ``"B"`` (torchvision's); ``"A"`` and ``"C"`` give the paper's other two options.
    """

    def __init__(
        self,
        block: type,
        layers: Sequence[int],
        num_classes: int = 1000,
        zero_init_residual: bool = False,
        in_channels: int = 3,
        shortcut: str = "B",
        groups: int = 1,
        width_per_group: int = 64,
    ):
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
        if block is not Bottleneck and (groups, width_per_group) != (1, 64):
            raise ValueError("groups and width_per_group apply to Bottleneck blocks only")
        self.groups = validate.positive_int("groups", groups)
        self.base_width = validate.positive_int("width_per_group", width_per_group)
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
        width = (
            {"groups": self.groups, "base_width": self.base_width} if block is Bottleneck else {}
        )
        layers = [
            block(
                self.inplanes,
                planes,
                stride,
                make_shortcut(self.shortcut_kind, self.inplanes, out, stride),
                **width,
            )
        ]
        self.inplanes = out
        layers += [
            block(out, planes, 1, make_shortcut(self.shortcut_kind, out, out, 1), **width)
            for _ in range(1, blocks)
        ]
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


def _resnet(
    depth: int,
    num_classes: int,
    zero_init_residual: bool,
    groups: int = 1,
    width_per_group: int = 64,
) -> ResNet:
    block, layers = RESNET_LAYERS[depth]
    return ResNet(
        block,
        layers,
        num_classes=num_classes,
        zero_init_residual=zero_init_residual,
        groups=groups,
        width_per_group=width_per_group,
    )


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


def wide_resnet50_2(num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """Wide ResNet-50-2 (Zagoruyko & Komodakis 2016, torchvision's): ResNet-50 with every
    bottleneck's 3x3 conv twice as wide (``width_per_group=128``); 68,883,240 parameters."""
    return _resnet(50, num_classes, zero_init_residual, width_per_group=128)


def resnext50_32x4d(num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNeXt-50 32x4d (Xie et al. 2017, torchvision's): ResNet-50 whose 3x3 convs have 32
    groups of 4 channels per ``planes / 64`` (``groups=32, width_per_group=4``); 25,028,904
    parameters."""
    return _resnet(50, num_classes, zero_init_residual, groups=32, width_per_group=4)
