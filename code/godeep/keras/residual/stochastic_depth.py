"""Stochastic depth in Keras; see :mod:`godeep.residual.stochastic_depth` for Eq. (1).

Same semantics as the PyTorch twin (and ``torchvision.ops.stochastic_depth``): ``p`` is the
probability of dropping, mode ``"row"`` drops per example and ``"batch"`` the whole batch, what
survives is scaled by ``1 / (1 - p)``, and outside training the input passes unchanged.
Randomness follows Keras' convention: a ``seed`` (an int or a ``keras.random.SeedGenerator``)
instead of PyTorch's global generator; the layer owns a ``SeedGenerator``.
"""

from __future__ import annotations

import keras

from ...core.residual import STOCHASTIC_DEPTH_MODES, check_stochastic_depth
from .. import tf

__all__ = ["stochastic_depth", "StochasticDepth", "STOCHASTIC_DEPTH_MODES"]


def stochastic_depth(input, p: float, mode: str, training: bool = True, *, seed=None):
    """Zero the rows (``"row"``) or the whole ``input`` (``"batch"``) with probability ``p``,
    scale the rest by ``1 / (1 - p)``; the identity when not training or ``p == 0``."""
    p = check_stochastic_depth(p, mode)
    input = tf.convert_to_tensor(input)
    if not training or p == 0.0:
        return input
    if input.shape.rank == 0:
        raise ValueError("input must have a batch dimension, got a 0-d tensor")
    survival = 1.0 - p
    rank = input.shape.rank
    if mode == "row":
        shape = tf.concat([tf.shape(input)[:1], tf.ones([rank - 1], tf.int32)], axis=0)
    else:
        shape = tf.ones([rank], tf.int32)
    keep = tf.cast(keras.random.uniform(shape, seed=seed) < survival, input.dtype)
    if survival > 0.0:
        keep = keep / survival
    return input * keep


class StochasticDepth(keras.layers.Layer):
    """:func:`stochastic_depth` as a layer: active when called with ``training=True``."""

    def __init__(self, p: float, mode: str, **kwargs):
        super().__init__(**kwargs)
        self.p = check_stochastic_depth(p, mode)
        self.mode = mode
        self.seed_generator = keras.random.SeedGenerator()

    def call(self, input, training=None):
        return stochastic_depth(input, self.p, self.mode, bool(training), seed=self.seed_generator)

    def get_config(self) -> dict:
        return {**super().get_config(), "p": self.p, "mode": self.mode}
