"""Small residual networks for vectors and small images: dense residual blocks and a residual ConvNet."""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
from torch import nn

from ..core.residual import check_article_convnet
from ..validate import positive_int as _check_positive_int


# --------------------------------------------------------------------------------------------
# Residual examples as tutorials write them, rebuilt
# --------------------------------------------------------------------------------------------


class DenseResidualBlock(nn.Module):
    """A fully connected residual block: ``y = relu(BN(W2 relu(BN(W1 x))) + x)``.

    Two Linear+BN layers, a shortcut, a final ReLU, as tutorials commonly write it, with the
    shortcut added out of place. ``shortcut=False`` gives its plain twin
    ``relu(BN(W2 relu(BN(W1 x))))``; ``zero_init_residual`` starts ``bn2``'s gamma at zero. The
    functional Keras block :func:`godeep.keras.residual.residual_block` computes the same.
    ``bias=True`` keeps the Linear biases (redundant before a BN, whose beta adds the same
    shift, but part of the tutorial model's parameter count).
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
            out = out + x  # not `out += x`: autograd may have saved the tensor an in-place add changes
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
    """A convolutional residual block without normalization: ``y = relu(W2 * relu(W1 * x + b1) + b2 + x)``.

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


def mnist_residual_convnet(in_channels: int = 1, image_size: int = 28, num_classes: int = 10,
                    widths: Sequence[int] = (32, 64), hidden: int = 128, residual: bool = True) -> nn.Sequential:
    """A small residual ConvNet for MNIST: conv-ReLU, residual block, 2x2 max pool, conv-ReLU, residual
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
