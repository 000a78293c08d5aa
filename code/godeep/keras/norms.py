"""Normalization layers from their definition in TensorFlow/Keras: the twin of :mod:`godeep.norms`.

Same recipe, same names (:class:`BatchNorm`, :class:`LayerNorm`, :class:`GroupNorm`,
:class:`InstanceNorm`, :class:`GhostBatchNorm`), but Keras' conventions, so each layer can
stand in for its ``keras.layers`` counterpart:

=========================  ==================================  ==================================
convention                 PyTorch (:mod:`godeep.norms`)        Keras (this module)
=========================  ==================================  ==================================
layout                     channels first, NCHW                 channels last, NHWC (``axis=-1``)
running-average momentum   ``momentum=0.1`` weights the *new*   ``momentum=0.99`` weights the *old*
                           batch                                average: keras = 1 - torch
epsilon                    ``eps=1e-5``                         ``epsilon=1e-3``
stored batch variance      unbiased, m/(m-1) sigma^2            biased, sigma^2
train / inference switch   ``model.train()`` / ``model.eval()`` ``training=True`` / ``False`` per call
frozen layer               still uses batch statistics in       ``trainable=False`` runs in
                           ``train()`` mode                     inference mode
=========================  ==================================  ==================================
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import keras

from .. import validate
from . import tf  # noqa: F401  (quiet TensorFlow import)

__all__ = [
    "SUPPORT",
    "moments",
    "BatchNorm",
    "GhostBatchNorm",
    "LayerNorm",
    "GroupNorm",
    "InstanceNorm",
]

#: The support sets as einsums over a channels-last NHWC tensor (see :data:`godeep.norms.SUPPORT`).
SUPPORT = {
    "batch": "nhwc->c",
    "layer": "nhwc->n",
    "layer-token": "ntc->nt",
    "instance": "nhwc->nc",
    "group": "nhwgc->ng",
}


def moments(x, kind: str, num_groups: int | None = None):
    """Mean and biased variance of NHWC ``x`` over the support set of ``kind``, by einsum."""
    if kind not in SUPPORT:
        raise ValueError(f"kind must be one of {tuple(SUPPORT)}, got {kind!r}")
    x = tf.convert_to_tensor(x)
    dims = 3 if kind == "layer-token" else 4
    if x.shape.rank != dims:
        raise ValueError(f"kind {kind!r} expects a {dims}-D tensor, got shape {tuple(x.shape)}")
    if kind == "group":
        C = x.shape[-1]
        if num_groups is None or C % num_groups:
            raise ValueError(f"num_groups must divide the {C} channels, got {num_groups}")
        x = tf.reshape(x, (-1, x.shape[1], x.shape[2], num_groups, C // num_groups))
    spec = SUPPORT[kind]
    lhs, rhs = spec.split("->")
    shape = list(x.shape)
    count = math.prod(size for index, size in zip(lhs, shape) if index not in rhs)
    mean = tf.einsum(spec, x) / count
    expand = tf.reshape(mean, [size if index in rhs else 1 for index, size in zip(lhs, shape)])
    var = tf.einsum(spec, tf.square(x - expand)) / count
    return mean, var


def _normalize(x, axes, epsilon: float):
    """(x - mu) / sqrt(sigma^2 + eps) over ``axes``, with mu and the biased sigma^2 (kept dims)."""
    mean = tf.reduce_mean(x, axis=axes, keepdims=True)
    var = tf.reduce_mean(tf.square(x - mean), axis=axes, keepdims=True)
    return (x - mean) / tf.sqrt(var + epsilon), mean, var


class _Affine(keras.layers.Layer):
    """gamma and beta of shape ``(C,)`` on the last axis (Keras' names: ``gamma``, ``beta``)."""

    def __init__(self, epsilon: float, center: bool, scale: bool, **kwargs) -> None:
        super().__init__(**kwargs)
        validate.number("epsilon", epsilon, low=0.0, low_open=True)
        self.epsilon, self.center, self.scale = float(epsilon), center, scale

    def _float_input(self, inputs):
        """Integer input cast to the layer's compute dtype (float32), as Keras' own norm layers do."""
        inputs = tf.convert_to_tensor(inputs)
        if inputs.dtype.is_floating:
            return inputs
        if not (inputs.dtype.is_integer or inputs.dtype.is_bool):
            raise TypeError(
                f"{type(self).__name__}: input must hold numbers, got dtype {inputs.dtype.name}"
            )
        return tf.cast(inputs, self.compute_dtype)

    def _build_affine(self, shape) -> None:
        self.gamma = (
            self.add_weight(shape=shape, initializer="ones", name="gamma") if self.scale else None
        )
        self.beta = (
            self.add_weight(shape=shape, initializer="zeros", name="beta") if self.center else None
        )

    def _affine(self, x_hat):
        if self.gamma is not None:
            x_hat = x_hat * tf.cast(self.gamma, x_hat.dtype)
        if self.beta is not None:
            x_hat = x_hat + tf.cast(self.beta, x_hat.dtype)
        return x_hat

    def _channels(self, input_shape) -> int:
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} expects channels-last input (N, ..., C) with known C, got "
                f"shape {tuple(input_shape)}"
            )
        return int(input_shape[-1])


