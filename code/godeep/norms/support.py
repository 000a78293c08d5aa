"""The support sets of the normalizations as einsums, and their moments computed from them.

Every variant follows one recipe. Over a *support set* S of entries of the input,

    mu = 1/|S| sum_{i in S} x_i,    sigma^2 = 1/|S| sum_{i in S} (x_i - mu)^2,

and the variants differ only in S (for an NCHW tensor): BatchNorm (N, H, W) per channel,
LayerNorm (C, H, W) per example, InstanceNorm (H, W) per example and channel, GroupNorm
(C/G channels, H, W) per example and group. :data:`SUPPORT` writes each as an einsum.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

__all__ = ["SUPPORT", "moments"]

#: The support set of each variant as an einsum that *sums* an NCHW tensor over it (GroupNorm
#: on the tensor reshaped to (N, G, C/G, H, W)). The indices left on the right-hand side are
#: the ones that get their own mean and variance.
SUPPORT = {
    "batch": "nchw->c",  # one statistic per channel, over examples and pixels
    "layer": "nchw->n",  # one per example, over channels and pixels (LN in a ConvNet)
    "layer-token": "ntc->nt",  # one per token of a (N, T, C) sequence (LN in a Transformer)
    "instance": "nchw->nc",  # one per example and channel, over pixels
    "group": "ngchw->ng",  # one per example and group of C/G channels
}


def moments(x: Tensor, kind: str, num_groups: Optional[int] = None) -> tuple[Tensor, Tensor]:
    """Mean and biased variance of ``x`` over the support set of ``kind`` (a key of :data:`SUPPORT`), by einsum.

    ``x`` is NCHW (``(N, T, C)`` for ``"layer-token"``); ``num_groups`` is needed for ``"group"``.
    Returns tensors indexed by the kept indices, e.g. shape ``(C,)`` for ``"batch"``::

        mu = einsum(spec, x) / |S|,    sigma^2 = einsum(spec, (x - mu)^2) / |S|
    """
    if kind not in SUPPORT:
        raise ValueError(f"kind must be one of {tuple(SUPPORT)}, got {kind!r}")
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    spec = SUPPORT[kind]
    dims = 3 if kind == "layer-token" else 4
    if x.dim() != dims:
        raise ValueError(f"kind {kind!r} expects a {dims}-D tensor, got shape {tuple(x.shape)}")
    if kind == "group":
        if num_groups is None or x.shape[1] % num_groups:
            raise ValueError(f"num_groups must divide the {x.shape[1]} channels, got {num_groups}")
        x = x.reshape(x.shape[0], num_groups, x.shape[1] // num_groups, *x.shape[2:])
    lhs, rhs = spec.split("->")
    count = math.prod(size for index, size in zip(lhs, x.shape) if index not in rhs)
    mean = torch.einsum(spec, x) / count
    # broadcast the mean back over the support set: rhs -> lhs
    expand = mean.reshape([size if index in rhs else 1 for index, size in zip(lhs, x.shape)])
    var = torch.einsum(spec, (x - expand) ** 2) / count
    return mean, var
