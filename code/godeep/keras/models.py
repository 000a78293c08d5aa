"""Deep plain networks to study, in Keras: the twin of :mod:`godeep.models`.

Same architecture and layer names as the PyTorch builder (``fc1, act1, ..., fcL, actL, out``).
Convention difference: a Keras ``Dense`` kernel has shape ``(in, out)``, the transpose of a
PyTorch ``Linear`` weight ``(out, in)``; :func:`copy_from_torch` converts.
"""

from __future__ import annotations

from typing import Callable, Union

import numpy as np

from . import tf  # noqa: F401  (quiet TensorFlow import)
import keras

from ..models import ACTIVATIONS, check_architecture

__all__ = ["ACTIVATIONS", "mlp", "weight_layers", "copy_from_torch"]

Init = Union[None, float, keras.initializers.Initializer, Callable]


def _initializer(init: Init):
    """A fresh initializer for one layer.

    Keras 3 pitfall: an *unseeded* initializer instance draws its seed once, so reusing one
    instance for several layers gives every layer the same weights. We therefore build a new
    instance per layer (from the given one's config, seed included: pass seed=None to vary).
    """
    if init is None:
        return keras.initializers.GlorotUniform()  # Keras' default for Dense kernels
    if isinstance(init, (int, float)) and not isinstance(init, bool):
        if init < 0:
            raise ValueError(f"init as a standard deviation must be >= 0, got {init}")
        return keras.initializers.RandomNormal(mean=0.0, stddev=float(init))
    if isinstance(init, keras.initializers.Initializer):
        return init.__class__.from_config(init.get_config())
    if callable(init):
        return init
    raise TypeError(f"init must be None, a float (std of a normal) or a Keras initializer, got {type(init).__name__}")


def mlp(
    in_features: int,
    width: int,
    depth: int,
    out_features: int,
    activation: str = "tanh",
    init: Init = None,
    bias: bool = True,
    dtype: str = "float32",
) -> keras.Sequential:
    """A plain fully connected Keras network; see :func:`godeep.models.mlp`.

    ``init``: ``None`` keeps Keras' default (Glorot uniform kernels, zero biases), a float ``s``
    draws kernels from N(0, s^2), or any Keras initializer. Biases start at zero.
    """
    check_architecture(in_features, width, depth, out_features, activation)
    _initializer(init)  # validate once, before building anything
    layers: list = [keras.Input(shape=(in_features,), dtype=dtype)]
    for l in range(1, depth + 1):
        layers.append(keras.layers.Dense(width, use_bias=bias, kernel_initializer=_initializer(init), name=f"fc{l}", dtype=dtype))
        layers.append(keras.layers.Activation(activation, name=f"act{l}", dtype=dtype))
    layers.append(keras.layers.Dense(out_features, use_bias=bias, kernel_initializer=_initializer(init), name="out", dtype=dtype))
    return keras.Sequential(layers, name=f"mlp{depth}")


def weight_layers(model: keras.Model) -> dict:
    """The layers of ``model`` that own a kernel (Dense and Conv), in order, by name."""
    return {layer.name: layer for layer in _flat_layers(model) if hasattr(layer, "kernel")}


def _flat_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _flat_layers(layer)
        else:
            yield layer


def copy_from_torch(keras_model: keras.Model, torch_model) -> keras.Model:
    """Copy the weights of a PyTorch model into a Keras model with the same layer names.

    ``Linear.weight`` ``(out, in)`` becomes ``Dense.kernel`` ``(in, out)``; biases copy as is.
    """
    from torch import nn

    targets = weight_layers(keras_model)
    sources = {n: m for n, m in torch_model.named_modules() if isinstance(m, nn.Linear)}
    if set(targets) != set(sources):
        raise ValueError(f"layer names differ: keras {sorted(targets)} vs torch {sorted(sources)}")
    for name, layer in targets.items():
        src = sources[name]
        values = [src.weight.detach().double().numpy().T]
        if src.bias is not None:
            values.append(src.bias.detach().double().numpy())
        if len(values) != len(layer.get_weights()):
            raise ValueError(f"layer {name}: bias present in one framework only")
        layer.set_weights([np.asarray(v, dtype=w.dtype) for v, w in zip(values, layer.get_weights())])
    return keras_model
