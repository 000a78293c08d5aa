"""Counting (parameters, multiply-accumulates) and surgery (dropping a block) on residual networks."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from .. import validate
from .blocks import _check_module, residual_blocks

# --------------------------------------------------------------------------------------------
# Counting and surgery
# --------------------------------------------------------------------------------------------


def blocks(model: nn.Module) -> list[nn.Module]:
    """The residual (or plain) blocks of ``model``, in order (the same as :func:`residual_blocks`)."""
    return residual_blocks(model)


def stages(model: nn.Module) -> list[list[nn.Module]]:
    """The blocks grouped by stage: those of ``model.layer1``, ``model.layer2``, ... (a model
    without ``layer{i}`` stages is one stage)."""
    _check_module(model)
    found = [
        getattr(model, f"layer{i}")
        for i in range(1, 10)
        if isinstance(getattr(model, f"layer{i}", None), nn.Module)
    ]
    if not found:
        return [residual_blocks(model)]
    return [residual_blocks(stage) for stage in found]


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """The number of (trainable) parameters; BN running statistics are buffers, not counted."""
    _check_module(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass on one input of ``input_shape`` (C, H, W).

    Counts convolutions (``k_h k_w C_in/groups`` per output element) and fully connected layers
    (``in * out``), the layers the paper's "FLOPs" (multiply-adds, Table 1) count.
    """
    _check_module(model)
    input_shape = validate.positive_ints("input_shape", input_shape, length=3)
    total = 0

    def conv_hook(module: nn.Conv2d, inputs, output):
        nonlocal total
        kh, kw = module.kernel_size
        total += output.numel() * kh * kw * module.in_channels // module.groups

    def linear_hook(module: nn.Linear, inputs, output):
        nonlocal total
        total += output.numel() * module.in_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total


def drop_block(model: nn.Module, index: int) -> nn.Module:
    """A deep copy of ``model`` whose block number ``index`` (in :func:`residual_blocks` order)
    is replaced by the identity: the lesion of Veit et al. (2016). Only a block whose input and
    output shapes agree can be dropped."""
    blocks = residual_blocks(model)
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"index must be an int, got {type(index).__name__}")
    if not -len(blocks) <= index < len(blocks):
        raise IndexError(f"index must be in [0, {len(blocks)}), got {index}")
    target = blocks[index]
    if (
        target.downsample is not None
        or target.stride != 1
        or target.conv1.in_channels != target.last_bn.num_features
    ):
        raise ValueError(
            f"block {index} changes the shape of its input; dropping it would break the network"
        )
    lesioned = copy.deepcopy(model)
    target_copy = residual_blocks(lesioned)[index]
    for parent in lesioned.modules():
        for name, child in parent.named_children():
            if child is target_copy:
                setattr(parent, name, nn.Identity())
                return lesioned
    raise RuntimeError("block not found")  # pragma: no cover