class BatchNorm(_Affine):
    """BatchNorm on channels-last input, as ``keras.layers.BatchNormalization(axis=-1)``.

    ``training=True`` (and ``trainable``): normalize with the batch's mean and biased variance
    over every axis but the last, and update ``moving <- momentum * moving + (1 - momentum) * batch``
    (biased variance, Keras' convention). Otherwise, or when the layer is frozen
    (``trainable=False``), use the moving statistics: inference mode.
    """

    def __init__(
        self,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(epsilon, center, scale, **kwargs)
        self.momentum = validate.number("momentum", momentum, 0.0, 1.0)

    def build(self, input_shape) -> None:
        C = self._channels(input_shape)
        self._build_affine((C,))
        self.moving_mean = self.add_weight(
            shape=(C,), initializer="zeros", trainable=False, name="moving_mean"
        )
        self.moving_variance = self.add_weight(
            shape=(C,), initializer="ones", trainable=False, name="moving_variance"
        )

    def _batch_moments(self, x):
        axes = list(range(len(x.shape) - 1))
        return _normalize(x, axes, self.epsilon)

    def call(self, inputs, training=None):
        inputs = self._float_input(inputs)
        if training and self.trainable:
            x_hat, mean, var = self._batch_moments(inputs)
            self._update(
                tf.reshape(mean, (-1, mean.shape[-1])), tf.reshape(var, (-1, var.shape[-1]))
            )
        else:
            mean = tf.cast(self.moving_mean, inputs.dtype)
            var = tf.cast(self.moving_variance, inputs.dtype)
            x_hat = (inputs - mean) / tf.sqrt(var + self.epsilon)
        return self._affine(x_hat)

    def _update(self, means, variances) -> None:
        """Apply one moving-average update per row of ``means`` / ``variances`` (shape (K, C)), in order."""
        K = tf.shape(means)[0]
        decay = tf.constant(
            self.momentum, dtype=means.dtype
        )  # not tf.cast: that goes through float32
        # sequential updates m <- d m + (1 - d) s_k, k = 1..K, in closed form
        weights = (1 - decay) * decay ** tf.cast(tf.range(K - 1, -1, -1), means.dtype)
        for moving, stat in ((self.moving_mean, means), (self.moving_variance, variances)):
            new = decay ** tf.cast(K, means.dtype) * tf.cast(moving, means.dtype) + tf.reduce_sum(
                weights[:, None] * stat, axis=0
            )
            moving.assign(tf.cast(new, moving.dtype))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }


