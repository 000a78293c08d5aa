"""A short, readable training loop in TensorFlow/Keras: the twin of :func:`godeep.train.fit`.

A custom loop with ``tf.GradientTape`` rather than ``model.fit`` so that every step is
visible and matches the PyTorch loop: the same minibatch order (:func:`godeep.train.batches`),
the same update rules (SGD with momentum written as ``v <- mu v + g; W <- W - eta v``, which
Keras' ``SGD`` matches for a constant learning rate; Adam with PyTorch's ``eps = 1e-8``
instead of Keras' default 1e-7), the same losses, averaged over the batch. Keras' Adam adds
``eps`` to the uncorrected ``sqrt(v)`` where PyTorch adds it to the bias-corrected one, so the two
steps differ where a gradient is as small as ``eps`` (a few 1e-8); for exact parity see the
written-out Adam of :func:`godeep.keras.transformer.train_on_task`.
"""

from __future__ import annotations

import math
from itertools import islice
from typing import Optional

import numpy as np

from . import tf
import keras

from ..train import (History, batches, check_eval_args, check_fit_args, check_fit_data, epoch_plan,  # noqa: F401
                     log_epoch, progress, progress_enabled)
from .models import weight_layers

__all__ = ["History", "fit", "evaluate", "progress", "progress_enabled"]


def _loss_fn(loss: str):
    # functional forms, averaged here: they keep the model's dtype (Loss classes cast to float32)
    if loss == "cross_entropy":
        return lambda y, out: tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, out, from_logits=True))
    return lambda y, out: tf.reduce_mean(tf.square(tf.cast(y, out.dtype) - out))


def _check_model(model, train: bool = False) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    if not getattr(model, "inputs", None):
        raise ValueError(f"model {model.name!r} has no known input: build it from a keras.Input")
    if train and not model.trainable_variables:
        raise ValueError(f"model {model.name!r} has no trainable weights")


def evaluate(model: keras.Model, x, y, loss: str = "cross_entropy", batch_size: int = 1024) -> tuple[float, float]:
    """Mean loss and accuracy (NaN for ``mse``) of ``model`` on ``(x, y)`` in inference mode."""
    check_eval_args(x, y, loss, batch_size)
    _check_model(model)
    dtype = model.inputs[0].dtype
    total, correct, n = 0.0, 0, len(x)
    for start in range(0, n, batch_size):
        xb = tf.convert_to_tensor(x[start : start + batch_size], dtype=dtype)
        yb = np.asarray(y[start : start + batch_size])
        out = model(xb, training=False)
        if loss == "cross_entropy":
            per_example = keras.losses.sparse_categorical_crossentropy(yb, out, from_logits=True)
            total += float(tf.reduce_sum(per_example))
            correct += int(np.sum(np.argmax(np.asarray(out), axis=1) == yb))
        else:
            total += float(tf.reduce_sum(tf.square(tf.cast(yb, out.dtype) - out)))
    if loss == "mse":
        return total / np.size(y), math.nan
    return total / n, correct / n


def fit(
    model: keras.Model,
    data,
    epochs: int = 10,
    lr: float = 0.1,
    batch_size: int = 64,
    optimizer: str = "sgd",
    momentum: float = 0.0,
    loss: str = "cross_entropy",
    seed: int = 0,
    monitor=None,
    desc: Optional[str] = None,
    steps: Optional[int] = None,
    eval_epochs: bool = True,
) -> History:
    """Train a Keras ``model`` on ``data``; same arguments and result as :func:`godeep.train.fit`.

    The optimizer's slots are created (``opt.build``) before the step is traced, so that
    ``tf.function`` traces it once rather than twice.
    """
    check_fit_args(epochs, lr, batch_size, optimizer, loss, steps, eval_epochs, momentum=momentum, seed=seed)
    check_fit_data(data)
    _check_model(model, train=True)
    opt = (
        keras.optimizers.SGD(learning_rate=lr, momentum=momentum)
        if optimizer == "sgd"
        else keras.optimizers.Adam(learning_rate=lr, epsilon=1e-8)
    )
    fn = _loss_fn(loss)
    dtype = model.inputs[0].dtype
    kernels = weight_layers(model) if monitor is not None else {}
    x_all = np.asarray(data.x_train)
    y_all = np.asarray(data.y_train)
    variables = model.trainable_variables
    opt.build(variables)

    @tf.function(reduce_retracing=True)
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            batch_loss = fn(yb, model(xb, training=True))
        grads = tape.gradient(batch_loss, variables)
        opt.apply_gradients(zip(grads, variables))
        return batch_loss, grads

    history = History()
    n = len(x_all)
    steps_per_epoch = math.ceil(n / batch_size)
    epochs, total = epoch_plan(n, batch_size, epochs, steps)
    index_of = {id(v): i for i, v in enumerate(variables)}
    for step, (epoch, idx) in enumerate(progress(islice(batches(n, batch_size, epochs, seed), total), total=total, desc=desc)):
        xb = tf.convert_to_tensor(x_all[idx], dtype=dtype)
        yb = tf.convert_to_tensor(y_all[idx], dtype=dtype if loss == "mse" else None)
        logging = monitor is not None and monitor.wants(step)
        if logging:
            before = {name: layer.kernel.numpy() for name, layer in kernels.items()}
        batch_loss, grads = train_step(xb, yb)
        if logging:
            grad_norm = {name: float(tf.norm(grads[index_of[id(layer.kernel)]])) for name, layer in kernels.items()}
            update = {name: float(np.linalg.norm(layer.kernel.numpy() - before[name])) for name, layer in kernels.items()}
            weight = {name: float(np.linalg.norm(before[name])) for name in kernels}
            monitor.log(step, grad_norm, weight, update)
        history.step_loss.append(float(batch_loss))
        if eval_epochs and step + 1 == (epoch + 1) * steps_per_epoch:
            log_epoch(history, evaluate, model, data, loss)
    return history
