"""Layer-sequential unit-variance (LSUV) initialization (Mishkin & Matas 2016), PyTorch.

A data-dependent initialization in two steps:

1. every linear and convolutional weight is made (semi-)orthogonal (:func:`godeep.isometry.orthogonal_`,
   Saxe et al. 2014);
2. layer by layer, from the input up, the layer's output ``B_l`` on a batch is measured and its
   weight divided by the output's standard deviation until the variance is 1 to within ``tol``:

       while |Var(B_l) - 1| >= tol and t < max_iters:   W_l <- W_l / sqrt(Var(B_l)),

   ``Var`` over every entry of the output (examples, units, pixels). Biases are left as they
   are (so a layer with a bias may need more than one pass). Scaling a layer changes only the
   layers above it, which come later, so when every layer has converged each one's output has
   unit variance on the batch.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import TYPE_CHECKING

from . import validate
from .isometry import orthogonal_

if TYPE_CHECKING:  # PyTorch is imported inside the functions (godeep.init may re-export lsuv_)
    from torch import Tensor, nn


def _weight_layers(model):
    from .models import weight_layers

    return weight_layers(model)


__all__ = ["lsuv_", "output_variances"]


def _check(model, batch) -> None:
    from torch import Tensor, nn

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(batch, Tensor) or not batch.is_floating_point():
        raise TypeError(f"batch must be a floating-point torch.Tensor, got {type(batch).__name__}")
    if batch.dim() < 2 or batch.shape[0] < 2:
        raise ValueError(
            f"batch must hold at least 2 examples (N, ...), got shape {tuple(batch.shape)}"
        )
    if not _weight_layers(model):
        raise ValueError(f"model ({type(model).__name__}) has no linear or convolutional layer")


def output_variances(model: nn.Module, batch: Tensor) -> OrderedDict[str, float]:
    """``Var(B_l)`` (over every entry) of the output of each linear/conv layer on ``batch``, in eval mode."""
    import torch

    _check(model, batch)
    layers = _weight_layers(model)
    out: OrderedDict[str, float] = OrderedDict()
    hooks = [
        m.register_forward_hook(
            lambda m_, i_, o, name=name: out.__setitem__(name, float(o.var(unbiased=False)))
        )
        for name, m in layers.items()
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(batch)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return out


def lsuv_(
    model: nn.Module, batch: Tensor, tol: float = 0.1, max_iters: int = 10, orthogonal: bool = True
) -> OrderedDict[str, float]:
    """LSUV-initialize ``model`` in place on ``batch``; return each layer's total scale factor.

    ``orthogonal=False`` skips step 1 (keeps the current weights: only the rescaling), which is
    how a run is compared across frameworks on copied weights. A layer still off by ``tol`` after
    ``max_iters`` rescalings gets a warning; a layer whose output is constant on the batch (zero
    variance) cannot be rescaled (``ValueError``).
    """
    _check(model, batch)
    tol = validate.number("tol", tol, low=0.0, low_open=True)
    max_iters = validate.positive_int("max_iters", max_iters)
    orthogonal = validate.boolean("orthogonal", orthogonal)
    import torch

    layers = _weight_layers(model)
    if orthogonal:
        for m in layers.values():
            orthogonal_(m.weight)
    scales: OrderedDict[str, float] = OrderedDict()
    for name, layer in layers.items():
        scale, iters = 1.0, 0
        var = output_variances(model, batch)[name]
        while abs(var - 1.0) >= tol and iters < max_iters:
            if not var > 0.0:
                raise ValueError(
                    f"layer {name}: its output has variance {var} on the batch and cannot be rescaled"
                )
            factor = var**-0.5
            with torch.no_grad():
                layer.weight.mul_(factor)
            scale *= factor
            iters += 1
            var = output_variances(model, batch)[name]
        if abs(var - 1.0) >= tol:
            warnings.warn(
                f"LSUV: layer {name} has output variance {var:.4g} after {max_iters} rescalings "
                f"(tolerance {tol})",
                stacklevel=2,
            )
        scales[name] = scale
    return scales
