"""Deep plain networks to study: fully connected stacks of any depth (PyTorch).

A plain MLP of depth ``L`` computes

    h_0 = x,    z_l = W_l h_{l-1} + b_l,    h_l = f(z_l)   (l = 1..L),    y = W_out h_L + b_out

so each layer multiplies the signal by a random matrix and squashes it through ``f``: the
product of many such per-layer factors is what makes depth hard.

Layers are named ``fc1, act1, ..., fcL, actL, out`` so that tools such as
:func:`godeep.signals.record` can find the hidden activations by name; the Keras twin
(:mod:`godeep.keras.models`) uses the same names.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from .core.models import (
    ACTIVATIONS,
    NORMS,
    check_architecture,
    check_convnet,
    check_dtype,
    check_norm,
)

__all__ = [
    "ACTIVATIONS",
    "NORMS",
    "check_architecture",
    "check_convnet",
    "check_dtype",
    "check_norm",
    "mlp",
    "convnet",
    "norm_layer",
    "weight_layers",
]

#: An initializer: ``None`` keeps the framework's default, a float ``s`` draws weights from
#: N(0, s^2) (biases zero), a callable is applied in place to each weight tensor.
Init = None | float | Callable[[torch.Tensor], object]


def _activation(name: str) -> nn.Module:
    return {"linear": nn.Identity, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}[name]()


def _initialize(layer: nn.Linear, init: Init) -> None:
    if init is None:
        return  # PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases
    with torch.no_grad():
        if callable(init):
            init(layer.weight)
        elif isinstance(init, (int, float)) and not isinstance(init, bool):
            if init < 0:
                raise ValueError(f"init as a standard deviation must be >= 0, got {init}")
            layer.weight.normal_(0.0, float(init))
        else:
            raise TypeError(
                f"init must be None, a float (std of a normal) or a callable, got {type(init).__name__}"
            )
        if layer.bias is not None:
            layer.bias.zero_()


def mlp(
    in_features: int,
    width: int,
    depth: int,
    out_features: int,
    activation: str = "tanh",
    init: Init = None,
    bias: bool = True,
    dtype: str = "float32",
    norm: str | None = None,
    norm_position: str = "before",
    **norm_kwargs,
) -> nn.Sequential:
    """A plain fully connected network with ``depth`` hidden layers of ``width`` units.

    Args:
        in_features: size of the input vector.
        width: units per hidden layer.
        depth: number of hidden layers (``fc``+``act`` pairs); the output layer ``out`` comes on top.
        out_features: size of the output (logits).
        activation: one of :data:`ACTIVATIONS`.
        init: ``None`` (PyTorch's default), a float ``s`` for weights ~ N(0, s^2) and zero
            biases, or a callable applied in place to every weight (biases zeroed).
        bias: whether the linear layers have biases.
        dtype: ``"float32"`` or ``"float64"`` (float64 keeps exploding or vanishing signals
            visible far beyond float32's range of about 1e-38 to 3e38).
        norm: ``None`` (no normalization: layers ``fc1, act1, ..., out`` exactly as before) or one
            of :data:`NORMS`: a normalization layer ``norm{l}`` from :mod:`godeep.norms` in every
            hidden layer, ``fc, norm, act`` (``norm_position="before"`` the activation, as Ioffe &
            Szegedy) or ``fc, act, norm`` (``"after"``); ``norm_kwargs`` go to :func:`norm_layer`.
    """
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    check_architecture(in_features, width, depth, out_features, activation)
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
    check_norm(norm, norm_position, norm_kwargs)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    fan_in = in_features
    for l in range(1, depth + 1):
        layers[f"fc{l}"] = nn.Linear(fan_in, width, bias=bias)
        if norm is not None and norm_position == "before":
            layers[f"norm{l}"] = norm_layer(norm, width, **norm_kwargs)
        layers[f"act{l}"] = _activation(activation)
        if norm is not None and norm_position == "after":
            layers[f"norm{l}"] = norm_layer(norm, width, **norm_kwargs)
        fan_in = width
    layers["out"] = nn.Linear(fan_in, out_features, bias=bias)
    model = nn.Sequential(layers).to(getattr(torch, dtype))
    for module in model:
        if isinstance(module, nn.Linear):
            _initialize(module, init)
    return model


def weight_layers(model: nn.Module) -> OrderedDict[str, nn.Module]:
    """The named layers of ``model`` that own a weight matrix (Linear and Conv), in order."""
    return OrderedDict(
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))
    )


# ------------------------------------------------------------------ normalization layers


def norm_layer(
    kind: str, features: int, groups: int = 4, virtual_batch_size: int = 8, spatial: bool = False
) -> nn.Module:
    """A :mod:`godeep.norms` layer of ``kind`` for ``features`` channels (``spatial``: NCHW maps, else (N, C) vectors).

    ``"layer"`` normalizes over (C, H, W) for maps and over the features for vectors;
    ``"group"`` uses ``groups`` groups; ``"ghost"`` is BatchNorm over sub-batches of
    ``virtual_batch_size``; ``"instance"`` needs spatial positions (for vectors it is the identity).
    """
    from . import norms

    check_norm(kind)
    if kind == "batch":
        return norms.BatchNorm(features)
    if kind == "ghost":
        return norms.GhostBatchNorm(features, virtual_batch_size)
    if kind == "layer":
        return norms.GroupNorm(1, features) if spatial else norms.LayerNorm(features)
    if kind == "group":
        return norms.GroupNorm(groups, features)
    return norms.InstanceNorm(features, affine=True) if spatial else nn.Identity()


class ChannelsLastFlatten(nn.Module):
    """Flatten NCHW maps in (H, W, C) order, as Keras' ``Flatten`` does on NHWC, so weights transfer as is."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1).flatten(1)


def convnet(
    in_channels: int = 1,
    image_size: int = 8,
    classes: int = 10,
    channels: tuple = (32, 64),
    hidden: int = 128,
    norm: str | None = None,
    norm_position: str = "after",
    dtype: str = "float32",
    dense_norm: bool = True,
    **norm_kwargs,
) -> nn.Sequential:
    """A small ConvNet for NCHW images of ``image_size`` pixels:

    ``conv1 (3x3, channels[0]) -> relu -> norm1 -> conv2 (3x3, channels[1]) -> relu -> norm2 ->
    pool (2x2 max) -> flatten -> fc (hidden) -> relu -> norm3 -> out``

    (``norm_position="after"`` the ReLU; ``"before"`` swaps each norm and ReLU).
    Convolutions are "valid" (no padding), so 8x8 digits become 6x6, 4x4, then 2x2 after pooling.
    ``norm`` is ``None`` or one of :data:`NORMS`, built by :func:`norm_layer` (``norm_kwargs``).
    ``dense_norm=False`` normalizes the two convolutional blocks only (no ``norm3``), as in
    the ResNets of Wu & He (2018), whose only dense layer is the classifier: a BatchNorm over
    ``B`` examples sees ``m = B x H x W`` values per channel after a convolution but only
    ``m = B`` after the dense layer (for ``B = 2``, every normalized output there is +-1, or 0
    where the two values are equal).
    For vectors, ``"instance"`` is the identity (no spatial positions), so with the default
    ``dense_norm=True`` an InstanceNorm model has no normalization after its dense layer.
    Layer names match :func:`godeep.keras.models.convnet`.
    """
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if not isinstance(dense_norm, bool):
        raise TypeError(f"dense_norm must be a bool, got {type(dense_norm).__name__}")
    check_norm(norm, norm_position, norm_kwargs)
    check_convnet(in_channels, image_size, classes, channels, hidden)
    pooled = (image_size - 4) // 2
    layers: OrderedDict[str, nn.Module] = OrderedDict()

    def block(l: int, layer: nn.Module, features: int, spatial: bool) -> None:
        layers[f"{'conv' if spatial else 'fc'}{l}"] = layer
        pair = [(f"act{l}", nn.ReLU())]
        if norm is not None and (spatial or dense_norm):
            item = (f"norm{l}", norm_layer(norm, features, spatial=spatial, **norm_kwargs))
            pair = [item] + pair if norm_position == "before" else pair + [item]
        layers.update(pair)

    block(1, nn.Conv2d(in_channels, channels[0], 3), channels[0], True)
    block(2, nn.Conv2d(channels[0], channels[1], 3), channels[1], True)
    layers["pool"] = nn.MaxPool2d(2)
    layers["flatten"] = ChannelsLastFlatten()
    block(3, nn.Linear(channels[1] * pooled * pooled, hidden), hidden, False)
    layers["out"] = nn.Linear(hidden, classes)
    return nn.Sequential(layers).to(getattr(torch, dtype))
