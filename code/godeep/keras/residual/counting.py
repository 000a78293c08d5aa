"""Listing, counting and dropping the blocks of a Keras ResNet; see :mod:`godeep.residual.counting`."""

from __future__ import annotations

import numpy as np

import keras

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
    if target.downsample is not None or target.stride != 1 or target.inplanes != target.planes * target.expansion:
        raise ValueError(f"block {index} changes the shape of its input; dropping it would break the network")
    layers = [keras.Input(shape=model.inputs[0].shape[1:])] + [layer for layer in model.layers if layer is not target]
    return keras.Sequential(layers, name=f"{model.name}_without_{target.name}")
