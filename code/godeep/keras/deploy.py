"""BatchNorm in deployment in TensorFlow/Keras: the twin of :mod:`godeep.deploy` (Ioffe & Szegedy 2015).

**Folding.** In inference mode a BatchNorm after ``z = x W + b`` (a ``Dense`` or ``Conv2D``
without activation) is, per output channel ``o`` (Keras' last axis),

    y_o = s_o z_o + (beta_o - s_o mu_o),    s_o = gamma_o / sqrt(sigma_o^2 + eps),

one layer with kernel ``W'[..., o] = s_o W[..., o]`` and bias ``b'_o = s_o (b_o - mu_o) + beta_o``.

**Recalibration.** :func:`recalibrate_batch_norm` runs the batches through the model in
training mode (as PyTorch's twin: each BatchNorm normalizes with its batch's statistics) and
sets each BatchNorm's ``moving_mean`` and ``moving_variance`` to the *exact* mean and biased
variance (Keras' stored convention) of all the features it saw, combined across batches with
Chan et al.'s pairwise update in float64. PyTorch's twin instead averages the per-batch means
and unbiased variances (``momentum=None``): the means agree for batches of equal size, and the
variances agree (up to the factor ``N / (N - 1)``) when everything is one batch.
"""

from __future__ import annotations

from collections.abc import Iterable

import keras
import numpy as np

from . import tf

__all__ = ["fold_batch_norm", "recalibrate_batch_norm", "batch_norm_layers"]


def _bn_classes() -> tuple[type, ...]:
    """Keras' BatchNormalization and godeep's (imported here: godeep.keras.norms may re-export this module)."""
    from .norms import BatchNorm

    return (keras.layers.BatchNormalization, BatchNorm)


def batch_norm_layers(model) -> list:
    """Every BatchNorm of ``model`` (``keras.layers.BatchNormalization`` and
    :class:`godeep.keras.norms.BatchNorm`), in order."""
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"model must be a keras.Model or layer, got {type(model).__name__}")
    return [
        layer
        for layer in model._flatten_layers(include_self=True, recursive=True)
        if isinstance(layer, _bn_classes())
    ]


def _bn_values(bn) -> tuple[np.ndarray, ...]:
    """gamma, beta, mean, variance (float64) and epsilon of a built BatchNorm on the last axis."""
    if not bn.built:
        raise ValueError(f"bn {bn.name!r} is not built: call it on an input first")
    if isinstance(bn, keras.layers.BatchNormalization):
        ndim = getattr(bn.input_spec, "ndim", None)
        if bn.axis != -1 and not (ndim is not None and bn.axis == ndim - 1):
            raise ValueError(
                f"bn {bn.name!r} normalizes axis {bn.axis}, not the last (channels) axis"
            )
    mean = np.asarray(bn.moving_mean, dtype=np.float64)
    var = np.asarray(bn.moving_variance, dtype=np.float64)
    gamma = np.asarray(bn.gamma, dtype=np.float64) if bn.gamma is not None else np.ones_like(mean)
    beta = np.asarray(bn.beta, dtype=np.float64) if bn.beta is not None else np.zeros_like(mean)
    return gamma, beta, mean, var, float(bn.epsilon)


