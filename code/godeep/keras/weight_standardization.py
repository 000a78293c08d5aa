"""Weight standardization (Qiao et al. 2019) in TensorFlow/Keras: the twin of
:mod:`godeep.weight_standardization`.

Keras keeps the output channel *last* (``Conv2D.kernel`` is ``(kh, kw, in, out)``,
``Dense.kernel`` ``(in, out)``), so each output channel ``o`` is standardized over all the other
axes (its fan-in):

    W_hat_o = (W_o - mean(W_o)) / sqrt(var(W_o) + eps)      (biased variance).
"""

from __future__ import annotations

import keras

from .. import validate
from . import tf

__all__ = ["weight_standardization", "WSConv2D"]


def weight_standardization(weight, eps: float = 1e-5):
    """``(W_o - mean(W_o)) / sqrt(var(W_o) + eps)`` per output channel ``o`` (last axis), over the fan-in."""
    if not (tf.is_tensor(weight) or hasattr(weight, "assign")):
        raise TypeError(f"weight must be a tensor or a variable, got {type(weight).__name__}")
    weight = tf.convert_to_tensor(weight)
    if not weight.dtype.is_floating:
        raise TypeError(f"weight must be a floating-point tensor, got {weight.dtype.name}")
    if weight.shape.rank < 2 or weight.shape.num_elements() == 0:
        raise ValueError(
            f"weight must have a layout (*kernel, in, out) with no zero size, got shape {tuple(weight.shape)}"
        )
    eps = validate.number("eps", eps, low=0.0)
    axes = list(range(weight.shape.rank - 1))
    mean = tf.reduce_mean(weight, axis=axes, keepdims=True)
    var = tf.reduce_mean(tf.square(weight - mean), axis=axes, keepdims=True)
    return (weight - mean) / tf.sqrt(var + eps)


class WSConv2D(keras.layers.Conv2D):
    """A ``keras.layers.Conv2D`` that convolves with :func:`weight_standardization` of its kernel.

    Same arguments and weights (``kernel``, ``bias``) as ``Conv2D``, plus ``eps``.
    """

    def __init__(self, filters: int, kernel_size, eps: float = 1e-5, **kwargs) -> None:
        super().__init__(filters, kernel_size, **kwargs)
        self.eps = validate.number("eps", eps, low=0.0)

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, weight_standardization(kernel, self.eps))

    def get_config(self) -> dict:
        return {**super().get_config(), "eps": self.eps}
