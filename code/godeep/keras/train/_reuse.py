"""What a traced Keras step depends on, and how a master model lends it: for :mod:`godeep.keras.train`.

:func:`architecture` describes a model less the values of its variables (two models with the
same description can run each other's traced step); :func:`borrowed` lends a master model's
variables to another model's values; :func:`grappler_off` runs traced functions without
TensorFlow's graph optimizer.
"""

from __future__ import annotations

import functools
import types
from contextlib import contextmanager
from typing import Any

import keras
import numpy as np

from .. import tf

try:  # the node of a layer call in a functional model's graph (Keras 3)
    from keras.src.ops.node import Node as _Node
except ImportError:  # pragma: no cover - another Keras layout: nodes are described by id
    _Node = type("_NoNode", (), {})

# attributes of a Keras layer that do not change what its call computes: names, bookkeeping
_IGNORED = frozenset(
    "name _name _path _parent_path _tracker _auto_config _call_signature call_signature_parameters "
    "_inbound_nodes _outbound_nodes _functional _input_tensor _layers _trainable_variables "
    "_non_trainable_variables _seed_generators _losses _losses_override _metrics _tracked _loss_ids "
    "_call_context_args _call_has_context_arg _build_shapes_dict _lock _called build quantize "
    "_self_update_uid _saved_model_arg_spec _saved_model_inputs_spec _input_spec _godeep_train_steps "
    "_godeep_path_gradient output_names "
    # a functional model's set of node keys, strings made of object ids: its graph is described
    # by _nodes_by_depth, _inputs and _outputs (see _token's KerasTensor and Node)
    "_nodes".split()
)


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
    (so that two models differing in it never share a step).

    The graph of a functional model (its input and output ``KerasTensor``s, the ``Node``s of
    its layer calls) is described by position, not by identity: described by id, every
    functional model would be an architecture of its own, and each would keep a traced step
    and its master model alive in the step cache (about 100 MB per 50-block residual MLP).
    """
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return (type(value).__name__, value)
    if isinstance(value, keras.KerasTensor):
        history = getattr(value, "_keras_history", None)
        made_by = (
            None
            if history is None
            else (_token(history.operation, index), history.node_index, history.tensor_index)
        )
        return ("keras_tensor", tuple(value.shape), str(value.dtype), value.sparse, made_by)
    if isinstance(value, _Node):
        arguments = value.arguments
        return (
            "node",
            _token(value.operation, index),
            _token(list(arguments.args), index),
            _token(dict(arguments.kwargs), index),
            _token(list(value.outputs), index),
        )
    if isinstance(value, keras.layers.Layer):
        return ("layer", index[id(value)]) if id(value) in index else ("object", id(value))
    if isinstance(value, (keras.Variable, tf.Variable)):
        return ("variable", tuple(value.shape), str(value.dtype), bool(value.trainable))
    if isinstance(value, keras.random.SeedGenerator):
        # what a traced random op reads is the generator's state, a variable of the model (its
        # value travels with the others, see borrowed): Dropout, StochasticDepth share steps
        return ("seed_generator",)
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
    if (
        isinstance(value, np.ndarray)
        or tf.is_tensor(value)
        and not isinstance(value, keras.KerasTensor)
    ):
        array = np.asarray(value)
        return ("array", array.dtype.str, array.shape, array.tobytes())
    if isinstance(value, functools.partial):
        return (
            "partial",
            _token(value.func, index),
            _token(value.args, index),
            _token(value.keywords, index),
        )
    if isinstance(value, type):
        return ("class", value.__module__, value.__qualname__)
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
        name = getattr(value, "__qualname__", "")
        if "<" not in name and not getattr(value, "__closure__", None):  # a module-level function
            return ("function", value.__module__, name)
    return ("object", id(value))


def architecture(model: keras.Model) -> tuple:
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


@contextmanager
def borrowed(master: keras.Model, model: keras.Model | None):
    """Within the block ``master`` holds the values of ``model``'s variables (``None``: its own),
    and ``model`` gets the values ``master`` ends with; ``master``'s own values are restored after."""
    if model is master:
        yield
        return
    saved = [v.numpy() for v in master.variables]
    try:
        if model is not None:
            for dst, src in zip(master.variables, model.variables):
                dst.assign(src)
        yield
        if model is not None:
            for src, dst in zip(master.variables, model.variables):
                dst.assign(src)
    finally:
        for dst, value in zip(master.variables, saved):
            dst.assign(value)


@contextmanager
def grappler_off():
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
    ctx.function_call_options = context.FunctionCallOptions(
        executor_type=previous.executor_type, config_proto=config
    )
    try:
        yield
    finally:
        ctx.function_call_options = previous


# Measured and not used (December 2026): running a training step without the Grappler passes
# that leave its numbers bit-identical (layout, remapping, shape, loop, function,
# implementation selector, pin-to-host, debug stripper, memory) saved about a tenth of the
# first call (ResNet-56: 1.51 s of CPU instead of 1.64 s), too little for the risk of a
# last-bit change in a configuration no test covers; arithmetic optimization, common-subgraph
# elimination, constant folding and dependency optimization each change some course step's
# losses when turned off, and so does running the passes once instead of twice (an AGC step,
# a step traced for any batch size), though that halves the first call.
# Also measured and not used: the whole graph optimizer off for training steps (as for the
# inference pass, grappler_off). The first call is shorter (ResNet-20: 0.4-0.6 s instead of
# 0.7 s; ResNet-56: 1.1-1.6 s instead of 2.6-2.7 s), but every later step is slower (ResNet-56:
# 54-62 ms instead of 51-52 ms): over the 100-400 steps of a run of 4.1 that costs about as
# much as it saves, or more; and the numbers change (see above).
