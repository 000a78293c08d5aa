"""Chapter 1 solutions in Keras: measuring signals and gradients layer by layer."""

import keras
import tensorflow as tf


def activation_stds(model: keras.Sequential, x) -> list[float]:
    """Std of every Activation layer's output on ``x``, first to last (the layers run one by one)."""
    stds: list[float] = []
    h = x
    for layer in model.layers:
        h = layer(h)
        if isinstance(layer, keras.layers.Activation):
            stds.append(float(keras.ops.std(h)))
    return stds


def weight_grad_norms(model: keras.Sequential, x, y) -> list[float]:
    """||dL/dW_l||_F of every Dense kernel, first to last, for L = mean((model(x) - y)^2)."""
    kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    with tf.GradientTape() as tape:
        loss = keras.ops.mean((model(x) - y) ** 2)
    return [float(keras.ops.norm(g)) for g in tape.gradient(loss, kernels)]


def tanh_saturation(h) -> float:
    """Fraction of tanh outputs ``h`` whose slope 1 - h^2 is below 0.05."""
    return float(keras.ops.mean(keras.ops.cast(1 - h**2 < 0.05, "float32")))
