"""Fully connected residual networks and their plain twins in Keras: the twin of :mod:`godeep.resmlp`.

Same layer names as the PyTorch modules: ``inp``, ``block{l}.norm`` (BatchNormalization with
PyTorch's epsilon 1e-5 and momentum 0.1, i.e. Keras ``momentum=0.9``), ``block{l}.act``,
``block{l}.fc``, ``block{l}.add`` (the shortcut's sum; residual nets only), ``out``. The
residual stream ``x_l`` is the output of ``block{l}.add`` (residual) or ``block{l}.fc`` (plain).
Weights copy across with :func:`godeep.keras.models.copy_from_torch`. With ``branch_scale`` a
:class:`BranchScale` layer ``block{l}.scale`` multiplies each branch by a learnable scalar
``alpha`` (ReZero / SkipInit when it starts at 0), as ``Block.alpha`` does in PyTorch.
"""

from __future__ import annotations

from . import tf  # noqa: F401  (quiet TensorFlow import)
import keras

from ..models import check_architecture
from ..resmlp import _check_branch_scale
from .models import Init, _initializer

__all__ = ["BranchScale", "residual_mlp", "stream_layers"]


class BranchScale(keras.layers.Layer):
    """``alpha * x`` with one learnable scalar ``alpha`` that starts at ``value`` (ReZero: 0)."""

    def __init__(self, value: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.value = float(value)

    def build(self, input_shape) -> None:
        self.alpha = self.add_weight(name="alpha", shape=(), initializer=keras.initializers.Constant(self.value), trainable=True)

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
) -> keras.Model:
    """A residual MLP or its plain twin; see :func:`godeep.resmlp.residual_mlp`."""
    check_architecture(in_features, width, depth, out_features, "relu")
    branch_scale = _check_branch_scale(branch_scale, plain)
    _initializer(init)  # validate before building
    dense = lambda units, name: keras.layers.Dense(units, use_bias=bias, kernel_initializer=_initializer(init), name=name, dtype=dtype)
    inputs = keras.Input(shape=(in_features,), dtype=dtype)
    x = dense(width, "inp")(inputs)
    for l in range(1, depth + 1):
        h = x
        if batch_norm:
            h = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"block{l}.norm", dtype=dtype)(h)
        h = keras.layers.Activation("relu", name=f"block{l}.act", dtype=dtype)(h)
        h = dense(width, f"block{l}.fc")(h)
        if branch_scale is not None:
            h = BranchScale(branch_scale, name=f"block{l}.scale", dtype=dtype)(h)
        x = h if plain else keras.layers.Add(name=f"block{l}.add", dtype=dtype)([x, h])
    outputs = dense(out_features, "out")(x)
    return keras.Model(inputs, outputs, name=f"{'plain' if plain else 'residual'}_mlp{depth}")


def stream_layers(model: keras.Model) -> list[str]:
    """Names of the layers whose outputs are the residual stream ``x_1 ... x_L``."""
    names = [l.name for l in model.layers]
    adds = [n for n in names if n.endswith(".add")]
    return adds if adds else [n for n in names if n.startswith("block") and n.endswith(".fc")]
