"""Normalizer-free ResNets in Keras; see :mod:`godeep.residual.normalizer_free` for Eqs. (1)-(2).

Same blocks and network as the PyTorch twin, channels last: the scaled weight standardization
reduces over every axis but the last (the output unit) of a ``(kh, kw, in, out)`` kernel, and the
convolutions pad explicitly so they pad like PyTorch's.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from ... import validate
from ...core.residual import blocks_per_stage, nf_expected_stds, nonlinearity_gain
from .. import tf
from .blocks import PaddedConv2D

__all__ = ["ScaledWSConv2D", "NFBlock", "NFResNet", "nf_cifar_resnet", "NF_RELU_GAIN"]

NF_RELU_GAIN: float = nonlinearity_gain("relu")


def _gamma_relu(h):
    """``gamma * relu(h)``, ``gamma`` = :data:`NF_RELU_GAIN`: the final activation of
    :class:`NFResNet` (one module-level function, so that two networks' ``Lambda`` layers are
    the same and :func:`godeep.keras.train.fit` reuses one traced step for both)."""
    return tf.nn.relu(h) * NF_RELU_GAIN


class ScaledWSConv2D(PaddedConv2D):
    """A ``Conv2D`` whose kernel is scaled-standardized per output unit, with a learnable ``gain``
    (ones) and a bias (zeros); ``padding`` is PyTorch's (an int: zeros on every side), done as
    :class:`~godeep.keras.residual.blocks.PaddedConv2D` does."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
        eps: float = 1e-4,
        **kwargs,
    ):
        super().__init__(
            validate.positive_int("out_channels", out_channels),
            kernel_size,
            pad=validate.nonnegative_int("padding", padding),
            strides=stride,
            use_bias=bias,
            kernel_initializer=keras.initializers.VarianceScaling(
                1.0, "fan_in", "untruncated_normal"
            ),
            **kwargs,
        )
        self.in_channels = validate.positive_int("in_channels", in_channels)
        self.eps = validate.number("eps", eps, low=0.0)

    def build(self, input_shape):
        super().build(input_shape)
        self.gain = self.add_weight(shape=(self.filters,), initializer="ones", name="gain")

    def standardized_kernel(self):
        """``gain * (W - mean) / sqrt(max(fan_in * var, eps))`` per output unit (last axis)."""
        w = tf.convert_to_tensor(self.kernel)
        axes = [0, 1, 2]
        fan_in = float(w.shape[0] * w.shape[1] * w.shape[2])
        mean = tf.reduce_mean(w, axis=axes, keepdims=True)
        var = tf.reduce_mean(tf.square(w - mean), axis=axes, keepdims=True)
        return (w - mean) * tf.math.rsqrt(tf.maximum(var * fan_in, self.eps)) * self.gain

    def convolution_op(self, inputs, kernel):  # noqa: ARG002  (the standardized kernel is used)
        return super().convolution_op(inputs, self.standardized_kernel())


class NFBlock(keras.layers.Layer):
    """``h + alpha * f(h / beta)``, ``f = conv2(gamma relu(conv1(gamma relu(.))))``; a transition's
    shortcut is a 1x1 scaled WS conv of ``gamma relu(h / beta)``."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, alpha: float, beta: float, **kwargs
    ):
        super().__init__(**kwargs)
        in_channels = validate.positive_int("in_channels", in_channels)
        out_channels = validate.positive_int("out_channels", out_channels)
        stride = validate.positive_int("stride", stride)
        self.alpha = validate.number("alpha", alpha, low=0.0)
        self.beta = validate.number("beta", beta, low=0.0, low_open=True)
        self.conv1 = ScaledWSConv2D(in_channels, out_channels, 3, stride, 1, name="conv1")
        self.conv2 = ScaledWSConv2D(out_channels, out_channels, 3, 1, 1, name="conv2")
        self.transition = stride != 1 or in_channels != out_channels
        self.shortcut = (
            ScaledWSConv2D(in_channels, out_channels, 1, stride, name="shortcut")
            if self.transition
            else None
        )

    def build(self, input_shape):
        self.conv1.build((*tuple(input_shape)[:-1][:1], None, None, input_shape[-1]))
        self.conv2.build((None, None, None, self.conv1.filters))
        if self.shortcut is not None:
            self.shortcut.build((None, None, None, input_shape[-1]))

    def call(self, h):
        out = tf.nn.relu(h / self.beta) * NF_RELU_GAIN
        s = self.shortcut(out) if self.shortcut is not None else h
        out = self.conv2(tf.nn.relu(self.conv1(out)) * NF_RELU_GAIN)
        return s + self.alpha * out


class NFResNet(keras.Sequential):
    """The CIFAR-style normalizer-free ResNet of the PyTorch twin as a ``keras.Sequential``: stem,
    ``3n`` :class:`NFBlock` layers (``block{i}``), ``gamma relu``, global pool, ``fc`` (zeros)."""

    def __init__(
        self,
        depth: int,
        num_classes: int = 10,
        alpha: float = 0.2,
        in_channels: int = 3,
        widths: Sequence[int] = (16, 32, 64),
        input_size: int | None = 32,
        **kwargs,
    ):
        n = blocks_per_stage(depth)
        widths = validate.positive_ints("widths", widths, length=3)
        in_channels = validate.positive_int("in_channels", in_channels)
        num_classes = validate.positive_int("num_classes", num_classes)
        betas = iter(nf_expected_stds([n] * 3, alpha))
        layers: list = [
            keras.Input((input_size, input_size, in_channels)),
            ScaledWSConv2D(in_channels, widths[0], 3, 1, 1, name="stem"),
        ]
        inplanes, i = widths[0], 0
        for s, planes in enumerate(widths):
            for b in range(n):
                stride = 2 if (s > 0 and b == 0) else 1
                layers.append(
                    NFBlock(inplanes, planes, stride, alpha, next(betas), name=f"block{i}")
                )
                inplanes, i = planes, i + 1
        layers += [
            keras.layers.Lambda(_gamma_relu, name="final_act"),
            keras.layers.GlobalAveragePooling2D(name="avgpool"),
            keras.layers.Dense(num_classes, kernel_initializer="zeros", name="fc"),
        ]
        kwargs.setdefault("name", f"nf_resnet{depth}")
        super().__init__(layers, **kwargs)
        self.alpha = validate.number("alpha", alpha, low=0.0)


def nf_cifar_resnet(
    depth: int,
    num_classes: int = 10,
    alpha: float = 0.2,
    in_channels: int = 3,
    input_size: int | None = 32,
) -> NFResNet:
    """A normalizer-free CIFAR ResNet of ``depth = 6n + 2`` layers (widths 16, 32, 64)."""
    return NFResNet(depth, num_classes, alpha, in_channels, input_size=input_size)
