"""A short, readable training loop in TensorFlow/Keras: the twin of :func:`godeep.train.fit`.

A custom loop with ``tf.GradientTape`` rather than ``model.fit`` so that every step is
visible and matches the PyTorch loop: the same minibatch order (:func:`godeep.train.batches`),
the same update rules (SGD with momentum written as ``v <- mu v + g; W <- W - eta v``, which
Keras' ``SGD`` matches for a constant learning rate; Adam with PyTorch's ``eps = 1e-8``
instead of Keras' default 1e-7), the same losses, averaged over the batch. Keras' Adam adds
``eps`` to the uncorrected ``sqrt(v)`` where PyTorch adds it to the bias-corrected one, so the two
steps differ where a gradient is as small as ``eps`` (a few 1e-8); for exact parity see the
written-out Adam of :func:`godeep.keras.transformer.train_on_task`.

Speed, with the same numbers (``tests/test_keras_speedups.py``): the traced step is kept per
architecture and reused by every later model of that architecture (tracing costs seconds at
depth 56), and the per-epoch evaluations run when the history's evaluation lists are first read,
through a traced inference pass, one split at a time (reading ``test_acc`` evaluates the test
set only). Other training loops share a step per architecture through :func:`shared_step`
(the Transformer's :func:`godeep.keras.transformer.train_on_task`). ``with
reuse_traced_steps(False):`` runs the original loop.
Two models count as one architecture when their layers have the same classes and attributes
(names aside) and their variables the same shapes; a layer attribute of an unknown kind (a
closure, an arbitrary object) makes the model an architecture of its own.
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from contextlib import contextmanager
from itertools import islice
from typing import Any

import keras
import numpy as np

from ...train import (  # noqa: F401
    History,
    batches,
    check_eval_args,
    check_fit_args,
    check_fit_data,
    epoch_plan,
    log_epoch,
    progress,
    progress_enabled,
)
from .. import tf
from ..clipping import check_clip, clip_by_global_norm, clip_by_value
from ..models import weight_layers
from ._reuse import (  # noqa: F401
    architecture as _architecture,
    borrowed as _borrowed,
    grappler_off as _grappler_off,
)

__all__ = [
    "History",
    "fit",
    "evaluate",
    "progress",
    "progress_enabled",
    "batches",
    "check_eval_args",
    "check_fit_args",
    "check_fit_data",
    "epoch_plan",
    "log_epoch",
    "reuse_traced_steps",
    "clear_step_cache",
    "shared_step",
]


def _loss_fn(loss: str):
    # functional forms, averaged here: they keep the model's dtype (Loss classes cast to float32)
    if loss == "cross_entropy":
        return lambda y, out: tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(y, out, from_logits=True)
        )
    return lambda y, out: tf.reduce_mean(tf.square(tf.cast(y, out.dtype) - out))


def _check_model(model, train: bool = False) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    if not getattr(model, "inputs", None):
        raise ValueError(f"model {model.name!r} has no known input: build it from a keras.Input")
    if train and not model.trainable_variables:
        raise ValueError(f"model {model.name!r} has no trainable weights")


def evaluate(
    model: keras.Model, x, y, loss: str = "cross_entropy", batch_size: int = 1024
) -> tuple[float, float]:
    """Mean loss and accuracy (NaN for ``mse``) of ``model`` on ``(x, y)`` in inference mode."""
    check_eval_args(x, y, loss, batch_size)
    _check_model(model)
    return _evaluate_with(
        lambda xb: model(xb, training=False), model.inputs[0].dtype, x, y, loss, batch_size
    )


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


def _clipped(grads: list, clip: tuple | None) -> list:
    """``grads`` clipped as ``clip`` says: ``None``, ``("norm", c)`` (the numbers of the optimizers'
    ``global_clipnorm=c``) or ``("value", v)`` (``clipvalue=v``); a ``None`` gradient stays ``None``."""
    if clip is None:
        return grads
    present = [g for g in grads if g is not None]
    kind, c = clip
    done = iter(clip_by_global_norm(present, c)[0] if kind == "norm" else clip_by_value(present, c))
    return [None if g is None else next(done) for g in grads]


def _make_step(
    model: keras.Model, opt, fn, variables, autograph: bool = True, clip: tuple | None = None
):
    """The training step, traced by ``tf.function`` at its first call (and per new batch shape).

    ``clip`` (see :func:`_clipped`) is applied inside the traced step; the step returns the
    gradients before clipping (what a monitor logs, as in PyTorch's loop)."""

    @tf.function(reduce_retracing=True, autograph=autograph)
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            batch_loss = fn(yb, model(xb, training=True))
        grads = tape.gradient(batch_loss, variables)
        opt.apply_gradients(zip(_clipped(grads, clip), variables))
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
            model, self.opt, _loss_fn(loss), self.variables, autograph=False, clip=clip
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


class _LazyHistory(History):
    """A :class:`History` whose per-epoch evaluations run when first read.

    The weights at each epoch's end are kept; ``train_loss`` and ``train_acc`` evaluate them on
    the training set (all pending epochs at once) the first time one of them is read,
    ``test_loss`` and ``test_acc`` on the test set. A notebook that reads only ``step_loss``
    thus pays no evaluation at all, one that reads only the test accuracy no training-set pass.
    """

    def __init__(self) -> None:
        self._pending: dict[str, list] = {"train": [], "test": []}
        super().__init__()

    def __eq__(self, other) -> bool:  # equal to a History holding the same values
        if not isinstance(other, History):
            return NotImplemented
        return all(
            getattr(self, f.name) == getattr(other, f.name) for f in dataclasses.fields(History)
        )

    __hash__ = None  # as the dataclass: mutable, unhashable

    def __repr__(self) -> str:
        return (
            "History("
            + ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(History))
            + ")"
        )

    def _add(self, trainer: _Trainer, data, loss: str) -> None:
        entry = (trainer, [v.numpy() for v in trainer.model.variables], data, loss)
        self._pending["train"].append(entry)
        if data.x_test is not None and len(data.x_test):
            self._pending["test"].append(entry)

    def _settle(self, split: str) -> None:
        pending, self._pending[split] = self._pending[split], []
        while (
            pending
        ):  # the epochs of one fit share its trainer, data and loss: one swap for them all
            trainer, _, data, loss = pending[0]
            n = next(
                (
                    i
                    for i, p in enumerate(pending)
                    if p[0] is not trainer or p[2] is not data or p[3] != loss
                ),
                len(pending),
            )
            for value, accuracy in trainer.evaluate([p[1] for p in pending[:n]], data, loss, split):
                self._values[f"{split}_loss"].append(value)
                self._values[f"{split}_acc"].append(accuracy)
            pending = pending[n:]


