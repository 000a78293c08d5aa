"""Recording the signals of a PyTorch model: :func:`record` (forward and backward hooks)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from .stats import SignalReport, WeightStats, layer_stats


def _kind(module) -> str | None:
    from torch import nn

    for cls, kind in (
        (nn.Sigmoid, "sigmoid"),
        (nn.Tanh, "tanh"),
        (nn.ReLU, "relu"),
        (nn.Identity, "linear"),
    ):
        if isinstance(module, cls):
            return kind
    return None


def _watched(model, layers: Sequence[str] | None):
    named = dict(model.named_modules())
    if layers is None:
        chosen = [(n, m) for n, m in named.items() if n and _kind(m) is not None]
        if not chosen:
            raise ValueError("found no activation modules to watch; pass layers=[names of modules]")
        return chosen
    missing = [n for n in layers if n not in named]
    if missing:
        raise ValueError(
            f"layers not found in the model: {missing}; available: {[n for n in named if n][:20]}..."
        )
    return [(n, named[n]) for n in layers]


def record(
    model,
    x,
    y=None,
    loss_fn: Callable | None = None,
    layers: Sequence[str] | None = None,
    keep: bool = False,
) -> SignalReport:
    """One forward and backward pass through a PyTorch ``model``, recording per-layer signals.

    Args:
        model: an ``nn.Module``.
        x: an input batch (tensor or array; converted to the model's dtype).
        y: targets. If given, the loss is ``loss_fn(model(x), y)`` (default cross-entropy);
            if ``None``, the loss is ``model(x).sum()``, i.e. a gradient of one flows back
            from every output unit.
        layers: names of the modules whose outputs to watch; by default every activation
            module (Sigmoid, Tanh, ReLU, Identity).
        keep: also keep the activations themselves (for histograms) in ``report.activations``.

    The model's parameter gradients are left as they were before the call.
    """
    import torch

    watched = _watched(model, layers)
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None else torch.get_default_dtype()
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=dtype)

    outputs: dict[str, torch.Tensor] = {}
    grads: dict[str, torch.Tensor] = {}

    def make_hook(name: str):
        def hook(_module, _inputs, output):
            outputs[name] = output.detach()
            if output.requires_grad:
                output.register_hook(lambda g: grads.__setitem__(name, g.detach()))

        return hook

    saved = {
        n: (p.grad.clone() if p.grad is not None else None) for n, p in model.named_parameters()
    }
    for p in model.parameters():
        p.grad = None
    handles = [m.register_forward_hook(make_hook(n)) for n, m in watched]
    try:
        out = model(x)
        if y is None:
            loss = out.sum()
        else:
            y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y)
            loss = (loss_fn or torch.nn.functional.cross_entropy)(out, y)
        loss.backward()
    finally:
        for h in handles:
            h.remove()

    from ..models import weight_layers

    weights = [
        WeightStats(
            n,
            float(m.weight.detach().norm()),
            float(m.weight.grad.norm()) if m.weight.grad is not None else math.nan,
        )
        for n, m in weight_layers(model).items()
    ]
    for n, p in model.named_parameters():
        p.grad = saved[n]

    stats, kept = [], {}
    for name, module in watched:
        h = outputs[name].double().numpy()
        g = grads[name].double().numpy() if name in grads else None
        stats.append(layer_stats(name, _kind(module), h, g))
        if keep:
            kept[name] = outputs[name].numpy().copy()
    return SignalReport(layers=stats, weights=weights, activations=kept, loss=float(loss.detach()))
