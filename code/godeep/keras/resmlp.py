"""Fully connected residual networks and their plain twins in Keras: the twin of :mod:`godeep.resmlp`.

Same layer names as the PyTorch modules: ``inp``, ``block{l}.norm`` (BatchNormalization with
PyTorch's epsilon 1e-5 and momentum 0.1, i.e. Keras ``momentum=0.9``), ``block{l}.act``,
``block{l}.fc``, ``block{l}.add`` (the shortcut's sum; residual nets only), ``out``. The
residual stream ``x_l`` is the output of ``block{l}.add`` (residual) or ``block{l}.fc`` (plain).
Every block ends in a weightless :class:`BlockOutput` layer (``block{l}.add``; in a plain net
``block{l}.out``, which passes ``block{l}.fc`` on) that holds the block's two switches, as
PyTorch's ``Block`` does: ``deleted`` (the lesion of :class:`godeep.keras.signals.Lesioned`) and
``route`` (the single-path gradients of :func:`path_gradient_norms`).
Weights copy across with :func:`godeep.keras.models.copy_from_torch`. With ``branch_scale`` a
:class:`BranchScale` layer ``block{l}.scale`` multiplies each branch by a learnable scalar
``alpha`` (ReZero / SkipInit when it starts at 0), as ``Block.alpha`` does in PyTorch; with
``zero_init_residual`` every ``block{l}.fc`` starts at zero (Fixup's zero-initialized last layer).
With ``stochastic_depth_prob > 0`` a :class:`godeep.keras.residual.StochasticDepth` layer
``block{l}.drop`` drops the branch in training (``training=True``), as ``Block.drop`` does.
"""

from __future__ import annotations

from collections import OrderedDict

import keras
import numpy as np

from ..core.models import check_architecture, check_dtype
from ..core.resmlp import (
    ROUTES,
    check_branch_scale,
    check_flags,
    check_path_args,
    check_stochastic_depth_prob,
    check_zero_init,
    drop_rates,
    route_random_path,
)
from . import tf
from .models import Init, _initializer
from .residual.stochastic_depth import StochasticDepth
from .train._reuse import grappler_off as _grappler_off

__all__ = [
    "BlockOutput",
    "BranchScale",
    "residual_mlp",
    "stream_layers",
    "blocks",
    "path_gradient_norms",
]


class BlockOutput(keras.layers.Layer):
    """The end of block ``l``: from ``[x_{l-1}, F(x_{l-1})]``, the stream ``x_l``.

        x_l = x_{l-1} + F(x_{l-1})   (residual),      x_l = F(x_{l-1})   (plain)

    Two switches, plain Python attributes read each time the layer is called (eagerly, as
    :func:`godeep.keras.train.evaluate` does; a ``tf.function`` traced earlier keeps the old
    graph): ``deleted`` (``True``: ``x_l = x_{l-1}``, the block is lesioned, residual or plain,
    as replacing PyTorch's ``Block`` by ``nn.Identity`` does) and ``route``, which changes only
    the backward pass of a residual block, as ``godeep.resmlp.Block.route`` does: ``"both"``,
    ``"branch"`` (``stop_gradient(x) + F(x)``) or ``"shortcut"`` (``x + stop_gradient(F(x))``).
    """

    def __init__(self, residual: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.residual = bool(residual)
        self.deleted = False
        self.route = "both"

    def call(self, inputs):
        x, branch = inputs
        if self.deleted:
            return x
        if not self.residual:
            return branch
        if tf.is_tensor(self.route):  # 1.0: "branch", 0.0: "shortcut" (path_gradient_norms' trace)
            # the same value bit for bit (one term is multiplied by 0, the other by 1), and the
            # gradient of the route's term only, so that one trace serves every path
            through = keras.ops.cast(self.route, x.dtype)
            return through * (keras.ops.stop_gradient(x) + branch) + (1 - through) * (
                x + keras.ops.stop_gradient(branch)
            )
        if self.route == "branch":  # same value; the gradient flows back through F only
            return keras.ops.stop_gradient(x) + branch
        if (
            self.route == "shortcut"
        ):  # same value; the gradient flows back through the identity only
            return x + keras.ops.stop_gradient(branch)
        if self.route != "both":
            raise ValueError(f"route must be one of {ROUTES}, got {self.route!r}")
        return x + branch

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self) -> dict:
        return {**super().get_config(), "residual": self.residual}


