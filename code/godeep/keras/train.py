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
through a traced inference pass. ``with reuse_traced_steps(False):`` runs the original loop.
Two models count as one architecture when their layers have the same classes and attributes
(names aside) and their variables the same shapes; a layer attribute of an unknown kind (a
closure, an arbitrary object) makes the model an architecture of its own.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
from collections import OrderedDict
from contextlib import contextmanager
from itertools import islice
from typing import Any, Optional

import numpy as np

from . import tf
import keras

from ..train import (History, batches, check_eval_args, check_fit_args, check_fit_data, epoch_plan,  # noqa: F401
                     log_epoch, progress, progress_enabled)
from .clipping import check_clip, clip_by_global_norm, clip_by_value
from .models import weight_layers

__all__ = ["History", "fit", "evaluate", "progress", "progress_enabled", "reuse_traced_steps", "clear_step_cache"]


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
    return _evaluate_with(lambda xb: model(xb, training=False), model.inputs[0].dtype, x, y, loss, batch_size)


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


def _clipped(grads: list, clip: Optional[tuple]) -> list:
    """``grads`` clipped as ``clip`` says: ``None``, ``("norm", c)`` (the numbers of the optimizers'
    ``global_clipnorm=c``) or ``("value", v)`` (``clipvalue=v``); a ``None`` gradient stays ``None``."""
    if clip is None:
        return grads
    present = [g for g in grads if g is not None]
    kind, c = clip
    done = iter(clip_by_global_norm(present, c)[0] if kind == "norm" else clip_by_value(present, c))
    return [None if g is None else next(done) for g in grads]


def _make_step(model: keras.Model, opt, fn, variables, autograph: bool = True, clip: Optional[tuple] = None):
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
_CACHE: "OrderedDict[tuple, _Trainer]" = OrderedDict()
CACHE_SIZE = 6  # architectures kept (a traced ResNet-56 step holds some tens of MB)

# attributes of a Keras layer that do not change what its call computes: names, bookkeeping
_IGNORED = frozenset(
    "name _name _path _parent_path _tracker _auto_config _call_signature call_signature_parameters "
    "_inbound_nodes _outbound_nodes _functional _input_tensor _layers _trainable_variables "
    "_non_trainable_variables _seed_generators _losses _losses_override _metrics _tracked _loss_ids "
    "_call_context_args _call_has_context_arg _build_shapes_dict _lock _called build quantize "
    "_self_update_uid _saved_model_arg_spec _saved_model_inputs_spec _input_spec".split()
)


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


def _layers_of(model) -> list:
    """``model`` and every layer inside it, depth first, each once."""
    out, seen, stack = [], set(), [model]
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        out.append(layer)
        stack.extend(reversed(list(getattr(layer, "_layers", ()))))
    return out


def _token(value: Any, index: dict) -> Any:
    """A hashable description of an attribute's value; an unknown object is described by its id
    (so that two models differing in it never share a step)."""
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return (type(value).__name__, value)
    if isinstance(value, keras.layers.Layer):
        return ("layer", index[id(value)]) if id(value) in index else ("object", id(value))
    if isinstance(value, (keras.Variable, tf.Variable)):
        return ("variable", tuple(value.shape), str(value.dtype), bool(value.trainable))
    if isinstance(value, keras.initializers.Initializer):
        return ("initializer",)  # used when the model is built, not in its training step
    if isinstance(value, keras.DTypePolicy):
        return ("policy", value.name)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_token(v, index) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((repr(k), _token(v, index)) for k, v in value.items())))
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted(repr(_token(v, index)) for v in value)))
    if isinstance(value, np.generic):
        return ("scalar", value.dtype.str, value.item())
    if isinstance(value, np.ndarray) or tf.is_tensor(value) and not isinstance(value, keras.KerasTensor):
        array = np.asarray(value)
        return ("array", array.dtype.str, array.shape, array.tobytes())
    if isinstance(value, functools.partial):
        return ("partial", _token(value.func, index), _token(value.args, index), _token(value.keywords, index))
    if isinstance(value, type):
        return ("class", value.__module__, value.__qualname__)
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
        name = getattr(value, "__qualname__", "")
        if "<" not in name and not getattr(value, "__closure__", None):  # a module-level function
            return ("function", value.__module__, name)
    return ("object", id(value))


