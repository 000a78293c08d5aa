"""BatchNorm in deployment (PyTorch): folding it into the layer before it, and recalibrating
its population statistics (Ioffe & Szegedy 2015).

**Folding.** In inference mode a BatchNorm after a linear or convolutional layer ``z = W x + b``
is an affine map per output channel ``o``,

    y_o = gamma_o (z_o - mu_o) / sqrt(sigma_o^2 + eps) + beta_o = s_o z_o + (beta_o - s_o mu_o),
    s_o = gamma_o / sqrt(sigma_o^2 + eps),

so the pair is one layer with ``W'_o = s_o W_o`` and ``b'_o = s_o (b_o - mu_o) + beta_o``
(:func:`fold_batch_norm`): one pass over the weights instead of a normalization per inference.

**Recalibration.** The running statistics describe the weights they were collected with; after
the weights change without them (weights averaged, as SWA, or pruned, or copied), they must be
collected again: :func:`recalibrate_batch_norm` resets them and runs the data through the
model in training mode with ``momentum=None``, PyTorch's cumulative average, so that after
``K`` batches ``running_mean = 1/K sum_k mean_k`` (the exact mean of the features for
batches of equal size) and ``running_var = 1/K sum_k var_k`` (each batch's unbiased variance),
as ``torch.optim.swa_utils.update_bn``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from torch import Tensor, nn

__all__ = ["fold_batch_norm", "recalibrate_batch_norm", "batch_norm_layers"]


def _bn_classes() -> tuple[type, ...]:
    """torch.nn's BatchNorms and godeep's (imported here: godeep.norms may re-export this module)."""
    from .norms import BatchNorm

    return (nn.modules.batchnorm._BatchNorm, BatchNorm)


def batch_norm_layers(model: nn.Module) -> list[nn.Module]:
    """Every BatchNorm of ``model`` (``torch.nn``'s and :class:`godeep.norms.BatchNorm`), in order."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return [m for m in model.modules() if isinstance(m, _bn_classes())]


def fold_batch_norm(conv_or_linear: nn.Conv2d | nn.Linear, bn: nn.Module) -> nn.Conv2d | nn.Linear:
    """A new ``Conv2d`` / ``Linear`` (with a bias) computing ``bn(conv_or_linear(x))`` in eval mode.

    ``W'_o = s_o W_o``, ``b'_o = s_o (b_o - mu_o) + beta_o``, ``s_o = gamma_o / sqrt(sigma_o^2 + eps)``
    (``gamma = 1``, ``beta = 0`` for a BN without affine parameters). The inputs are not changed.
    """
    if not isinstance(conv_or_linear, (nn.Conv2d, nn.Linear)):
        raise TypeError(
            f"conv_or_linear must be an nn.Conv2d or nn.Linear, got {type(conv_or_linear).__name__}"
        )
    if not isinstance(bn, _bn_classes()):
        raise TypeError(
            f"bn must be a BatchNorm (torch.nn or godeep.norms), got {type(bn).__name__}"
        )
    if bn.running_mean is None:
        raise ValueError(
            "bn has no running statistics (track_running_stats=False): it normalizes with batch "
            "statistics even in eval mode, which no fixed layer can compute"
        )
    out = (
        conv_or_linear.out_channels
        if isinstance(conv_or_linear, nn.Conv2d)
        else conv_or_linear.out_features
    )
    if bn.num_features != out:
        raise ValueError(f"bn has {bn.num_features} features but the layer has {out} outputs")
    with torch.no_grad():
        w = conv_or_linear.weight
        dtype = w.dtype
        gamma = bn.weight if bn.weight is not None else torch.ones(out, dtype=dtype)
        beta = bn.bias if bn.bias is not None else torch.zeros(out, dtype=dtype)
        bias = (
            conv_or_linear.bias
            if conv_or_linear.bias is not None
            else torch.zeros(out, dtype=dtype)
        )
        scale = gamma / torch.sqrt(bn.running_var + bn.eps)
        folded = copy.deepcopy(conv_or_linear)
        if folded.bias is None:
            folded.bias = nn.Parameter(torch.empty(out, dtype=dtype, device=w.device))
        folded.weight.copy_(w * scale.reshape(-1, *([1] * (w.dim() - 1))))
        folded.bias.copy_((bias - bn.running_mean) * scale + beta)
    return folded


def _reset(bn: nn.Module) -> None:
    """Running mean 0, variance 1, no batch counted (``reset_running_stats`` of ``torch.nn``)."""
    with torch.no_grad():
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0)
        if bn.num_batches_tracked is not None:
            bn.num_batches_tracked.zero_()


def recalibrate_batch_norm(model: nn.Module, batches: Iterable) -> nn.Module:
    """Recompute the population statistics of every BatchNorm of ``model`` from ``batches``.

    Resets each running mean and variance, runs every batch (a tensor, or a tuple/list whose first
    item is the input) through ``model`` in training mode without gradients, with ``momentum=None``
    (a cumulative average), then restores each momentum and the model's mode. Returns ``model``.
    An empty ``batches`` raises ``ValueError`` (after the reset).
    """
    layers = batch_norm_layers(model)
    if not layers:
        return model
    for bn in layers:
        if bn.running_mean is None:
            raise ValueError(
                f"{type(bn).__name__} has no running statistics to recalibrate (track_running_stats=False)"
            )
    momenta = [bn.momentum for bn in layers]
    was_training = model.training
    seen = 0
    try:
        for bn in layers:
            _reset(bn)
            bn.momentum = None
        model.train()
        with torch.no_grad():
            for batch in batches:
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                if not isinstance(x, Tensor):
                    raise TypeError(
                        f"each batch must be a tensor (or a tuple whose first item is one), got {type(x).__name__}"
                    )
                model(x)
                seen += 1
    finally:
        for bn, momentum in zip(layers, momenta):
            bn.momentum = momentum
        model.train(was_training)
    if seen == 0:
        raise ValueError("batches is empty: no statistics to recompute")
    return model