class BranchScale(keras.layers.Layer):
    """``alpha * x`` with one learnable scalar ``alpha`` that starts at ``value`` (ReZero: 0)."""

    def __init__(self, value: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.value = float(value)

    def build(self, input_shape) -> None:
        self.alpha = self.add_weight(
            name="alpha",
            shape=(),
            initializer=keras.initializers.Constant(self.value),
            trainable=True,
        )

    def call(self, x):
        return self.alpha * x

    def get_config(self) -> dict:
        return {**super().get_config(), "value": self.value}


def residual_mlp(
    in_features: int,
    width: int,
    depth: int,
    out_features: int,
    plain: bool = False,
    batch_norm: bool = False,
    init: Init = None,
    bias: bool = True,
    dtype: str = "float32",
    branch_scale=None,
    zero_init_residual: bool = False,
    stochastic_depth_prob: float = 0.0,
    stochastic_depth_mode: str = "row",
) -> keras.Model:
    """A residual MLP or its plain twin; see :func:`godeep.resmlp.residual_mlp`.

    With stochastic depth each ``block{l}.drop`` layer owns a ``keras.random.SeedGenerator``
    seeded from Python's ``random`` when the model is built: call
    :func:`godeep.seed_everything` first for reproducible drops.
    """
    check_dtype(dtype)
    check_architecture(in_features, width, depth, out_features, "relu")
    check_flags(plain=plain, batch_norm=batch_norm, bias=bias)
    branch_scale = check_branch_scale(branch_scale, plain)
    zero_init_residual = check_zero_init(zero_init_residual, plain)
    stochastic_depth_prob = check_stochastic_depth_prob(
        stochastic_depth_prob, plain, stochastic_depth_mode
    )
    rates = drop_rates(stochastic_depth_prob, depth)
    _initializer(init)  # validate before building
    dense = lambda units, name, zero=False: keras.layers.Dense(
        units,
        use_bias=bias,
        kernel_initializer="zeros" if zero else _initializer(init),
        name=name,
        dtype=dtype,
    )
    inputs = keras.Input(shape=(in_features,), dtype=dtype)
    x = dense(width, "inp")(inputs)
    for l in range(1, depth + 1):
        h = x
        if batch_norm:
            h = keras.layers.BatchNormalization(
                epsilon=1e-5, momentum=0.9, name=f"block{l}.norm", dtype=dtype
            )(h)
        h = keras.layers.Activation("relu", name=f"block{l}.act", dtype=dtype)(h)
        h = dense(width, f"block{l}.fc", zero=zero_init_residual)(h)
        if branch_scale is not None:
            h = BranchScale(branch_scale, name=f"block{l}.scale", dtype=dtype)(h)
        if rates[l - 1] > 0:
            h = StochasticDepth(
                rates[l - 1], stochastic_depth_mode, name=f"block{l}.drop", dtype=dtype
            )(h)
        x = BlockOutput(
            residual=not plain, name=f"block{l}.{'out' if plain else 'add'}", dtype=dtype
        )([x, h])
    outputs = dense(out_features, "out")(x)
    return keras.Model(inputs, outputs, name=f"{'plain' if plain else 'residual'}_mlp{depth}")


def stream_layers(model: keras.Model) -> list[str]:
    """Names of the layers whose outputs are the residual stream ``x_1 ... x_L``."""
    names = [l.name for l in model.layers]
    adds = [n for n in names if n.endswith(".add")]
    return adds if adds else [n for n in names if n.startswith("block") and n.endswith(".fc")]


def blocks(model: keras.Model) -> OrderedDict[str, BlockOutput]:
    """The blocks of a :func:`residual_mlp`, in order, by name (``block1``, ...).

    The twin of :func:`godeep.resmlp.blocks`: each block is represented by its
    :class:`BlockOutput` layer, which carries the block's switches ``deleted`` and ``route``.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    found = OrderedDict(
        (layer.name.rsplit(".", 1)[0], layer)
        for layer in model.layers
        if isinstance(layer, BlockOutput)
    )
    if not found:
        raise ValueError(
            "model has no BlockOutput layers: build it with godeep.keras.resmlp.residual_mlp"
        )
    return found


def path_gradient_norms(
    model: keras.Model, x, y, length: int, samples: int = 10, seed: int = 0
) -> np.ndarray:
    """Norms of the gradient that reaches the input along single paths of ``length`` branches.

    The twin of :func:`godeep.resmlp.path_gradient_norms` (Veit et al. 2016, Sec. 5), with
    the same random paths for the same ``seed``: the batch goes forward through the whole
    residual network (inference mode, ``training=False``); on the way back, only the branches
    of ``length`` random blocks and only the shortcuts of the others pass the gradient
    (``tf.stop_gradient`` on the other term of each sum, :class:`BlockOutput`). Returns, for
    each of ``samples`` paths, ``||dE/dx||`` at the input, ``E`` the cross-entropy averaged
    over the batch. The blocks' routes are restored afterwards, even on error.
    """
    found = list(blocks(model).values())
    labels = check_path_args(found, x, y, length, samples, seed, model.outputs[0].shape[-1])
    rng = np.random.default_rng(seed)
    inputs = tf.convert_to_tensor(np.asarray(x), dtype=model.inputs[0].dtype)
    expected = tuple(model.inputs[0].shape[1:])
    if tuple(inputs.shape[1:]) != expected:  # the traced call would fail later, less clearly
        raise ValueError(
            f"x has rows of shape {tuple(inputs.shape[1:])}, the model expects {expected}"
        )
    targets = tf.convert_to_tensor(labels)
    norms = np.empty(samples)
    gradient_norm = _path_gradient_fn(model)
    try:
        for s in range(samples):
            route_random_path(found, length, rng)
            through = tf.constant([float(b.route == "branch") for b in found])
            with _grappler_off():  # the eager call's kernels, the eager call's numbers
                norms[s] = float(gradient_norm(inputs, targets, through))
    finally:
        for b in found:
            b.route = "both"
    return norms


def _path_gradient_fn(model: keras.Model):
    """``(x, y, through) -> ||dE/dx||`` for ``model``, traced once and kept on the model.

    ``through[l]`` is 1 where block ``l`` passes the gradient through its branch, 0 where
    through its shortcut: the routes are an input of the trace, not Python switches, so one
    trace serves every path (an eager call per path costs 20 times more for 54 blocks). The
    blocks' ``deleted`` switches are traced in: one trace per set of deleted blocks.
    """
    found = list(blocks(model).values())
    traces = model.__dict__.get("_godeep_path_gradient")
    if traces is None:
        traces = {}
        object.__setattr__(model, "_godeep_path_gradient", traces)  # not tracked by Keras
    key = tuple(b.deleted for b in found)
    fn = traces.get(key)
    if fn is None:

        def gradient_norm(inputs, targets, through):
            try:
                for i, b in enumerate(found):
                    b.route = through[i]
                with tf.GradientTape() as tape:
                    tape.watch(inputs)
                    logits = model(inputs, training=False)
                    loss = tf.reduce_mean(
                        keras.losses.sparse_categorical_crossentropy(
                            targets, logits, from_logits=True
                        )
                    )
                return tf.norm(tape.gradient(loss, inputs))
            finally:
                for b in found:
                    b.route = "both"

        fn = traces[key] = tf.function(gradient_norm, reduce_retracing=True, autograph=False)
    return fn
