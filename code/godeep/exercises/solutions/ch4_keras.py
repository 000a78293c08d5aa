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