def _lazy_field(name: str) -> property:
    split = name.split("_")[0]

    def get(self):
        if self._pending[split]:
            self._settle(split)
        return self._values[name]

    def set(self, value):
        self.__dict__.setdefault("_values", {})[name] = value

    return property(get, set, doc=f"History.{name}, evaluated when first read")


for _name in ("train_loss", "train_acc", "test_loss", "test_acc"):
    setattr(_LazyHistory, _name, _lazy_field(_name))
del _name


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
    desc: str | None = None,
    steps: int | None = None,
    eval_epochs: bool = True,
    clip_grad_norm: float | None = None,
    clip_grad_value: float | None = None,
) -> History:
    """Train a Keras ``model`` on ``data``; same arguments and result as :func:`godeep.train.fit`.

    ``clip_grad_norm=c`` scales each step's gradients by ``c / max(n, c)`` (``n`` their global
    norm: the optimizers' ``global_clipnorm=c``, see :mod:`godeep.keras.clipping`; PyTorch divides by
    ``n + 1e-6``), ``clip_grad_value=v`` clips each component into ``[-v, v]`` (``clipvalue=v``);
    the clip is part of the traced step, and of the key under which it is kept.

    The optimizer's slots are created (``opt.build``) before the step is traced, so that
    ``tf.function`` traces it once rather than twice. The traced step is kept per architecture
    (see :func:`reuse_traced_steps`): training a new model of an architecture trained before
    reuses it, with the same numbers. The per-epoch evaluations run when the history's
    ``train_loss``, ``train_acc``, ``test_loss`` or ``test_acc`` is first read.
    """
    check_fit_args(
        epochs, lr, batch_size, optimizer, loss, steps, eval_epochs, momentum=momentum, seed=seed
    )
    check_fit_data(data)
    clip_norm, clip_value = check_clip(clip_grad_norm, clip_grad_value)
    clip = (
        ("norm", clip_norm)
        if clip_norm is not None
        else ("value", clip_value)
        if clip_value is not None
        else None
    )
    _check_model(model, train=True)
    if not _REUSE:
        return _fit_uncached(
            model,
            data,
            epochs,
            lr,
            batch_size,
            optimizer,
            momentum,
            loss,
            seed,
            monitor,
            desc,
            steps,
            eval_epochs,
            clip,
        )
    trainer = _trainer(model, optimizer, lr, momentum, loss, clip)
    with trainer.borrowed(model):
        trainer.reset_optimizer(lr)
        kernels = dict(zip(weight_layers(model), trainer.kernels)) if monitor is not None else {}
        history = _LazyHistory()
        _loop(
            trainer.step,
            trainer.variables,
            kernels,
            model.inputs[0].dtype,
            data,
            epochs,
            batch_size,
            loss,
            seed,
            monitor,
            desc,
            steps,
            (lambda: history._add(trainer, data, loss)) if eval_epochs else None,
            history,
        )
    return history


