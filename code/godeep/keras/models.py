"""Deep plain networks to study, in Keras: the twin of :mod:`godeep.models`.

Same architecture and layer names as the PyTorch builder (``fc1, act1, ..., fcL, actL, out``).
Convention difference: a Keras ``Dense`` kernel has shape ``(in, out)``, the transpose of a
PyTorch ``Linear`` weight ``(out, in)``; :func:`copy_from_torch` converts.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from .. import validate
from ..core.models import (
    ACTIVATIONS,
    NORMS,
    check_architecture,
    check_convnet,
    check_dtype,
    check_norm,
)
from . import tf  # noqa: F401  (quiet TensorFlow import)
from .convert import copy_mlp_from_torch as copy_from_torch  # noqa: F401  (re-exported)

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
    "copy_from_torch",
]

Init = None | float | keras.initializers.Initializer | Callable


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
    raise TypeError(
        f"init must be None, a float (std of a normal) or a Keras initializer, got {type(init).__name__}"
    )


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
) -> keras.Sequential:
    """A plain fully connected Keras network; see :func:`godeep.models.mlp`.

    ``init``: ``None`` keeps Keras' default (Glorot uniform kernels, zero biases), a float ``s``
    draws kernels from N(0, s^2), or any Keras initializer. Biases start at zero.
    ``norm``, ``norm_position``: as in :func:`godeep.models.mlp` (layers ``norm{l}`` from
    :mod:`godeep.keras.norms`, with PyTorch's momentum and epsilon, see :func:`norm_layer`).
    """
    check_dtype(dtype)
    check_architecture(in_features, width, depth, out_features, activation)
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
    check_norm(norm, norm_position, norm_kwargs)
    _initializer(init)  # validate once, before building anything
    layers: list = [keras.Input(shape=(in_features,), dtype=dtype)]
    for l in range(1, depth + 1):
        layers.append(
            keras.layers.Dense(
                width,
                use_bias=bias,
                kernel_initializer=_initializer(init),
                name=f"fc{l}",
                dtype=dtype,
            )
        )
        if norm is not None and norm_position == "before":
            layers.append(norm_layer(norm, name=f"norm{l}", dtype=dtype, **norm_kwargs))
        layers.append(keras.layers.Activation(activation, name=f"act{l}", dtype=dtype))
        if norm is not None and norm_position == "after":
            layers.append(norm_layer(norm, name=f"norm{l}", dtype=dtype, **norm_kwargs))
    layers.append(
        keras.layers.Dense(
            out_features,
            use_bias=bias,
            kernel_initializer=_initializer(init),
            name="out",
            dtype=dtype,
        )
    )
    return keras.Sequential(layers, name=f"mlp{depth}")


def weight_layers(model: keras.Model) -> dict:
    """The layers of ``model`` that own a kernel (Dense and Conv), in order, by name.

    Layers inside a custom layer (a residual block's convolutions) are included too, named
    ``block.layer`` (``layer1_0.conv1``), as PyTorch's ``named_modules`` lists them.
    """
    found = {}
    for layer in _flat_layers(model):
        _collect_kernels(layer, "", found)
    return found


def _collect_kernels(layer, prefix: str, found: dict) -> None:
    name = prefix + layer.name
    if hasattr(layer, "kernel"):
        found[name] = layer
    for sub in getattr(layer, "_layers", None) or []:
        if not isinstance(layer, keras.Model):
            _collect_kernels(sub, name + ".", found)


def _flat_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _flat_layers(layer)
        else:
            yield layer


# ------------------------------------------------------------------ normalization layers


def norm_layer(
    kind: str,
    spatial: bool = False,
    groups: int = 4,
    virtual_batch_size: int = 8,
    name: str | None = None,
    dtype: str = "float32",
):
    """The :mod:`godeep.keras.norms` twin of :func:`godeep.models.norm_layer`, channels last.

    Built with PyTorch's conventions (``momentum=0.9`` here = PyTorch's 0.1; ``epsilon=1e-5``),
    so the twins train alike (the stored variance stays Keras' biased one).
    ``spatial`` is accepted for symmetry: the layer finds the spatial axes from its input.
    """
    from . import norms

    check_norm(kind)
    common = dict(epsilon=1e-5, name=name, dtype=dtype)
    if kind == "batch":
        return norms.BatchNorm(momentum=0.9, **common)
    if kind == "ghost":
        return norms.GhostBatchNorm(virtual_batch_size, momentum=0.9, **common)
    if kind == "layer":
        return norms.GroupNorm(1, **common) if spatial else norms.LayerNorm(**common)
    if kind == "group":
        return norms.GroupNorm(groups, **common)
    if spatial:
        return norms.InstanceNorm(center=True, scale=True, **common)
    return keras.layers.Identity(name=name, dtype=dtype)


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
) -> keras.Sequential:
    """The Keras twin of :func:`godeep.models.convnet`, for NHWC images (same layer names).

    ``dense_norm=False``: no normalization after the dense layer (no ``norm3``), as there.
    """
    check_dtype(dtype)
    validate.boolean("dense_norm", dense_norm)
    check_norm(norm, norm_position, norm_kwargs)
    check_convnet(in_channels, image_size, classes, channels, hidden)
    layers: list = [keras.Input(shape=(image_size, image_size, in_channels), dtype=dtype)]

    def block(l: int, layer, spatial: bool) -> None:
        layers.append(layer)
        pair = [keras.layers.Activation("relu", name=f"act{l}", dtype=dtype)]
        if norm is not None and (spatial or dense_norm):
            item = norm_layer(norm, spatial=spatial, name=f"norm{l}", dtype=dtype, **norm_kwargs)
            pair = [item] + pair if norm_position == "before" else pair + [item]
        layers.extend(pair)

    block(1, keras.layers.Conv2D(channels[0], 3, name="conv1", dtype=dtype), True)
    block(2, keras.layers.Conv2D(channels[1], 3, name="conv2", dtype=dtype), True)
    layers.append(keras.layers.MaxPooling2D(2, name="pool", dtype=dtype))
    layers.append(keras.layers.Flatten(name="flatten", dtype=dtype))
    block(3, keras.layers.Dense(hidden, name="fc3", dtype=dtype), False)
    layers.append(keras.layers.Dense(classes, name="out", dtype=dtype))
    return keras.Sequential(layers, name=f"convnet_{norm or 'plain'}")
