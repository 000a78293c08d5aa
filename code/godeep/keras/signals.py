"""Watch signals travel in a Keras model: the twin of :func:`godeep.signals.record`.

Intermediate activations are exposed by a probe model that shares the layers of ``model``;
a ``tf.GradientTape`` gives the loss gradient with respect to each of them and to every
kernel.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import keras
import numpy as np

from ..signals import (  # noqa: F401  (re-exported: the framework-neutral part)
    SATURATION_THRESHOLD,
    LayerStats,
    SignalReport,
    TrainingMonitor,
    WeightStats,
    autocorrelation,
    dead_fraction,
    diagnose,
    layer_stats,
    path_length_distribution,
    saturation_fraction,
    unit_std,
)
from . import tf
from .models import _flat_layers, weight_layers

__all__ = [
    "SATURATION_THRESHOLD",
    "saturation_fraction",
    "dead_fraction",
    "layer_stats",
    "LayerStats",
    "SignalReport",
    "TrainingMonitor",
    "WeightStats",
    "diagnose",
    "record",
    "unit_std",
    "autocorrelation",
    "input_gradients",
    "Lesioned",
    "lesion_study",
    "path_length_distribution",
]


def _kind(layer) -> str | None:
    if isinstance(layer, keras.layers.Activation):
        name = getattr(layer.activation, "__name__", "")
        return name if name in ("sigmoid", "tanh", "relu", "linear") else None
    if isinstance(layer, keras.layers.ReLU):
        return "relu"
    return None


def record(
    model: keras.Model,
    x,
    y=None,
    loss_fn: Callable | None = None,
    layers: Sequence[str] | None = None,
    keep: bool = False,
) -> SignalReport:
    """One forward and backward pass through a Keras ``model``, recording per-layer signals.

    Same semantics as :func:`godeep.signals.record`: with ``y=None`` the loss is the sum of
    the outputs; otherwise ``loss_fn(y, logits)`` (default: sparse categorical cross-entropy
    on logits, averaged over the batch). By default every ``Activation`` layer is watched.
    The pass runs with ``training=True``, like a training step.
    """
    if not getattr(model, "inputs", None):
        raise ValueError(
            "model has no symbolic inputs: build it with keras.Input (Sequential or functional API)"
        )
    by_name = {layer.name: layer for layer in model.layers}
    if layers is None:
        chosen = [l for l in model.layers if _kind(l) is not None]
        if not chosen:
            raise ValueError("found no Activation layers to watch; pass layers=[layer names]")
    else:
        missing = [n for n in layers if n not in by_name]
        if missing:
            raise ValueError(
                f"layers not found in the model: {missing}; available: {list(by_name)[:20]}..."
            )
        chosen = [by_name[n] for n in layers]
    probe = keras.Model(model.inputs, [l.output for l in chosen] + [model.outputs[0]])
    dtype = model.inputs[0].dtype
    x = tf.convert_to_tensor(np.asarray(x), dtype=dtype)
    kernels = weight_layers(model)
    with tf.GradientTape() as tape:
        outputs = probe(x, training=True)  # a single tensor when no layer is watched
        *hidden, out = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        if y is None:
            loss = tf.reduce_sum(out)
        else:
            labels = tf.convert_to_tensor(np.asarray(y))
            if (
                loss_fn is None
            ):  # the functional form keeps the model's dtype (the Loss class casts to float32)
                loss = tf.reduce_mean(
                    keras.losses.sparse_categorical_crossentropy(labels, out, from_logits=True)
                )
            else:
                loss = loss_fn(labels, out)
    grads = tape.gradient(loss, hidden + [k.kernel for k in kernels.values()])
    act_grads, kernel_grads = grads[: len(hidden)], grads[len(hidden) :]

    stats, kept = [], {}
    for layer, h, g in zip(chosen, hidden, act_grads):
        h_np = np.asarray(h, dtype=np.float64)
        stats.append(
            layer_stats(
                layer.name,
                _kind(layer),
                h_np,
                None if g is None else np.asarray(g, dtype=np.float64),
            )
        )
        if keep:
            kept[layer.name] = np.asarray(h).copy()
    weights = [
        WeightStats(n, float(tf.norm(k.kernel)), float(tf.norm(g)) if g is not None else math.nan)
        for (n, k), g in zip(kernels.items(), kernel_grads)
    ]
    return SignalReport(layers=stats, weights=weights, activations=kept, loss=float(loss))


def input_gradients(model: keras.Model, grid) -> np.ndarray:
    """``df/dx`` at every point of a grid of scalar inputs, for a Keras model ``f: R -> R``.

    The twin of :func:`godeep.signals.input_gradients`: BatchNormalization layers take their
    moving statistics from the grid (one training-mode pass with ``momentum = 0``), the
    gradient is taken in inference mode, and the layers' statistics and momentum are restored.
    """
    x = np.asarray(grid, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"grid must be a 1-D array of input values, got shape {x.shape}")
    dtype = model.inputs[0].dtype if getattr(model, "inputs", None) else "float32"
    inputs = tf.convert_to_tensor(x.reshape(-1, 1), dtype=dtype)
    norms = [l for l in _flat_layers(model) if isinstance(l, keras.layers.BatchNormalization)]
    saved = [
        (l, l.momentum, np.asarray(l.moving_mean), np.asarray(l.moving_variance)) for l in norms
    ]
    try:
        if norms:
            for l in norms:
                l.momentum = 0.0
            model(inputs, training=True)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            out = model(inputs, training=False)
            total = tf.reduce_sum(out)
        if tuple(out.shape) != (x.size, 1):
            raise ValueError(
                f"the model must map (n, 1) inputs to (n, 1) outputs, got {tuple(out.shape)}"
            )
        grad = tape.gradient(total, inputs)
    finally:
        for l, momentum, mean, var in saved:
            l.momentum = momentum
            l.moving_mean.assign(mean)
            l.moving_variance.assign(var)
    return np.asarray(grad, dtype=np.float64).ravel()


def _forget_compiled(model: keras.Model) -> None:
    """Drop the functions ``model.predict`` / ``evaluate`` traced with the old switches."""
    for attr in ("predict_function", "test_function", "train_function"):
        if getattr(model, attr, None) is not None:
            setattr(model, attr, None)


class Lesioned:
    """Context manager: the blocks named ``names`` are deleted (``x_l = x_{l-1}``), then restored.

    The twin of :class:`godeep.signals.Lesioned` for a :func:`godeep.keras.resmlp.residual_mlp`:
    deleting a residual block ``x + F(x)`` leaves its shortcut, ``x``; deleting a block of a plain
    net passes its input straight on. This is the lesion of Veit et al. (2016). The model itself
    is changed in place (its blocks' ``BlockOutput.deleted`` switches), so code that calls
    ``model`` inside the ``with`` sees the lesioned network. Names are block names
    (``"block7"``), as :func:`godeep.keras.resmlp.blocks` lists them.

        with signals.Lesioned(model, ["block7"]):
            accuracy = evaluate(model)
    """

    def __init__(self, model: keras.Model, names: str | Sequence[str]) -> None:
        from .resmlp import blocks

        if isinstance(names, str):
            names = [names]
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise TypeError(f"names must be a block name or a list of block names, got {names!r}")
        found = blocks(model)  # fail before touching anything
        missing = [n for n in names if n not in found]
        if missing:
            raise ValueError(f"blocks {missing} not found in the model; available: {list(found)}")
        self.model, self.names = model, list(names)
        self._targets = [found[n] for n in self.names]
        self._saved: list = []

    def __enter__(self) -> keras.Model:
        for layer in self._targets:
            self._saved.append((layer, layer.deleted))
            layer.deleted = True
        _forget_compiled(self.model)
        return self.model

    def __exit__(self, *exc) -> None:
        for layer, deleted in reversed(self._saved):
            layer.deleted = deleted
        self._saved.clear()
        _forget_compiled(self.model)


def lesion_study(
    model: keras.Model, names: Sequence[str], evaluate: Callable[[keras.Model], float]
) -> dict[str, float]:
    """``evaluate(model)`` with each block of ``names`` deleted in turn (see :class:`Lesioned`).

    Returns ``{"none": baseline, name_1: score without name_1, ...}``; the model is left intact.
    """
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise ValueError("names must list at least one block to delete")
    Lesioned(model, names)  # check every name before the first evaluation
    scores = {"none": float(evaluate(model))}
    for n in names:
        with Lesioned(model, [n]):
            scores[n] = float(evaluate(model))
    return scores
