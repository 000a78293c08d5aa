"""Chapter 3 solutions in Keras: normalization by hand, and evaluating a BN network."""

import keras


def group_norm(x, num_groups: int, eps: float = 1e-5):
    """GroupNorm of an NCHW array (no affine): mean and variance over each support set S_(n,g) by einsum."""
    n, c, h, w = x.shape
    g = keras.ops.reshape(keras.ops.convert_to_tensor(x), (n, num_groups, c // num_groups, h, w))
    count = c // num_groups * h * w
    mean = keras.ops.einsum("ngchw->ng", g) / count
    centred = g - mean[:, :, None, None, None]
    var = keras.ops.einsum("ngchw,ngchw->ng", centred, centred) / count
    return keras.ops.reshape(
        centred / keras.ops.sqrt(var[:, :, None, None, None] + eps), (n, c, h, w)
    )


def bn_backward(dy, x, gamma, eps: float = 1e-5):
    """(dx, dgamma, dbeta) of y = gamma * x_hat + beta over a (N, D) batch, without autodiff.

    dx = gamma / sqrt(var + eps) * (dy - mean_n dy - x_hat * mean_n(dy * x_hat)).
    """
    mu = keras.ops.mean(x, axis=0)
    var = keras.ops.var(x, axis=0)
    x_hat = (x - mu) / keras.ops.sqrt(var + eps)
    dbeta = keras.ops.sum(dy, axis=0)
    dgamma = keras.ops.sum(dy * x_hat, axis=0)
    dx = (
        gamma
        / keras.ops.sqrt(var + eps)
        * (dy - keras.ops.mean(dy, axis=0) - x_hat * keras.ops.mean(dy * x_hat, axis=0))
    )
    return dx, dgamma, dbeta


def evaluate(model: keras.Model, x, y) -> float:
    """Accuracy in inference mode: model(x, training=False) (BN uses its moving statistics)."""
    predictions = keras.ops.argmax(model(x, training=False), axis=1)
    labels = keras.ops.cast(keras.ops.convert_to_tensor(y), predictions.dtype)
    return float(keras.ops.mean(keras.ops.cast(predictions == labels, "float32")))


class ConvBNReLU(keras.layers.Layer):
    """relu(bn(conv(x))) (NHWC); ``training`` goes on to the BN, so inference uses the moving statistics."""

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False)
        self.bn = keras.layers.BatchNormalization()

    def call(self, x, training=None):
        return keras.ops.relu(self.bn(self.conv(x), training=training))