class GhostBatchNorm(BatchNorm):
    """BatchNorm with training statistics from sub-batches of ``virtual_batch_size``
    (see :func:`godeep.norms.ghost_batch_norm`).

    The batch is cut into consecutive sub-batches of ``virtual_batch_size`` examples (the last
    may be smaller). The moving statistics get one update per sub-batch, in order (as the
    PyTorch twin does).
    """

    def __init__(
        self,
        virtual_batch_size: int,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(momentum, epsilon, center, scale, **kwargs)
        if (
            isinstance(virtual_batch_size, bool)
            or not isinstance(virtual_batch_size, int)
            or virtual_batch_size < 2
        ):
            raise ValueError(f"virtual_batch_size must be an int >= 2, got {virtual_batch_size!r}")
        self.virtual_batch_size = virtual_batch_size

    def _batch_moments(self, x):
        g = self.virtual_batch_size
        n = tf.shape(x)[0]
        ghost = (
            tf.range(n) // g
        )  # the sub-batch of each example: 0, .., 0, 1, .., 1, ... (the last may be smaller)
        k = (n + g - 1) // g
        spatial = list(range(1, len(x.shape) - 1))
        per_example = tf.cast(tf.reduce_prod(tf.shape(x)[1:-1]), x.dtype)  # positions per example

        def ghost_mean(
            values,
        ):  # (N, ..., C) -> (K, C): mean over each sub-batch's examples and positions
            sums = tf.math.unsorted_segment_sum(
                tf.reduce_sum(values, axis=spatial) if spatial else values, ghost, k
            )
            counts = (
                tf.math.unsorted_segment_sum(tf.ones_like(ghost, dtype=x.dtype), ghost, k)
                * per_example
            )
            return sums / counts[:, None]

        def per_row(stat):  # (K, C) -> (N, 1, .., 1, C)
            return tf.reshape(
                tf.gather(stat, ghost),
                tf.concat([[n], tf.ones(len(spatial), tf.int32), [-1]], axis=0),
            )

        mean = ghost_mean(x)
        centred = x - per_row(mean)
        var = ghost_mean(tf.square(centred))
        return centred / tf.sqrt(per_row(var) + self.epsilon), mean, var

    def get_config(self) -> dict:
        return {**super().get_config(), "virtual_batch_size": self.virtual_batch_size}


class LayerNorm(_Affine):
    """LayerNorm over the last ``len(normalized_shape)`` axes, the twin of :class:`godeep.norms.LayerNorm`.

    ``normalized_shape=None`` normalizes over the last axis only, like
    ``keras.layers.LayerNormalization()`` (axis=-1); gamma and beta have ``normalized_shape``.
    """

    def __init__(
        self,
        normalized_shape: None | int | Sequence[int] = None,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(epsilon, center, scale, **kwargs)
        if isinstance(normalized_shape, numbers.Integral) and not isinstance(
            normalized_shape, bool
        ):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = (
            None
            if normalized_shape is None
            else validate.positive_ints("normalized_shape", normalized_shape)
        )

    def build(self, input_shape) -> None:
        shape = self.normalized_shape or (self._channels(input_shape),)
        k = len(shape)
        if k > len(input_shape) - 1 or tuple(input_shape[-k:]) != shape:
            raise ValueError(
                f"LayerNorm: normalized_shape {shape} must equal the last dimensions of input of "
                f"shape {tuple(input_shape)}"
            )
        self.normalized_shape = shape
        self._build_affine(shape)

    def call(self, inputs):
        inputs = self._float_input(inputs)
        k = len(self.normalized_shape)
        rank = len(inputs.shape)
        x_hat, _, _ = _normalize(inputs, list(range(rank - k, rank)), self.epsilon)
        return self._affine(x_hat)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "normalized_shape": self.normalized_shape,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }


class GroupNorm(_Affine):
    """GroupNorm on channels-last input, as ``keras.layers.GroupNormalization(groups, axis=-1)``.

    The C channels form ``groups`` groups of C/G consecutive channels; statistics per example and
    group over the spatial axes and the group's channels.
    """

    def __init__(
        self, groups: int, epsilon: float = 1e-3, center: bool = True, scale: bool = True, **kwargs
    ) -> None:
        super().__init__(epsilon, center, scale, **kwargs)
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValueError(f"groups must be a positive int, got {groups!r}")
        self.groups = groups

    def build(self, input_shape) -> None:
        C = self._channels(input_shape)
        if C % self.groups:
            raise ValueError(
                f"GroupNorm: the number of channels {C} must be divisible by groups={self.groups}"
            )
        self._build_affine((C,))

    def call(self, inputs):
        inputs = self._float_input(inputs)
        shape = tf.shape(inputs)
        C = inputs.shape[-1]
        grouped = tf.reshape(
            inputs, tf.concat([shape[:-1], [self.groups, C // self.groups]], axis=0)
        )  # (N, ..., G, C/G)
        rank = len(inputs.shape) + 1
        axes = list(range(1, rank - 2)) + [rank - 1]  # spatial axes and the channels within a group
        x_hat, _, _ = _normalize(grouped, axes, self.epsilon)
        return self._affine(tf.reshape(x_hat, shape))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "groups": self.groups,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }


class InstanceNorm(GroupNorm):
    """InstanceNorm on channels-last input: GroupNorm with one channel per group
    (``keras.layers.GroupNormalization(groups=-1)``).

    Statistics per example and channel over the spatial axes; same at training and inference
    (no moving statistics, like ``torch.nn.InstanceNorm2d``'s default). No affine by default.
    """

    def __init__(
        self, epsilon: float = 1e-3, center: bool = False, scale: bool = False, **kwargs
    ) -> None:
        super().__init__(1, epsilon, center, scale, **kwargs)

    def build(self, input_shape) -> None:
        if len(input_shape) < 3:
            raise ValueError(
                f"InstanceNorm expects (N, ..., C) input with spatial axes, got shape {tuple(input_shape)}"
            )
        self.groups = self._channels(input_shape)
        super().build(input_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("groups")
        return config


# Normalizations with a module of their own (RMSNorm, weight standardization) and BN at
# deployment (folding, recalibration), re-exported with the others (imported last: they
# import this module).
from .deploy import fold_batch_norm, recalibrate_batch_norm  # noqa: E402
from .rmsnorm import RMSNorm, rms_norm  # noqa: E402
from .weight_standardization import WSConv2D, weight_standardization  # noqa: E402

__all__ += [
    "fold_batch_norm",
    "recalibrate_batch_norm",
    "rms_norm",
    "RMSNorm",
    "weight_standardization",
    "WSConv2D",
]
