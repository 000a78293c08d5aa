"""Chapter 5 solutions in Keras: the pre-activation block and ReZero (NHWC)."""

import keras


class PreActBlock(keras.layers.Layer):
    """x + conv2(relu(bn2(conv1(relu(bn1(x)))))); ``training`` goes on to both BNs."""

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.bn1 = keras.layers.BatchNormalization()
        self.conv1 = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False)
        self.bn2 = keras.layers.BatchNormalization()
        self.conv2 = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False)

    def call(self, x, training=None):
        out = self.conv1(keras.ops.relu(self.bn1(x, training=training)))
        out = self.conv2(keras.ops.relu(self.bn2(out, training=training)))
        return x + out


class ReZero(keras.layers.Layer):
    """x + alpha * sublayer(x), with one trainable scalar alpha that starts at 0."""

    def __init__(self, sublayer: keras.layers.Layer, **kwargs):
        super().__init__(**kwargs)
        self.sublayer = sublayer
        self.alpha = self.add_weight(shape=(), initializer="zeros", name="alpha")

    def call(self, x):
        return x + self.alpha * self.sublayer(x)


def filter_normalize(direction, weight):
    """Li et al.'s filter normalization: each filter d_i of the direction rescaled to ||w_i||.

    A Keras kernel is (kh, kw, in, out) or (in, out): filter i is ``weight[..., i]`` (the last axis).
    """
    axes = tuple(range(len(weight.shape) - 1))
    d_norm = keras.ops.sqrt(keras.ops.sum(direction**2, axis=axes, keepdims=True))
    w_norm = keras.ops.sqrt(keras.ops.sum(weight**2, axis=axes, keepdims=True))
    return direction / (d_norm + 1e-10) * w_norm


def path_block(x, branch, through_branch: bool):
    """x + branch(x) in the forward pass; backward only through the branch, or only the shortcut."""
    if through_branch:
        return keras.ops.stop_gradient(x) + branch(x)
    return x + keras.ops.stop_gradient(branch(x))
