"""RMSNorm from its definition in TensorFlow/Keras: the twin of :mod:`godeep.rmsnorm` (Zhang & Sennrich 2019).

Over the trailing ``normalized_shape`` of ``x`` (``n`` entries),

    RMS(x) = sqrt(1/n sum_i x_i^2 + eps),    y_i = x_i / RMS(x) * gamma_i.

:func:`rms_norm` takes the arguments of ``torch.nn.functional.rms_norm`` (``eps=None``: the
machine epsilon of the computation type, float32's for float16/bfloat16/float32 input, float64's
for float64). :class:`RMSNorm` is a Keras layer in the conventions of :mod:`godeep.keras.norms`
(``epsilon``, ``scale``, the weight ``gamma``; ``normalized_shape=None``: the last axis). With
the same ``epsilon`` it computes what ``keras.layers.RMSNormalization(axis=-1, epsilon=...)``
computes (its weight is called ``scale`` there, and its default epsilon is 1e-6).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import keras
import numpy as np

from .. import validate
from . import tf

__all__ = ["default_eps", "rms_norm", "RMSNorm"]


def default_eps(dtype) -> float:
    """The ``eps`` that ``eps=None`` means for input of ``dtype`` (float32's machine epsilon, or
    float64's for float64 input)."""
    try:
        dtype = tf.as_dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a floating-point dtype, got {dtype!r}") from None
    if not dtype.is_floating:
        raise TypeError(f"dtype must be a floating-point dtype, got {dtype.name}")
    return float(np.finfo(np.float64 if dtype == tf.float64 else np.float32).eps)


def _shape(normalized_shape) -> tuple[int, ...]:
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    shape = validate.positive_ints("normalized_shape", normalized_shape)
    if not shape:
        raise ValueError("normalized_shape must hold at least one size, got ()")
    return shape


def rms_norm(input, normalized_shape: Sequence[int], weight=None, eps: float | None = None):
    """``x / sqrt(mean(x^2) + eps) * weight`` over the trailing ``normalized_shape`` of ``input``."""
    if not (tf.is_tensor(input) or isinstance(input, np.ndarray) or hasattr(input, "assign")):
        raise TypeError(f"input must be a tensor, got {type(input).__name__}")
    input = tf.convert_to_tensor(input)
    if not input.dtype.is_floating:
        raise TypeError(f"input must be a floating-point tensor, got {input.dtype.name}")
    shape = _shape(normalized_shape)
    k = len(shape)
    if input.shape.rank < k or tuple(input.shape[-k:]) != shape:
        raise ValueError(
            f"normalized_shape {shape} must equal the last dimensions of input of shape "
            f"{tuple(input.shape)}"
        )
    if weight is not None:
        weight = tf.convert_to_tensor(weight)
        if tuple(weight.shape) != shape:
            raise ValueError(f"weight must have shape {shape}, got {tuple(weight.shape)}")
    eps = default_eps(input.dtype) if eps is None else validate.number("eps", eps, low=0.0)
    x = tf.cast(input, tf.float32) if input.dtype in (tf.float16, tf.bfloat16) else input
    rank = x.shape.rank
    y = x * tf.math.rsqrt(
        tf.reduce_mean(tf.square(x), axis=list(range(rank - k, rank)), keepdims=True) + eps
    )
    if weight is not None:
        y = y * tf.cast(weight, y.dtype)
    return tf.cast(y, input.dtype)


class RMSNorm(keras.layers.Layer):
    """RMSNorm over the last ``len(normalized_shape)`` axes (``None``: the last axis), weight ``gamma``."""

    def __init__(
        self,
        normalized_shape: None | int | Sequence[int] = None,
        epsilon: float | None = None,
        scale: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.normalized_shape = None if normalized_shape is None else _shape(normalized_shape)
        self.epsilon = None if epsilon is None else validate.number("epsilon", epsilon, low=0.0)
        self.scale = validate.boolean("scale", scale)
        self.gamma = None

    def build(self, input_shape) -> None:
        if self.normalized_shape is None:
            if len(input_shape) < 2 or input_shape[-1] is None:
                raise ValueError(
                    f"RMSNorm expects input (N, ..., C) with known C, got shape {tuple(input_shape)}"
                )
            self.normalized_shape = (int(input_shape[-1]),)
        k = len(self.normalized_shape)
        if k > len(input_shape) - 1 or tuple(input_shape[-k:]) != self.normalized_shape:
            raise ValueError(
                f"RMSNorm: normalized_shape {self.normalized_shape} must equal the last dimensions of "
                f"input of shape {tuple(input_shape)}"
            )
        if self.scale:
            self.gamma = self.add_weight(
                shape=self.normalized_shape, initializer="ones", name="gamma"
            )

    def call(self, inputs):
        return rms_norm(inputs, self.normalized_shape, self.gamma, self.epsilon)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "normalized_shape": self.normalized_shape,
            "epsilon": self.epsilon,
            "scale": self.scale,
        }
