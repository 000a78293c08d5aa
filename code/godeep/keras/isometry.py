"""Orthogonal initialization and dynamical isometry in TensorFlow/Keras: the twin of :mod:`godeep.isometry`.

Keras keeps the output axis last (``Dense.kernel`` ``(in, out)``, ``Conv2D.kernel``
``(kh, kw, in, out)``), so a kernel is viewed as the ``rows x cols`` matrix with
``rows = prod(shape[:-1])`` (the fan-in) and ``cols = shape[-1]``, and filled with a
(semi-)orthogonal ``Q`` (Saxe et al. 2014): ``A ~ N(0, 1)`` of shape ``(max, min)``,
``A = Q R``, ``Q <- Q diag(sign(diag(R)))`` (Haar-distributed, Mezzadri 2007), transposed if
``rows < cols``, times ``gain``. That is ``keras.initializers.Orthogonal``'s construction.

**Same seed, same draw?** :class:`Orthogonal` follows :mod:`godeep.keras.init`: each instance owns
a ``keras.random.SeedGenerator``, so successive calls (one per layer) give *different*
matrices, where ``keras.initializers.Orthogonal(seed=s)`` returns the same matrix at every call.
The *first* call of ``Orthogonal(seed=s)`` equals ``keras.initializers.Orthogonal(seed=s)``'s
draw (``tests/test_isometry.py`` checks both halves of this sentence); no Keras draw equals
PyTorch's for any seed (different generators).

:func:`jacobian_singular_values` computes the per-example input-output Jacobian with
``tf.GradientTape.batch_jacobian`` and its singular values (Pennington et al. 2017).
"""

from __future__ import annotations

import math
import numbers

import keras

from .. import validate
from . import tf

__all__ = ["Orthogonal", "orthogonal_", "jacobian_singular_values"]


@keras.saving.register_keras_serializable(package="godeep")
class Orthogonal(keras.initializers.Initializer):
    """Kernel = ``gain`` times a (semi-)orthogonal matrix over ``(prod(shape[:-1]), shape[-1])``."""

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0
        ):
            raise ValueError(f"seed must be None or a non-negative int, got {seed!r}")
        self.gain = validate.number("gain", gain)
        self.seed = None if seed is None else int(seed)
        self._generator = keras.random.SeedGenerator(self.seed)

    def __call__(self, shape, dtype=None):
        shape = tuple(int(d) for d in shape)
        if len(shape) < 2:
            raise ValueError(
                f"the shape to initialize must have at least 2 dimensions, got {shape}"
            )
        if 0 in shape:
            return keras.ops.zeros(shape, dtype=dtype)
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = keras.random.normal(
            (max(rows, cols), min(rows, cols)), dtype=dtype, seed=self._generator
        )
        q, r = keras.ops.qr(a)
        q = q * keras.ops.sign(keras.ops.diag(r))
        if rows < cols:
            q = keras.ops.transpose(q)
        return self.gain * keras.ops.reshape(q, shape)

    def get_config(self) -> dict:
        return {"gain": self.gain, "seed": self.seed}


def orthogonal_(variable, gain: float = 1, seed: int | None = None):
    """Refill a Keras variable (e.g. ``layer.kernel``) in place with an :class:`Orthogonal` draw."""
    if not hasattr(variable, "assign") or not hasattr(variable, "shape"):
        raise TypeError(
            f"variable must be a keras.Variable (e.g. layer.kernel), got {type(variable).__name__}"
        )
    if len(variable.shape) < 2:
        raise ValueError(
            f"variable must have at least 2 dimensions, got shape {tuple(variable.shape)}"
        )
    variable.assign(Orthogonal(gain, seed)(tuple(variable.shape), dtype=variable.dtype))
    return variable


def jacobian_singular_values(model, x):
    """Singular values ``(N, min(out, in))`` of ``J_i = d model(x_i) / d x_i`` for every example, descending.

    ``model`` runs in inference mode (``training=False``) and must treat examples independently.
    """
    if not callable(model):
        raise TypeError(f"model must be a Keras model or layer, got {type(model).__name__}")
    if not (tf.is_tensor(x) or hasattr(x, "__array__")):
        raise TypeError(f"x must be a tensor or an array, got {type(x).__name__}")
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise TypeError(f"x must be floating-point, got dtype {x.dtype.name}")
    if x.shape.rank < 2 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty batch (N, ...), got shape {tuple(x.shape)}")
    n = x.shape[0]
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reshape(model(x, training=False), (n, -1))
    jac = tape.batch_jacobian(y, x)  # (N, out, *input)
    return tf.linalg.svd(tf.reshape(jac, (n, jac.shape[1], -1)), compute_uv=False)