def fold_batch_norm(conv_or_linear, bn):
    """A new ``Conv2D`` / ``Dense`` (with a bias) computing ``bn(layer(x), training=False)``.

    ``W'[..., o] = s_o W[..., o]``, ``b'_o = s_o (b_o - mu_o) + beta_o``,
    ``s_o = gamma_o / sqrt(sigma_o^2 + eps)``. The layer must have no activation (the BN must
    follow the affine map directly) and the BN must normalize the last axis.
    """
    if not isinstance(conv_or_linear, (keras.layers.Conv2D, keras.layers.Dense)):
        raise TypeError(
            f"conv_or_linear must be a keras.layers.Conv2D or Dense, got {type(conv_or_linear).__name__}"
        )
    if not isinstance(bn, _bn_classes()):
        raise TypeError(
            f"bn must be a BatchNorm (keras.layers or godeep.keras.norms), got {type(bn).__name__}"
        )
    if not conv_or_linear.built:
        raise ValueError(f"layer {conv_or_linear.name!r} is not built: call it on an input first")
    if getattr(conv_or_linear.activation, "__name__", "linear") != "linear":
        raise ValueError(
            f"layer {conv_or_linear.name!r} has the activation {conv_or_linear.activation.__name__!r}: "
            "a BatchNorm after it cannot be folded into it"
        )
    gamma, beta, mean, var, eps = _bn_values(bn)
    kernel = np.asarray(conv_or_linear.kernel, dtype=np.float64)
    out = kernel.shape[-1]
    if mean.shape != (out,):
        raise ValueError(
            f"bn has {mean.shape[0] if mean.ndim == 1 else mean.shape} features on its axis but the "
            f"layer has {out} outputs (the BatchNorm must normalize the last axis)"
        )
    bias = (
        np.asarray(conv_or_linear.bias, dtype=np.float64)
        if conv_or_linear.use_bias
        else np.zeros(out)
    )
    scale = gamma / np.sqrt(var + eps)
    config = {
        **conv_or_linear.get_config(),
        "use_bias": True,
        "name": f"{conv_or_linear.name}_folded",
    }
    folded = type(conv_or_linear).from_config(config)
    folded.build(
        (None,) * (kernel.ndim - 1) + (kernel.shape[-2] * getattr(conv_or_linear, "groups", 1),)
    )
    dtype = conv_or_linear.kernel.dtype
    folded.set_weights(
        [(kernel * scale).astype(dtype), ((bias - mean) * scale + beta).astype(dtype)]
    )
    return folded


class _Moments:
    """Running count, mean and sum of squared deviations per channel (Chan et al.'s pairwise update)."""

    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, x: np.ndarray) -> None:
        x = x.reshape(-1, x.shape[-1]).astype(np.float64)
        n_b, mean_b = len(x), x.mean(axis=0)
        m2_b = ((x - mean_b) ** 2).sum(axis=0)
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * n_b / n
        self.m2 = self.m2 + m2_b + delta**2 * self.n * n_b / n
        self.n = n


def recalibrate_batch_norm(model, batches: Iterable):
    """Set every BatchNorm's moving statistics to the exact mean and biased variance of its inputs.

    Every batch (a tensor or array, or a tuple/list whose first item is the input) runs through
    ``model(x, training=True)``; each BatchNorm's inputs are accumulated, then
    ``moving_mean = mean`` and ``moving_variance = 1/N sum (x - mean)^2`` over all ``N`` of them.
    Returns ``model``.
    """
    layers = batch_norm_layers(model)
    if not layers:
        return model
    stats = {id(bn): _Moments() for bn in layers}
    originals = {id(bn): bn.call for bn in layers}

    def recording(bn):
        call = originals[id(bn)]

        def wrapped(inputs, *args, **kwargs):
            stats[id(bn)].add(np.asarray(inputs))
            return call(inputs, *args, **kwargs)

        return wrapped

    seen = 0
    try:
        for bn in layers:
            bn.call = recording(bn)
        for batch in batches:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            if not (tf.is_tensor(x) or isinstance(x, np.ndarray)):
                raise TypeError(
                    f"each batch must be a tensor or array (or a tuple whose first item is one), "
                    f"got {type(x).__name__}"
                )
            model(x, training=True)
            seen += 1
    finally:
        for bn in layers:
            del bn.call  # back to the class's method
    if seen == 0:
        raise ValueError("batches is empty: no statistics to compute")
    for bn in layers:
        moments = stats[id(bn)]
        if moments.n == 0:
            continue  # a BatchNorm the batches never reached keeps its statistics
        bn.moving_mean.assign(moments.mean.astype(bn.moving_mean.dtype))
        bn.moving_variance.assign((moments.m2 / moments.n).astype(bn.moving_variance.dtype))
    return model