def _architecture(model: keras.Model) -> tuple:
    """What the traced step of ``model`` depends on, less the values of its variables: every
    layer's class and attributes (not its name), and every variable's shape and dtype."""
    layers = _layers_of(model)
    index = {id(layer): i for i, layer in enumerate(layers)}
    described = []
    for layer in layers:
        attrs = tuple(
            (key, _token(value, index))
            for key, value in sorted(vars(layer).items())
            if key not in _IGNORED and not key.startswith("_self_")
        )
        described.append((type(layer).__module__, type(layer).__qualname__, attrs))
    variables = tuple((tuple(v.shape), str(v.dtype), bool(v.trainable)) for v in model.variables)
    return tuple(described), variables


class _Trainer:
    """One architecture's master model, its optimizer and its traced training step."""

    def __init__(self, model: keras.Model, optimizer: str, lr: float, momentum: float, loss: str,
                 clip: Optional[tuple] = None):
        self.model = model
        self.opt = _optimizer(optimizer, lr, momentum)
        self.variables = model.trainable_variables
        self.opt.build(self.variables)
        # without AutoGraph: tracing takes a third less time (5.5 -> 3.8 s CPU for ResNet-56) and
        # emits the same ops, since AutoGraph does not convert the calls of Keras layers anyway
        # (Python control flow on a tensor in a layer fails with it too)
        self.step = _make_step(model, self.opt, _loss_fn(loss), self.variables, autograph=False, clip=clip)
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
            self.forward = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True, autograph=False)
        with _grappler_off():
            return self.forward(xb)

    @contextmanager
    def borrowed(self, model: Optional[keras.Model] = None):
        """Use the master for ``model`` (``None``: for an evaluation), restoring its values after."""
        if model is self.model:
            yield
            return
        saved = [v.numpy() for v in self.model.variables]
        try:
            if model is not None:
                for dst, src in zip(self.model.variables, model.variables):
                    dst.assign(src)
            yield
            if model is not None:
                for src, dst in zip(self.model.variables, model.variables):
                    dst.assign(src)
        finally:
            for dst, value in zip(self.model.variables, saved):
                dst.assign(value)

    def reset_optimizer(self, lr: float) -> None:
        """The state of a new optimizer: zero slots and step count, the learning rate ``lr``."""
        for v in self.opt.variables:
            v.assign(tf.zeros_like(v))
        self.opt.learning_rate = lr

    def evaluate(self, values: list, data, loss: str) -> tuple[tuple[float, float], Optional[tuple[float, float]]]:
        """Training (and test) loss and accuracy of the master holding ``values``."""
        with self.borrowed():
            for dst, value in zip(self.model.variables, values):
                dst.assign(value)
            dtype = self.model.inputs[0].dtype
            forward = self._forward
            try:
                train = _evaluate_with(forward, dtype, data.x_train, data.y_train, loss)
            except Exception:  # a model that cannot be traced for inference: evaluate eagerly, as before
                self.traced_forward = False
                forward = self._forward
                train = _evaluate_with(forward, dtype, data.x_train, data.y_train, loss)
            test = None
            if data.x_test is not None and len(data.x_test):
                test = _evaluate_with(forward, dtype, data.x_test, data.y_test, loss)
        return train, test


@contextmanager
def _grappler_off():
    """TensorFlow's graph optimizer off for the functions called within, on this thread only.

    A function call carries its thread's options (a ``ConfigProto``), and an instantiation is
    kept per options: the block swaps in a copy of the options with the meta-optimizer
    disabled and then puts back the very same options object, so the functions instantiated
    outside (the training steps) are neither touched nor instantiated again. Changing the
    global ``tf.config.optimizer`` options instead makes the next call of every traced step
    instantiate it again (2.7 s for ResNet-56).
    """
    from tensorflow.core.protobuf import config_pb2
    from tensorflow.python.eager import context

    ctx = context.context()
    previous = ctx.function_call_options
    config = config_pb2.ConfigProto()
    config.ParseFromString(previous.config_proto_serialized)
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    ctx.function_call_options = context.FunctionCallOptions(executor_type=previous.executor_type, config_proto=config)
    try:
        yield
    finally:
        ctx.function_call_options = previous


