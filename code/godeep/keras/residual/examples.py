"""The Keras dense residual blocks and small residual ConvNet; see :mod:`godeep.residual.examples`."""

from __future__ import annotations

from typing import Sequence

from .. import tf
import keras

from ...core.residual import check_article_convnet
from ...validate import positive_int as _check_positive_int
from .blocks import BN_EPSILON, BN_MOMENTUM, Add, _bn


class DenseResidualBlock(keras.layers.Layer):
    """``y = relu(BN(W2 relu(BN(W1 x))) + x)``; see :class:`godeep.residual.DenseResidualBlock`."""

    def __init__(self, features: int, *, shortcut: bool = True, zero_init_residual: bool = False,
                 bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        _check_positive_int("features", features)
        if zero_init_residual and not shortcut:
            raise ValueError("zero_init_residual=True would silence a plain block (shortcut=False)")
        self.features, self.shortcut = features, bool(shortcut)
        self.fc1 = keras.layers.Dense(features, use_bias=bias, name="fc1")
        self.bn1 = _bn("bn1")
        self.fc2 = keras.layers.Dense(features, use_bias=bias, name="fc2")
        self.bn2 = _bn("bn2", zero=zero_init_residual)

    def build(self, input_shape):
        self.fc1.build(input_shape)
        self.bn1.build(input_shape)
        self.fc2.build(input_shape)
        self.bn2.build(input_shape)

    def call(self, x, training=None):
        out = tf.nn.relu(self.bn1(self.fc1(x), training=training))
        out = self.bn2(self.fc2(out), training=training)
        if self.shortcut:
            out = out + x
        return tf.nn.relu(out)


def dense_resnet(features: int, blocks: int, plain: bool = False, zero_init_residual: bool = False) -> keras.Sequential:
    """``blocks`` :class:`DenseResidualBlock` s named ``block1 .. blockN``; see :func:`godeep.residual.dense_resnet`."""
    _check_positive_int("blocks", blocks)
    layers = [keras.Input(shape=(features,))]
    layers += [DenseResidualBlock(features, shortcut=not plain, zero_init_residual=zero_init_residual, name=f"block{i + 1}")
               for i in range(blocks)]
    return keras.Sequential(layers, name=f"dense_{'plain' if plain else 'resnet'}{blocks}")


def residual_block(x, units: int):
    """A functional Keras residual block of two Dense layers, each BN before its ReLU:
    ``relu(BN(Dense(relu(BN(Dense(x))))) + x)`` (the shortcut needs ``units``
    equal to the input's width). The PyTorch twin is :class:`godeep.residual.DenseResidualBlock`."""
    if x.shape[-1] != units:
        raise ValueError(f"the identity shortcut needs units == input width, got {units} and {x.shape[-1]}")
    shortcut = x
    x = keras.layers.Dense(units)(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM)(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Dense(units)(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM)(x)
    x = keras.layers.Add()([x, shortcut])
    return keras.layers.Activation("relu")(x)


class ConvResidualBlock(keras.layers.Layer):
    """A convolutional residual block ``relu(conv2(relu(conv1(x))) + x)``, convs with biases, no BN."""

    def __init__(self, channels: int, kernel_size: int = 3, *, shortcut: bool = True, **kwargs):
        super().__init__(**kwargs)
        _check_positive_int("channels", channels)
        self.shortcut = bool(shortcut)
        self.conv1 = keras.layers.Conv2D(channels, kernel_size, padding="same", name="conv1")
        self.conv2 = keras.layers.Conv2D(channels, kernel_size, padding="same", name="conv2")

    def build(self, input_shape):
        self.conv1.build(input_shape)
        self.conv2.build(self.conv1.compute_output_shape(input_shape))

    def call(self, x):
        out = self.conv2(tf.nn.relu(self.conv1(x)))
        if self.shortcut:
            out = out + x
        return tf.nn.relu(out)


def mnist_residual_convnet(in_channels: int = 1, image_size: int = 28, num_classes: int = 10,
                    widths: Sequence[int] = (32, 64), hidden: int = 128, residual: bool = True) -> keras.Sequential:
    """A small residual ConvNet for MNIST (NHWC, logits out); see :func:`godeep.residual.mnist_residual_convnet`."""
    w1, w2 = check_article_convnet(in_channels, image_size, num_classes, widths, hidden, residual)
    return keras.Sequential([
        keras.Input(shape=(image_size, image_size, in_channels)),
        keras.layers.Conv2D(w1, 3, padding="same", activation="relu", name="conv1"),
        ConvResidualBlock(w1, shortcut=residual, name="block1"),
        keras.layers.MaxPooling2D(2, name="pool1"),
        keras.layers.Conv2D(w2, 3, padding="same", activation="relu", name="conv2"),
        ConvResidualBlock(w2, shortcut=residual, name="block2"),
        keras.layers.MaxPooling2D(2, name="pool2"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(hidden, activation="relu", name="fc1"),
        keras.layers.Dense(num_classes, name="fc2"),
    ], name="mnist_residual_convnet" if residual else "mnist_plain_convnet")
