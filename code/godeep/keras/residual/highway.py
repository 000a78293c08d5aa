"""Highway layers in Keras; see :mod:`godeep.residual.highway` for Eq. (1).

Same layer and builder as the PyTorch twin. Both Dense layers use PyTorch's ``nn.Linear``
default initialisation (uniform in +-1/sqrt(fan_in) for weights and biases, i.e.
kaiming_uniform with a = sqrt(5)), so the two frameworks start from the same distribution;
``gate.bias`` is set to ``gate_bias``.
"""

from __future__ import annotations

import math

import keras

from ... import validate
from .. import tf

__all__ = ["Highway", "highway_net"]


def _torch_linear_init(fan_in: int) -> keras.initializers.Initializer:
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


class Highway(keras.layers.Layer):
    """One highway layer of width ``features``: ``y = T h + (1 - T) x``, ``T = sigmoid(gate(x))``."""

    def __init__(self, features: int, gate_bias: float = -1.0, **kwargs):
        super().__init__(**kwargs)
        self.features = validate.positive_int("features", features)
        self.gate_bias = validate.number("gate_bias", gate_bias)
        init = _torch_linear_init(self.features)
        self.transform = keras.layers.Dense(
            self.features, kernel_initializer=init, bias_initializer=init, name="transform"
        )
        self.gate = keras.layers.Dense(
            self.features,
            kernel_initializer=init,
            bias_initializer=keras.initializers.Constant(self.gate_bias),
            name="gate",
        )

    def build(self, input_shape):
        if input_shape[-1] != self.features:
            raise ValueError(
                f"expected inputs (..., {self.features}), got shape {tuple(input_shape)}"
            )
        self.transform.build(input_shape)
        self.gate.build(input_shape)

    def transform_gate(self, x):
        """``T(x) = sigmoid(W_T x + b_T)``."""
        return tf.sigmoid(self.gate(x))

    def call(self, x):
        t = self.transform_gate(x)
        return t * tf.nn.relu(self.transform(x)) + (1.0 - t) * x

    def get_config(self) -> dict:
        return {**super().get_config(), "features": self.features, "gate_bias": self.gate_bias}


def highway_net(
    in_features: int, width: int, depth: int, num_classes: int, gate_bias: float = -1.0
) -> keras.Sequential:
    """``Dense(width) + ReLU``, ``depth`` highway layers, a linear classifier; see the PyTorch twin."""
    in_features = validate.positive_int("in_features", in_features)
    width = validate.positive_int("width", width)
    depth = validate.positive_int("depth", depth)
    num_classes = validate.positive_int("num_classes", num_classes)
    stem = _torch_linear_init(in_features)
    head = _torch_linear_init(width)
    model = keras.Sequential(
        [
            keras.Input((in_features,)),
            keras.layers.Dense(
                width, activation="relu", kernel_initializer=stem, bias_initializer=stem
            ),
            *[Highway(width, gate_bias, name=f"highway{i + 1}") for i in range(depth)],
            keras.layers.Dense(num_classes, kernel_initializer=head, bias_initializer=head),
        ]
    )
    return model
