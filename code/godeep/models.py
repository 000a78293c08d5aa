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
from typing import Callable, Union

import torch
from torch import nn

__all__ = ["ACTIVATIONS", "check_architecture", "mlp", "weight_layers"]

#: Activation names understood by both frameworks' builders.
ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu")

#: An initializer: ``None`` keeps the framework's default, a float ``s`` draws weights from
#: N(0, s^2) (biases zero), a callable is applied in place to each weight tensor.
Init = Union[None, float, Callable[[torch.Tensor], object]]


def check_architecture(in_features: int, width: int, depth: int, out_features: int, activation: str) -> None:
    """Validate the arguments shared by the MLP builders of both frameworks."""
    for name, value, low in (("in_features", in_features, 1), ("width", width, 1), ("depth", depth, 0), ("out_features", out_features, 1)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")


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
            raise TypeError(f"init must be None, a float (std of a normal) or a callable, got {type(init).__name__}")
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
    """
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    check_architecture(in_features, width, depth, out_features, activation)
    layers: "OrderedDict[str, nn.Module]" = OrderedDict()
    fan_in = in_features
    for l in range(1, depth + 1):
        layers[f"fc{l}"] = nn.Linear(fan_in, width, bias=bias)
        layers[f"act{l}"] = _activation(activation)
        fan_in = width
    layers["out"] = nn.Linear(fan_in, out_features, bias=bias)
    model = nn.Sequential(layers).to(getattr(torch, dtype))
    for module in model:
        if isinstance(module, nn.Linear):
            _initialize(module, init)
    return model


def weight_layers(model: nn.Module) -> "OrderedDict[str, nn.Module]":
    """The named layers of ``model`` that own a weight matrix (Linear and Conv), in order."""
    return OrderedDict(
        (name, m) for name, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))
    )
