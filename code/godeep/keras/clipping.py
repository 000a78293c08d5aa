"""Gradient clipping by global norm and by value in TensorFlow/Keras: the twin of :mod:`godeep.clipping`.

Clipping by global norm (Pascanu et al. 2013), Keras' convention (that of the optimizers'
``global_clipnorm=`` and of ``tf.clip_by_global_norm``):

    n = || (||g_1||_p, ..., ||g_k||_p) ||_p
    g_i <- g_i * c / max(n, c)                       (NaN everywhere if n is NaN or infinite)

PyTorch's ``clip_grad_norm_`` divides by ``n + 1e-6`` instead of ``n``, and sets entries to 0
rather than NaN for an infinite norm; the two conventions agree to a relative ``1e-6 / n``.
Clipping by value is ``clip(g, -v, v)`` (the optimizers' ``clipvalue=``).

Keras keeps no ``.grad`` on its variables, so the twin is functional only: the in-place
``clip_grad_norm_`` / ``clip_grad_value_`` of the PyTorch module have no counterpart here.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from .. import validate
from ..clipping import check_agc, check_clip, check_fit_agc  # noqa: F401  (framework-free)
from . import tf

__all__ = [
    "check_clip",
    "check_fit_agc",
    "check_agc",
    "global_norm",
    "clip_by_global_norm",
    "clip_by_value",
    "unitwise_norm",
    "adaptive_clip",
    "classifier_split",
]


def _tensor_list(name: str, tensors) -> list:
    if tf.is_tensor(tensors) or hasattr(tensors, "assign"):
        return [tf.convert_to_tensor(tensors)]
    if isinstance(tensors, (str, bytes)) or not hasattr(tensors, "__iter__"):
        raise TypeError(
            f"{name} must be a tensor or a sequence of tensors, got {type(tensors).__name__}"
        )
    out = []
    for i, t in enumerate(tensors):
        if not (tf.is_tensor(t) or hasattr(t, "assign")):
            raise TypeError(f"{name}[{i}] must be a tensor, got {type(t).__name__}")
        out.append(tf.convert_to_tensor(t))
    return out


def global_norm(tensors, norm_type: float = 2.0):
    """``|| (||t_1||_p, ..., ||t_k||_p) ||_p``: the p-norm of all ``tensors`` as one vector.

    ``norm_type=inf`` gives the largest absolute entry. No tensors: ``0.``.
    """
    p = validate.number("norm_type", norm_type, low=0.0, low_open=True, finite=False)
    tensors = _tensor_list("tensors", tensors)
    if not tensors:
        return tf.constant(0.0)
    if p == float("inf"):
        return tf.reduce_max(tf.stack([tf.reduce_max(tf.abs(t)) for t in tensors]))
    if p == 2.0:  # as Keras' optimizers: the root of the summed squares
        return tf.sqrt(tf.reduce_sum(tf.stack([tf.reduce_sum(tf.square(t)) for t in tensors])))
    return tf.reduce_sum(tf.stack([tf.reduce_sum(tf.abs(t) ** p) for t in tensors])) ** (1.0 / p)


def clip_by_global_norm(grads: Sequence, max_norm: float, norm_type: float = 2.0):
    """``([g_i * c / max(n, c)], n)`` with ``n`` the :func:`global_norm` of ``grads`` and ``c = max_norm``.

    For ``norm_type=2`` the numbers of ``tf.clip_by_global_norm(grads, c)`` and of a Keras
    optimizer built with ``global_clipnorm=c``. A non-finite ``n`` makes every gradient NaN.
    """
    c = validate.number("max_norm", max_norm, low=0.0, low_open=True)
    grads = _tensor_list("grads", grads)
    total = global_norm(grads, norm_type)
    scale = c / tf.maximum(total, c)
    scale = scale + (total - total)  # NaN for a NaN or infinite norm (inf - inf)
    return [g * tf.cast(scale, g.dtype) for g in grads], total


def clip_by_value(grads: Sequence, clip_value: float) -> list:
    """``[clip(g, -v, v)]``: each component into ``[-clip_value, clip_value]`` (Keras' ``clipvalue=``)."""
    v = validate.number("clip_value", clip_value, low=0.0)
    return [
        tf.clip_by_value(g, tf.cast(-v, g.dtype), tf.cast(v, g.dtype))
        for g in _tensor_list("grads", grads)
    ]


def unitwise_norm(x):
    """Each output unit's Frobenius norm, Keras layout: the *last* axis is the output unit (a
    conv kernel ``(kh, kw, in, out)``, a Dense kernel ``(in, out)``); a vector or scalar is one
    unit. Shaped to broadcast against ``x``. See :func:`godeep.clipping.unitwise_norm`."""
    x = tf.convert_to_tensor(x)
    if x.shape.rank <= 1:
        return tf.norm(x)
    return tf.sqrt(tf.reduce_sum(tf.square(x), axis=list(range(x.shape.rank - 1)), keepdims=True))


def adaptive_clip(
    grads: Sequence, params: Sequence, clipping: float = 0.01, eps: float = 1e-3
) -> list:
    """AGC (Brock et al. 2021b, Eq. 3): ``G_i * min(1, clipping * max(||W_i||, eps) / ||G_i||)``
    unit-wise; see :func:`godeep.clipping.adaptive_clip`."""
    grads, params = _tensor_list("grads", grads), _tensor_list("params", params)
    clipping, eps = check_agc(clipping, eps, len(grads), len(params))
    out = []
    for g, w in zip(grads, params):
        if tuple(g.shape) != tuple(w.shape):
            raise ValueError(
                f"a gradient of shape {tuple(g.shape)} for a parameter {tuple(w.shape)}"
            )
        max_norm = tf.maximum(unitwise_norm(tf.stop_gradient(w)), eps) * clipping
        g_norm = unitwise_norm(g)
        scale = tf.where(
            g_norm > max_norm, max_norm / tf.maximum(g_norm, 1e-6), tf.ones_like(g_norm)
        )
        out.append(g * scale)
    return out


def classifier_split(model) -> tuple[list, list]:
    """A Keras ``model``'s trainable variables as ``(clipped, classifier)``: ``classifier`` holds
    the trainable weights of the last layer without sublayers (depth first) that has any, the
    final classifier that Brock et al. (2021b) leave unclipped; ``clipped`` holds the others,
    in ``model.trainable_variables`` order. See :func:`godeep.clipping.classifier_split`."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    leaves, stack = [], list(reversed(getattr(model, "_layers", ())))
    while stack:
        layer = stack.pop()
        children = list(getattr(layer, "_layers", ()))
        if children:
            stack.extend(reversed(children))
        elif layer.trainable_weights:
            leaves.append(layer)
    if not leaves:
        raise ValueError(f"model ({model.name}) has no trainable weights")
    last = {id(v) for v in leaves[-1].trainable_weights}
    variables = model.trainable_variables
    return [v for v in variables if id(v) not in last], [v for v in variables if id(v) in last]
