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
set only); the traced step's optimizer update is written out with its scalars computed once
(:func:`._update.apply_update`: Keras' SGD and Adam arithmetic, bit for bit, in fewer graph ops,
so a new architecture's step traces and first runs faster). Other training loops share a step
per architecture through :func:`shared_step`
(the Transformer's :func:`godeep.keras.transformer.train_on_task`). ``with
reuse_traced_steps(False):`` runs the original loop.
Two models count as one architecture when their layers have the same classes and attributes
(names aside), the same wiring (a functional model's graph is compared by the positions of its
layers, not by the identity of its tensors) and their variables the same shapes; a layer
attribute of an unknown kind (a closure, an arbitrary object) makes the model an architecture
of its own.
"""

from __future__ import annotations

import dataclasses
import math
from itertools import islice

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
from ..clipping import check_clip, check_fit_agc
from ..models import weight_layers
from . import _steps
from ._reuse import (  # noqa: F401
    architecture as _architecture,
    borrowed as _borrowed,
    grappler_off as _grappler_off,
)
from ._steps import (  # noqa: F401  (the step cache, read by the tests)
    _CACHE,
    _SHARED,
    CACHE_SIZE,
    _evaluate_with,
    _loss_fn,
    _make_step,
    _optimizer,
    _Trainer,
    _trainer,
    clear_step_cache,
    reuse_traced_steps,
    shared_step,
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


#: The most weight snapshots (MB) a lazy history keeps after its fit; above, it evaluates at once.
LAZY_LIMIT_MB = 16


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

    def _settle_if_large(self) -> None:
        """Evaluate now when the kept weights exceed ``LAZY_LIMIT_MB``: a notebook that keeps
        many histories of large nets would otherwise hold a copy of every epoch's weights
        (same values either way: the evaluation is only moved earlier)."""
        kept = {id(p[1]): p[1] for split in self._pending.values() for p in split}
        if sum(w.nbytes for ws in kept.values() for w in ws) > LAZY_LIMIT_MB * 2**20:
            for split in ("train", "test"):
                if self._pending[split]:
                    self._settle(split)

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
    agc: float | None = None,
) -> History:
    """Train a Keras ``model`` on ``data``; same arguments and result as :func:`godeep.train.fit`.

    ``clip_grad_norm=c`` scales each step's gradients by ``c / max(n, c)`` (``n`` their global
    norm: the optimizers' ``global_clipnorm=c``, see :mod:`godeep.keras.clipping`; PyTorch divides by
    ``n + 1e-6``), ``clip_grad_value=v`` clips each component into ``[-v, v]`` (``clipvalue=v``);
    ``agc=l`` clips adaptively (Brock et al. 2021b, Eq. 3, :func:`godeep.keras.clipping.adaptive_clip`)
    every variable but the final classifier's (:func:`godeep.keras.clipping.classifier_split`);
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
    agc = check_fit_agc(agc, clip_norm, clip_value)
    clip = (
        ("norm", clip_norm)
        if clip_norm is not None
        else ("value", clip_value)
        if clip_value is not None
        else ("agc", agc)
        if agc is not None
        else None
    )
    _check_model(model, train=True)
    if not _steps._REUSE:
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
    history._settle_if_large()
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
