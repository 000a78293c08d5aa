"""Chapter 2 solutions in Keras: initializers written from their definitions."""

import math

import keras
import numpy as np


def orthogonal(rows: int, cols: int, gain: float = 1.0):
    """A random (rows, cols) matrix with orthonormal rows or columns, times ``gain`` (QR of a Gaussian)."""
    q, r = keras.ops.qr(keras.random.normal((max(rows, cols), min(rows, cols))))
    q = q * keras.ops.sign(keras.ops.diagonal(r))  # fix QR's sign choice: uniformly distributed Q
    return gain * (keras.ops.transpose(q) if rows < cols else q)


def he_normal_init(model: keras.Model) -> None:
    """Every Dense layer: kernel ~ N(0, 2 / fan_in), bias = 0. A Keras kernel is (fan_in, fan_out)."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            fan_in = layer.kernel.shape[0]
            std = math.sqrt(2.0 / fan_in)
            layer.kernel.assign(np.random.normal(0.0, std, layer.kernel.shape).astype("float32"))
            if layer.bias is not None:
                layer.bias.assign(np.zeros(layer.bias.shape, "float32"))


def kaiming_uniform(shape, dtype=None):
    """He uniform as a Keras initializer: kernels are (*kernel, in, out), so fan_in = prod(shape[:-1])."""
    bound = math.sqrt(6.0 / math.prod(shape[:-1]))
    return keras.random.uniform(shape, minval=-bound, maxval=bound, dtype=dtype)
