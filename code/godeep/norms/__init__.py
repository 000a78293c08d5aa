"""Normalization modules from their definition (PyTorch): BatchNorm, LayerNorm, InstanceNorm, GroupNorm.

Every variant follows one recipe. Over a *support set* S of entries of the input,

    mu = 1/|S| sum_{i in S} x_i,    sigma^2 = 1/|S| sum_{i in S} (x_i - mu)^2,
    x_hat = (x - mu) / sqrt(sigma^2 + eps),    y = gamma * x_hat + beta,

and the variants differ only in S (for an NCHW tensor): BatchNorm (N, H, W) per channel,
LayerNorm (C, H, W) per example, InstanceNorm (H, W) per example and channel, GroupNorm
(C/G channels, H, W) per example and group. :data:`SUPPORT` writes each as an einsum.

The functions :func:`batch_norm`, :func:`layer_norm`, :func:`group_norm` and
:func:`instance_norm` have exactly the signatures and semantics of their
``torch.nn.functional`` namesakes (so one can be swapped for the other) but are written with
means and variances only: they never call PyTorch's normalization kernels. The modules
:class:`BatchNorm`, :class:`LayerNorm`, :class:`GroupNorm`, :class:`InstanceNorm` wrap them
with the parameters and buffers of ``torch.nn``'s layers (same names, so ``state_dict`` s can be
exchanged), and :class:`GhostBatchNorm` normalizes over sub-batches ("ghost batches").

One idea per module: :mod:`~godeep.norms.support` (the support sets and their moments),
:mod:`~godeep.norms.batch` (batch and ghost batch normalization),
:mod:`~godeep.norms.per_example` (layer, group and instance normalization),
:mod:`~godeep.norms.modules` (the layers) and :mod:`~godeep.norms.common` (what the functions share).
"""

from __future__ import annotations

from .batch import batch_norm, ghost_batch_norm
from .modules import BatchNorm, GhostBatchNorm, GroupNorm, InstanceNorm, LayerNorm
from .per_example import group_norm, instance_norm, layer_norm
from .support import SUPPORT, moments

__all__ = [
    "SUPPORT",
    "moments",
    "batch_norm",
    "layer_norm",
    "group_norm",
    "instance_norm",
    "ghost_batch_norm",
    "BatchNorm",
    "LayerNorm",
    "GroupNorm",
    "InstanceNorm",
    "GhostBatchNorm",
]
