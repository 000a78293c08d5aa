"""Traced training steps and their reuse across models of one architecture.

A Keras training step is a ``tf.function`` (loss, gradients, optional clip, optimizer update);
tracing it costs seconds for a deep ResNet, so :func:`_trainer` keeps one step per
architecture, optimizer and clip (``CACHE_SIZE`` of them) and lends it to every later model of
that architecture, whose weights it borrows for the run (:mod:`._reuse`).
:func:`reuse_traced_steps` turns the reuse off (each model traces its own step) and
:func:`clear_step_cache` forgets every kept step. :func:`shared_step` is the same reuse for a
training loop that is not :func:`godeep.keras.train.fit` (the Transformer's).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any

import keras
import numpy as np

from .. import tf
from ..clipping import adaptive_clip, classifier_split, clip_by_global_norm, clip_by_value
from ..models import weight_layers
from ._reuse import (
    architecture as _architecture,
    borrowed as _borrowed,
    grappler_off as _grappler_off,
)
from ._update import apply_update


def _loss_fn(loss: str):
    # functional forms, averaged here: they keep the model's dtype (Loss classes cast to float32)
    if loss == "cross_entropy":
        return lambda y, out: tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(y, out, from_logits=True)
        )
    return lambda y, out: tf.reduce_mean(tf.square(tf.cast(y, out.dtype) - out))


def _evaluate_with(forward, dtype, x, y, loss: str, batch_size: int = 1024) -> tuple[float, float]:
    total, correct, n = 0.0, 0, len(x)
    for start in range(0, n, batch_size):
        xb = tf.convert_to_tensor(x[start : start + batch_size], dtype=dtype)
        yb = np.asarray(y[start : start + batch_size])
        out = forward(xb)
        if loss == "cross_entropy":
            per_example = keras.losses.sparse_categorical_crossentropy(yb, out, from_logits=True)
            total += float(tf.reduce_sum(per_example))
            correct += int(np.sum(np.argmax(np.asarray(out), axis=1) == yb))
        else:
            total += float(tf.reduce_sum(tf.square(tf.cast(yb, out.dtype) - out)))
    if loss == "mse":
        return total / np.size(y), math.nan
    return total / n, correct / n


def _optimizer(optimizer: str, lr: float, momentum: float):
    if optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=momentum)
    return keras.optimizers.Adam(learning_rate=lr, epsilon=1e-8)


def _clipped(grads: list, clip: tuple | None, variables=(), unclipped=frozenset()) -> list:
    """``grads`` clipped as ``clip`` says: ``None``, ``("norm", c)`` (the numbers of the optimizers'
    ``global_clipnorm=c``), ``("value", v)`` (``clipvalue=v``) or ``("agc", l)`` (adaptive
    clipping, Eq. 3 of Brock et al. 2021b, of each gradient against its variable in ``variables``,
    except those whose ``id`` is in ``unclipped``); a ``None`` gradient stays ``None``."""
    if clip is None:
        return grads
    kind, c = clip
    if kind == "agc":
        pairs = [
            (i, g, v)
            for i, (g, v) in enumerate(zip(grads, variables))
            if g is not None and id(v) not in unclipped
        ]
        out = list(grads)
        if pairs:
            done = adaptive_clip([g for _, g, _ in pairs], [v for _, _, v in pairs], c)
            for (i, _, _), g in zip(pairs, done):
                out[i] = g
        return out
    present = [g for g in grads if g is not None]
    done = iter(clip_by_global_norm(present, c)[0] if kind == "norm" else clip_by_value(present, c))
    return [None if g is None else next(done) for g in grads]


def _make_step(
    model: keras.Model,
    opt,
    fn,
    variables,
    autograph: bool = True,
    clip: tuple | None = None,
    lean: bool = False,
):
    """The training step, traced by ``tf.function`` at its first call (and per new batch shape).

    ``clip`` (see :func:`_clipped`) is applied inside the traced step; the step returns the
    gradients before clipping (what a monitor logs, as in PyTorch's loop). ``lean``: the update
    is :func:`._update.apply_update` (the same numbers as ``opt.apply_gradients`` in fewer ops)."""

    def update(o, g, v):
        if lean:  # fused SGD ops where no clip scales the gradients in the graph (see apply_update)
            apply_update(o, g, v, fused=clip is None)
        else:
            o.apply_gradients(zip(g, v))

    unclipped = (
        frozenset(id(v) for v in classifier_split(model)[1])
        if clip is not None and clip[0] == "agc"
        else frozenset()
    )

    @tf.function(reduce_retracing=True, autograph=autograph)
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            batch_loss = fn(yb, model(xb, training=True))
        grads = tape.gradient(batch_loss, variables)
        update(opt, _clipped(grads, clip, variables, unclipped), variables)
        return batch_loss, grads

    return train_step


# ------------------------------------------------------------------ one traced step per architecture
#
# Tracing the step of a deep model costs seconds (6 s for ResNet-56 on one core), more than its
# training. A notebook trains a fresh model of the same architecture for every seed, so fit
# keeps, per architecture, the first model it trained (the "master"), its optimizer and its
# traced step: a later model of the same architecture has its variables copied into the master,
# trains there (the same graph, the same ops, in the same order: the same numbers), and gets
# the trained variables back. The optimizer's state is reset as a new optimizer starts.

_REUSE = True
_CACHE: OrderedDict[tuple, _Trainer] = OrderedDict()
CACHE_SIZE = 6  # architectures kept (a traced ResNet-56 step holds some tens of MB)


@contextmanager
def reuse_traced_steps(enabled: bool = True):
    """Within the block, :func:`fit` does (``True``, the default) or does not reuse traced steps.

    ``False`` is the original code path: a new optimizer and a newly traced step at every call
    (and the per-epoch evaluation done at once, eagerly). The numbers are the same either way
    (``tests/test_keras_speedups.py``); only the time differs.
    """
    global _REUSE
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be a bool, got {type(enabled).__name__}")
    previous, _REUSE = _REUSE, enabled
    try:
        yield
    finally:
        _REUSE = previous


def clear_step_cache() -> None:
    """Forget every kept master model, optimizer and traced step."""
    _CACHE.clear()
    _SHARED.clear()


class _Trainer:
    """One architecture's master model, its optimizer and its traced training step."""

    def __init__(
        self,
        model: keras.Model,
        optimizer: str,
        lr: float,
        momentum: float,
        loss: str,
        clip: tuple | None = None,
    ):
        self.model = model
        self.opt = _optimizer(optimizer, lr, momentum)
        self.variables = model.trainable_variables
        self.opt.build(self.variables)
        # without AutoGraph: tracing takes a third less time (5.5 -> 3.8 s CPU for ResNet-56) and
        # emits the same ops, since AutoGraph does not convert the calls of Keras layers anyway
        # (Python control flow on a tensor in a layer fails with it too)
        self.step = _make_step(
            model, self.opt, _loss_fn(loss), self.variables, autograph=False, clip=clip, lean=True
        )
        self.kernels = list(weight_layers(model).values())
        self.forward = None  # the traced inference pass, made at the first evaluation
        self.traced_forward = True

    def _forward(self, xb):
        """``model(xb, training=False)``, traced once per architecture (and batch shape).

        Run without Grappler: the graph then executes the very kernels that the eager call
        executes, with the same numbers (with Grappler, fused kernels change the last bits),
        in a fraction of the time of eager Keras (0.2 s instead of 0.6 s CPU for ResNet-56
        on 1280 digits).
        """
        if not self.traced_forward:
            return self.model(xb, training=False)
        if self.forward is None:
            self.forward = tf.function(
                lambda x: self.model(x, training=False), reduce_retracing=True, autograph=False
            )
        with _grappler_off():
            return self.forward(xb)

    def borrowed(self, model: keras.Model | None = None):
        """Use the master for ``model`` (``None``: for an evaluation), restoring its values after."""
        return _borrowed(self.model, model)

    def reset_optimizer(self, lr: float) -> None:
        """The state of a new optimizer: zero slots and step count, the learning rate ``lr``."""
        for v in self.opt.variables:
            v.assign(tf.zeros_like(v))
        self.opt.learning_rate = lr

    def evaluate(self, snapshots: list, data, loss: str, split: str) -> list[tuple[float, float]]:
        """Loss and accuracy on ``data``'s ``split`` ("train" or "test") of the master holding each of
        ``snapshots`` (lists of variable values); its own values are saved and restored once."""
        x, y = (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
        dtype = self.model.inputs[0].dtype
        results = []
        with self.borrowed():
            for values in snapshots:
                for dst, value in zip(self.model.variables, values):
                    dst.assign(value)
                try:
                    results.append(_evaluate_with(self._forward, dtype, x, y, loss))
                except (
                    Exception
                ):  # a model that cannot be traced for inference: evaluate eagerly, as before
                    if not self.traced_forward:
                        raise
                    self.traced_forward = False
                    results.append(_evaluate_with(self._forward, dtype, x, y, loss))
        return results


_SHARED: OrderedDict[tuple, tuple[keras.Model, Any]] = OrderedDict()


@contextmanager
def shared_step(model: keras.Model, make_step, *key):
    """A traced step shared by every model of ``model``'s architecture (and the same ``key``).

    ``make_step(master)`` makes the step of the first model of the architecture, which becomes
    its *master*; within the block the master holds ``model``'s values, the block gets what
    ``make_step`` returned (the master's step: run it to train ``model``), and ``model`` gets the
    master's values at its end. Used by training loops other than :func:`fit` (the written-out
    Adam of :func:`godeep.keras.transformer.train_on_task`): the same graph runs on the same
    values, so the numbers are those of a step traced for ``model`` itself. Under
    ``reuse_traced_steps(False)`` every call makes a new step for ``model``.
    """
    if not _REUSE:
        yield make_step(model)
        return
    full_key = (_architecture(model), *key)
    if full_key not in _SHARED:
        _SHARED[full_key] = (model, make_step(model))
        while len(_SHARED) > CACHE_SIZE:
            _SHARED.popitem(last=False)
    _SHARED.move_to_end(full_key)
    master, step = _SHARED[full_key]
    with _borrowed(master, model):
        yield step


def _trainer(
    model: keras.Model,
    optimizer: str,
    lr: float,
    momentum: float,
    loss: str,
    clip: tuple | None = None,
) -> _Trainer:
    key = (
        _architecture(model),
        optimizer,
        float(momentum),
        loss,
        clip,
    )  # the clip is traced into the step
    trainer = _CACHE.get(key)
    if trainer is None:
        trainer = _Trainer(model, optimizer, lr, momentum, loss, clip)
        _CACHE[key] = trainer
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    _CACHE.move_to_end(key)
    return trainer