def _loop(
    train_step,
    variables,
    kernels,
    dtype,
    data,
    epochs,
    batch_size,
    loss,
    seed,
    monitor,
    desc,
    steps,
    end_of_epoch,
    history,
) -> None:
    """The minibatch loop of :func:`fit`; ``end_of_epoch()`` (if given) runs after each whole epoch."""
    x_all = np.asarray(data.x_train)
    y_all = np.asarray(data.y_train)
    n = len(x_all)
    steps_per_epoch = math.ceil(n / batch_size)
    epochs, total = epoch_plan(n, batch_size, epochs, steps)
    index_of = {id(v): i for i, v in enumerate(variables)}
    for step, (epoch, idx) in enumerate(
        progress(islice(batches(n, batch_size, epochs, seed), total), total=total, desc=desc)
    ):
        xb = tf.convert_to_tensor(x_all[idx], dtype=dtype)
        yb = tf.convert_to_tensor(y_all[idx], dtype=dtype if loss == "mse" else None)
        logging = monitor is not None and monitor.wants(step)
        if logging:
            before = {name: layer.kernel.numpy() for name, layer in kernels.items()}
        batch_loss, grads = train_step(xb, yb)
        if logging:
            grad_norm = {
                name: float(tf.norm(grads[index_of[id(layer.kernel)]]))
                for name, layer in kernels.items()
            }
            update = {
                name: float(np.linalg.norm(layer.kernel.numpy() - before[name]))
                for name, layer in kernels.items()
            }
            weight = {name: float(np.linalg.norm(before[name])) for name in kernels}
            monitor.log(step, grad_norm, weight, update)
        history.step_loss.append(float(batch_loss))
        if end_of_epoch is not None and step + 1 == (epoch + 1) * steps_per_epoch:
            end_of_epoch()


def _fit_uncached(
    model,
    data,
    epochs,
    lr,
    batch_size,
    optimizer,
    momentum,
    loss,
    seed,
    monitor,
    desc,
    steps,
    eval_epochs,
    clip=None,
) -> History:
    """:func:`fit` as it was first written: a new optimizer and a new traced step at every call,
    each epoch evaluated at once. Kept as the reference of ``tests/test_keras_speedups.py``."""
    opt = _optimizer(optimizer, lr, momentum)
    variables = model.trainable_variables
    opt.build(variables)
    train_step = _make_step(model, opt, _loss_fn(loss), variables, clip=clip)
    kernels = weight_layers(model) if monitor is not None else {}
    history = History()
    _loop(
        train_step,
        variables,
        kernels,
        model.inputs[0].dtype,
        data,
        epochs,
        batch_size,
        loss,
        seed,
        monitor,
        desc,
        steps,
        (lambda: log_epoch(history, evaluate, model, data, loss)) if eval_epochs else None,
        history,
    )
    return history
