"""Layer-sequential unit-variance (LSUV) initialization (Mishkin & Matas 2016) in Keras: the twin
of :mod:`godeep.lsuv`.

1. every ``Dense`` and ``Conv`` kernel is made (semi-)orthogonal (:func:`godeep.keras.isometry.orthogonal_`);
2. layer by layer, from the input up, its output ``B_l`` on the batch is measured (inference mode)
   and its kernel divided by the output's standard deviation until ``|Var(B_l) - 1| < tol``:

       W_l <- W_l / sqrt(Var(B_l)),    Var over every entry of the output.

Biases are left as they are. The orthogonal draws come from Keras' generator (so they differ from
PyTorch's); with ``orthogonal=False`` and copied weights the two frameworks rescale alike.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict

import keras
import numpy as np

from .. import validate
from . import tf
from .isometry import orthogonal_
from .models import weight_layers

__all__ = ["lsuv_", "output_variances"]


def _check(model, batch):
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    if not (tf.is_tensor(batch) or isinstance(batch, np.ndarray)):
        raise TypeError(f"batch must be a tensor or an array, got {type(batch).__name__}")
    batch = tf.convert_to_tensor(batch)
    if not batch.dtype.is_floating:
        raise TypeError(f"batch must be floating-point, got dtype {batch.dtype.name}")
    if batch.shape.rank < 2 or batch.shape[0] < 2:
        raise ValueError(
            f"batch must hold at least 2 examples (N, ...), got shape {tuple(batch.shape)}"
        )
    if not weight_layers(model):
        raise ValueError(f"model {model.name!r} has no Dense or Conv layer")
    return batch


def output_variances(model, batch) -> OrderedDict[str, float]:
    """``Var(B_l)`` (over every entry) of the output of each Dense/Conv layer on ``batch``, in inference mode."""
    batch = _check(model, batch)
    layers = weight_layers(model)
    out: OrderedDict[str, float] = OrderedDict()

    def recording(name, call):
        def wrapped(*args, **kwargs):
            y = call(*args, **kwargs)
            out[name] = float(np.var(np.asarray(y, dtype=np.float64)))
            return y

        return wrapped

    try:
        for name, layer in layers.items():
            layer.call = recording(name, layer.call)
        model(batch, training=False)
    finally:
        for layer in layers.values():
            vars(layer).pop("call", None)
    return OrderedDict((name, out[name]) for name in layers if name in out)


def lsuv_(
    model, batch, tol: float = 0.1, max_iters: int = 10, orthogonal: bool = True
) -> OrderedDict[str, float]:
    """LSUV-initialize ``model`` in place on ``batch``; return each layer's total scale factor.

    As :func:`godeep.lsuv.lsuv_`: ``orthogonal=False`` keeps the current kernels; a layer that
    has not converged after ``max_iters`` gets a warning; a zero-variance output a ``ValueError``.
    """
    batch = _check(model, batch)
    tol = validate.number("tol", tol, low=0.0, low_open=True)
    max_iters = validate.positive_int("max_iters", max_iters)
    orthogonal = validate.boolean("orthogonal", orthogonal)
    layers = weight_layers(model)
    if orthogonal:
        for layer in layers.values():
            orthogonal_(layer.kernel)
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
            layer.kernel.assign(layer.kernel * tf.cast(factor, layer.kernel.dtype))
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
