"""Chapter 4 solutions in Keras: residual blocks (NHWC)."""

import keras


class BasicBlock(keras.layers.Layer):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + x); ``training`` goes on to both BNs."""

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.conv1 = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False)
        self.bn1 = keras.layers.BatchNormalization()
        self.conv2 = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False)
        self.bn2 = keras.layers.BatchNormalization()

    def call(self, x, training=None):
        out = keras.ops.relu(self.bn1(self.conv1(x), training=training))
        out = self.bn2(self.conv2(out), training=training)
        return keras.ops.relu(out + x)


class Bottleneck(keras.layers.Layer):
    """relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + x), NHWC; ``training`` goes on to every BN."""

    def __init__(self, inplanes: int, planes: int, **kwargs):
        super().__init__(**kwargs)
        self.conv1 = keras.layers.Conv2D(planes, 1, use_bias=False)
        self.bn1 = keras.layers.BatchNormalization()
        self.conv2 = keras.layers.Conv2D(planes, 3, padding="same", use_bias=False)
        self.bn2 = keras.layers.BatchNormalization()
        self.conv3 = keras.layers.Conv2D(4 * planes, 1, use_bias=False)
        self.bn3 = keras.layers.BatchNormalization()

    def call(self, x, training=None):
        out = keras.ops.relu(self.bn1(self.conv1(x), training=training))
        out = keras.ops.relu(self.bn2(self.conv2(out), training=training))
        return keras.ops.relu(self.bn3(self.conv3(out), training=training) + x)


def shortcut_a(x, out_channels: int, stride: int):
    """Option A (NHWC): keep every stride-th pixel, append out_channels - C channels of zeros (last axis)."""
    x = x[:, ::stride, ::stride, :]
    return keras.ops.pad(x, ((0, 0), (0, 0), (0, 0), (0, out_channels - x.shape[-1])))