def _trainer(model: keras.Model, optimizer: str, lr: float, momentum: float, loss: str,
             clip: Optional[tuple] = None) -> _Trainer:
    key = (_architecture(model), optimizer, float(momentum), loss, clip)  # the clip is traced into the step
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

    The weights at each epoch's end are kept; ``train_loss``, ``train_acc``, ``test_loss`` and
    ``test_acc`` evaluate them (all pending epochs at once) the first time one is read. A
    notebook that reads only ``step_loss`` thus pays no evaluation at all.
    """

    def __init__(self) -> None:
        self._pending: list = []
        super().__init__()

    def __eq__(self, other) -> bool:  # equal to a History holding the same values
        if not isinstance(other, History):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name) for f in dataclasses.fields(History))

    __hash__ = None  # as the dataclass: mutable, unhashable

    def __repr__(self) -> str:
        return "History(" + ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(History)) + ")"

    def _add(self, trainer: _Trainer, data, loss: str) -> None:
        self._pending.append((trainer, [v.numpy() for v in trainer.model.variables], data, loss))

    def _settle(self) -> None:
        pending, self._pending = self._pending, []
        for trainer, values, data, loss in pending:
            (tl, ta), test = trainer.evaluate(values, data, loss)
            self._values["train_loss"].append(tl)
            self._values["train_acc"].append(ta)
            if test is not None:
                self._values["test_loss"].append(test[0])
                self._values["test_acc"].append(test[1])


def _lazy_field(name: str) -> property:
    def get(self):
        if self._pending:
            self._settle()
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
    desc: Optional[str] = None,
    steps: Optional[int] = None,
    eval_epochs: bool = True,
    clip_grad_norm: Optional[float] = None,
    clip_grad_value: Optional[float] = None,
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
    check_fit_args(epochs, lr, batch_size, optimizer, loss, steps, eval_epochs, momentum=momentum, seed=seed)
    check_fit_data(data)
    clip_norm, clip_value = check_clip(clip_grad_norm, clip_grad_value)
    clip = ("norm", clip_norm) if clip_norm is not None else ("value", clip_value) if clip_value is not None else None
    _check_model(model, train=True)
    if not _REUSE:
        return _fit_uncached(model, data, epochs, lr, batch_size, optimizer, momentum, loss, seed, monitor, desc, steps, eval_epochs,
                             clip)
    trainer = _trainer(model, optimizer, lr, momentum, loss, clip)
    with trainer.borrowed(model):
        trainer.reset_optimizer(lr)
        kernels = dict(zip(weight_layers(model), trainer.kernels)) if monitor is not None else {}
        history = _LazyHistory()
        _loop(trainer.step, trainer.variables, kernels, model.inputs[0].dtype, data, epochs, batch_size, loss, seed, monitor, desc, steps,
              (lambda: history._add(trainer, data, loss)) if eval_epochs else None, history)
    return history


def _loop(train_step, variables, kernels, dtype, data, epochs, batch_size, loss, seed, monitor, desc, steps, end_of_epoch, history) -> None:
    """The minibatch loop of :func:`fit`; ``end_of_epoch()`` (if given) runs after each whole epoch."""
    x_all = np.asarray(data.x_train)
    y_all = np.asarray(data.y_train)
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
        if end_of_epoch is not None and step + 1 == (epoch + 1) * steps_per_epoch:
            end_of_epoch()


def _fit_uncached(model, data, epochs, lr, batch_size, optimizer, momentum, loss, seed, monitor, desc, steps, eval_epochs,
                  clip=None) -> History:
    """:func:`fit` as it was first written: a new optimizer and a new traced step at every call,
    each epoch evaluated at once. Kept as the reference of ``tests/test_keras_speedups.py``."""
    opt = _optimizer(optimizer, lr, momentum)
    variables = model.trainable_variables
    opt.build(variables)
    train_step = _make_step(model, opt, _loss_fn(loss), variables, clip=clip)
    kernels = weight_layers(model) if monitor is not None else {}
    history = History()
    _loop(train_step, variables, kernels, model.inputs[0].dtype, data, epochs, batch_size, loss, seed, monitor, desc, steps,
          (lambda: log_epoch(history, evaluate, model, data, loss)) if eval_epochs else None, history)
    return history
