"""DenseNet (Huang et al., 2017): concatenate instead of add.

Inside a dense block, layer ``l`` sees the concatenation of the block's input and the outputs
of all the layers before it,

    x_l = H_l([x_0, x_1, ..., x_{l-1}]),     H_l = conv3x3(relu(BN(conv1x1(relu(BN(.))))))     (1)

and adds ``growth_rate`` (``k``) new channels. Where a ResNet *sums* a branch into one
running signal, a DenseNet keeps every earlier feature map as it is: the gradient of the loss
reaches ``x_0`` directly from every later layer of the block, one path per layer, with no
product of branch Jacobians in between. Between blocks a *transition* (BN, ReLU, 1x1 conv
halving the channels, 2x2 average pool) shrinks the map.

:func:`densenet121` is torchvision's DenseNet-121 ("DenseNet-BC": bottleneck width
``bn_size * k = 4k``, compression 0.5): the same modules under the same names
(``features.denseblock1.denselayer1.norm1`` ...), so a torchvision ``state_dict`` loads
strictly, and 7,978,856 parameters for 1000 classes. :func:`densenet_cifar` is the paper's
CIFAR DenseNet-BC (a 3x3 conv stem to ``2k`` channels, no pooling before the first block).
``dense=False`` is the control with the dense connections cut: every layer sees only the
previous layer's output (the earlier maps replaced by zeros, so every shape and parameter
stays), and a block passes on only its last layer's output.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .. import validate
from ..core.residual import check_densenet

__all__ = ["DenseLayer", "DenseBlock", "Transition", "DenseNet", "densenet121", "densenet_cifar"]

DENSENET_STEMS = ("imagenet", "cifar")


class DenseLayer(nn.Module):
    """``H_l`` of Eq. (1): BN-ReLU-1x1 conv to ``bn_size * growth_rate`` channels, BN-ReLU-3x3
    conv to ``growth_rate``. Takes the list of earlier feature maps, returns the new one."""

    def __init__(
        self, in_channels: int, growth_rate: int, bn_size: int = 4, drop_rate: float = 0.0
    ):
        super().__init__()
        in_channels = validate.positive_int("in_channels", in_channels)
        growth_rate = validate.positive_int("growth_rate", growth_rate)
        width = validate.positive_int("bn_size", bn_size) * growth_rate
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=1, bias=False)
        self.norm2 = nn.BatchNorm2d(width)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(width, growth_rate, kernel_size=3, padding=1, bias=False)
        self.drop_rate = validate.number("drop_rate", drop_rate, 0.0, 1.0, high_open=True)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(list(features), dim=1)
        x = self.conv1(self.relu1(self.norm1(x)))
        x = self.conv2(self.relu2(self.norm2(x)))
        if self.drop_rate > 0:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        return x


def chain_features(features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """The dense connections cut: every map but the last replaced by zeros of its shape."""
    return [torch.zeros_like(f) for f in features[:-1]] + [features[-1]]


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers (``denselayer1`` ...); the output concatenates the input and
    every layer's ``growth_rate`` new channels: ``in_channels + num_layers * growth_rate``.
    ``dense=False``: layer ``l`` gets ``[0, ..., 0, x_{l-1}]`` and the block returns
    ``[0, ..., 0, x_L]`` (:func:`chain_features`): a plain chain with the same shapes."""

    def __init__(
        self,
        num_layers: int,
        in_channels: int,
        growth_rate: int,
        bn_size: int = 4,
        drop_rate: float = 0.0,
        dense: bool = True,
    ):
        num_layers = validate.positive_int("num_layers", num_layers)
        dense = validate.boolean("dense", dense)
        super().__init__(
            {
                f"denselayer{i + 1}": DenseLayer(
                    in_channels + i * growth_rate, growth_rate, bn_size, drop_rate
                )
                for i in range(num_layers)
            }
        )
        self.dense = dense

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cut = (lambda f: f) if self.dense else chain_features
        features = [x]
        for layer in self.values():
            features.append(layer(cut(features)))
        return torch.cat(cut(features), dim=1)


