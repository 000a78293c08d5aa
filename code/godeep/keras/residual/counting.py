"""Listing, counting and dropping the blocks of a Keras ResNet; see :mod:`godeep.residual.counting`."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from ... import validate
from .blocks import _Block


def blocks(model: keras.Model) -> list:
    """The residual (or plain) blocks of ``model``, in order."""
    return [layer for layer in model.layers if isinstance(layer, _Block)]


def stages(model: keras.Model) -> list[list]:
    """The blocks grouped by stage (their names are ``layer{stage}_{index}``)."""
    grouped: dict[str, list] = {}
    for block in blocks(model):
        grouped.setdefault(block.name.split("_")[0], []).append(block)
    return list(grouped.values())


def count_parameters(model: keras.Model, trainable_only: bool = True) -> int:
    """Trainable parameters (PyTorch's meaning); ``trainable_only=False`` adds BN's moving
    statistics, which is what ``model.count_params()`` reports."""
    weights = model.trainable_weights if trainable_only else model.weights
    return int(sum(np.prod(w.shape) for w in weights))


def drop_block(model: keras.Sequential, index: int) -> keras.Sequential:
    """A Sequential model without block ``index`` (the identity in its place), sharing the other
    layers' weights with ``model``; only a shape-preserving block can be dropped."""
    all_blocks = blocks(model)
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"index must be an int, got {type(index).__name__}")
    if not -len(all_blocks) <= index < len(all_blocks):
        raise IndexError(f"index must be in [0, {len(all_blocks)}), got {index}")
    target = all_blocks[index]
    if (
        target.downsample is not None
        or target.stride != 1
        or target.inplanes != target.planes * target.expansion
    ):
        raise ValueError(
            f"block {index} changes the shape of its input; dropping it would break the network"
        )
    layers = [keras.Input(shape=model.inputs[0].shape[1:])] + [
        layer for layer in model.layers if layer is not target
    ]
    return keras.Sequential(layers, name=f"{model.name}_without_{target.name}")


def residual_blocks(model: keras.Model) -> list:
    """The residual (or plain) blocks of ``model``, in order (the same as :func:`blocks`)."""
    return blocks(model)


def zero_init_residual_(model: keras.Model) -> keras.Model:
    """Set the last BN's gamma of every block's residual branch to 0 (Goyal et al., 2017), so
    that every block starts as (the ReLU of) its shortcut; see :func:`godeep.residual.zero_init_residual_`."""
    for block in blocks(model):
        block.last_bn.gamma.assign(np.zeros(block.last_bn.gamma.shape, "float32"))
    return model


def count_macs(model: keras.Model, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass on one input of ``input_shape``, which is
    ``(H, W, C)`` here (channels last; PyTorch's is ``(C, H, W)``).

    Counts convolutions (``k_h k_w C_in/groups`` per output element) and dense layers
    (``in * out``), as :func:`godeep.residual.count_macs` does."""
    input_shape = validate.positive_ints("input_shape", input_shape, length=3)
    total = 0
    patched = []

    def _wrap(layer, macs_per_output):
        original = layer.call

        def call(*args, **kwargs):
            nonlocal total
            out = original(*args, **kwargs)
            total += int(np.prod(out.shape[1:])) * macs_per_output
            return out

        layer.call = call
        patched.append((layer, original))

    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            _wrap(layer, kh * kw * int(layer.kernel.shape[2]))
        elif isinstance(layer, keras.layers.Dense):
            _wrap(layer, int(layer.kernel.shape[0]))
    try:
        model(np.zeros((1, *input_shape), "float32"), training=False)
    finally:
        for layer, original in patched:
            layer.call = original
    return total