class Transition(nn.Sequential):
    """Between dense blocks: BN, ReLU, 1x1 conv to ``out_channels``, 2x2 average pool."""

    def __init__(self, in_channels: int, out_channels: int):
        in_channels = validate.positive_int("in_channels", in_channels)
        out_channels = validate.positive_int("out_channels", out_channels)
        super().__init__(
            OrderedDict(
                norm=nn.BatchNorm2d(in_channels),
                relu=nn.ReLU(),
                conv=nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
                pool=nn.AvgPool2d(kernel_size=2, stride=2),
            )
        )


class DenseNet(nn.Module):
    """DenseNet-BC: a 7x7/2 conv stem and 3x3/2 max pool, dense blocks of ``block_config`` layers
    joined by transitions that halve the channels, a final BN, ReLU, global pool and ``classifier``.
    Module names are torchvision's (``features``, ``classifier``). ``stem="cifar"``: a 3x3 conv
    (stride 1) alone, the paper's stem for 32x32 images; ``dense=False``: every block a chain
    (:class:`DenseBlock`)."""

    def __init__(
        self,
        growth_rate: int = 32,
        block_config: Sequence[int] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        drop_rate: float = 0.0,
        num_classes: int = 1000,
        in_channels: int = 3,
        stem: str = "imagenet",
        dense: bool = True,
    ):
        super().__init__()
        growth_rate, block_config, channels, num_classes, in_channels = check_densenet(
            growth_rate, block_config, num_init_features, num_classes, in_channels
        )
        if validate.one_of("stem", stem, DENSENET_STEMS) == "imagenet":
            layers = OrderedDict(
                conv0=nn.Conv2d(in_channels, channels, 7, stride=2, padding=3, bias=False),
                norm0=nn.BatchNorm2d(channels),
                relu0=nn.ReLU(),
                pool0=nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            )
        else:
            layers = OrderedDict(conv0=nn.Conv2d(in_channels, channels, 3, padding=1, bias=False))
        self.features = nn.Sequential(layers)
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers, channels, growth_rate, bn_size, drop_rate, dense)
            self.features.add_module(f"denseblock{i + 1}", block)
            channels += num_layers * growth_rate
            if i < len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", Transition(channels, channels // 2))
                channels //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.classifier = nn.Linear(channels, num_classes)
        # torchvision's initialisation: He normal (fan_in) convs, BN (1, 0), Linear bias 0
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv0 = self.features.conv0
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 4 or x.shape[1] != conv0.in_channels:
            raise ValueError(
                f"expected a batch of images (N, {conv0.in_channels}, H, W), got shape {tuple(x.shape)}"
            )
        out = F.relu(self.features(x))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


def densenet121(num_classes: int = 1000) -> DenseNet:
    """DenseNet-121: growth rate 32, blocks (6, 12, 24, 16), 64 initial features; 7,978,856
    parameters for 1000 classes (torchvision's ``densenet121``)."""
    return DenseNet(32, (6, 12, 24, 16), 64, num_classes=num_classes)


def densenet_cifar(
    block_config: Sequence[int] = (16, 16, 16),
    growth_rate: int = 12,
    num_classes: int = 10,
    in_channels: int = 3,
    dense: bool = True,
) -> DenseNet:
    """The CIFAR DenseNet-BC of Huang et al. (2017, Sec. 3): a 3x3 conv to ``2 * growth_rate``
    channels, dense blocks of ``block_config`` bottleneck layers joined by transitions with
    compression 0.5, global pool, classifier. Depth (weighted layers)
    ``2 * sum(block_config) + len(block_config) + 1``: the default is DenseNet-BC (L=100, k=12),
    769,162 parameters for 10 classes. ``dense=False``: the chain control (:class:`DenseBlock`)."""
    return DenseNet(
        growth_rate,
        block_config,
        2 * validate.positive_int("growth_rate", growth_rate),
        num_classes=num_classes,
        in_channels=in_channels,
        stem="cifar",
        dense=dense,
    )
