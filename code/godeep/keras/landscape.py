"""Loss landscapes along filter-normalized random directions (Li et al. 2018), for Keras models.

The twin of :mod:`godeep.landscape`, with the same public names and meaning. A loss surface is
the loss along one or two directions ``d1, d2`` in parameter space, around the trained
parameters ``theta``:

    f(alpha)        = L(theta + alpha d1)                      (1-D)
    f(alpha, beta)  = L(theta + alpha d1 + beta d2)            (2-D)

**Filter normalization** rescales a random direction filter by filter, so that each filter of
``d`` has the norm of the corresponding filter of ``theta``:

    d_{i,j}  <-  d_{i,j} / ||d_{i,j}|| * ||theta_{i,j}||

Convention differences from PyTorch:

* the parameters are the model's ``trainable_weights``, in Keras' order; BatchNormalization's
  moving mean and variance are non-trainable weights (PyTorch's buffers), so they are never
  perturbed, as in PyTorch;
* a filter ``j`` is a slice along the **last** axis: a Dense kernel is ``(in, out)`` and a Conv2D
  kernel ``(kh, kw, in, out)``, where PyTorch's filters are slices along the first axis of
  ``(out, in)`` and ``(out, in, kh, kw)``;
* :func:`random_direction` draws from NumPy's generator, so the same seed gives other numbers
  than in PyTorch; :func:`direction_from_torch` converts a PyTorch direction to Keras' layout
  to compare the two frameworks along the same direction;
* the surfaces restore the weights exactly (they assign the saved ``theta`` back), where the
  PyTorch module adds and subtracts the step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np

from .. import validate
from . import tf
from .convert import direction_from_torch  # noqa: F401  (re-exported)

__all__ = [
    "random_direction",
    "filter_normalize",
    "loss_surface_1d",
    "loss_surface_2d",
    "direction_from_torch",
]


def _parameters(model: keras.layers.Layer) -> list:
    """The trainable weights of ``model``: the parameters a direction moves."""
    if not isinstance(model, keras.layers.Layer):  # a keras.Model is a Layer too
        raise TypeError(f"model must be a Keras model or layer, got {type(model).__name__}")
    params = list(model.trainable_weights)
    if not params:
        raise ValueError("model has no trainable weights (build it first, e.g. by calling it once)")
    return params


def _check_direction(direction, params: list, name: str = "direction") -> list[np.ndarray]:
    """``direction`` as NumPy arrays, one per parameter, with matching shapes."""
    if not isinstance(direction, (list, tuple)):
        raise TypeError(
            f"{name} must be a list of arrays, one per trainable weight, got {type(direction).__name__}"
        )
    if len(direction) != len(params):
        raise ValueError(
            f"{name} has {len(direction)} tensors, the model has {len(params)} trainable weights (parameters)"
        )
    arrays = []
    for d, p in zip(direction, params):
        d = np.asarray(d)
        if tuple(d.shape) != tuple(p.shape):
            raise ValueError(
                f"{name} tensor of shape {tuple(d.shape)} does not match parameter of shape {tuple(p.shape)}"
            )
        arrays.append(d)
    return arrays


def _check_steps(name: str, steps) -> np.ndarray:
    return validate.finite_vector(name, steps)  # a NaN step would leave the weights NaN


def random_direction(model: keras.layers.Layer, seed: int = 0) -> list[tf.Tensor]:
    """A Gaussian random direction ``d ~ N(0, I)``, one tensor per trainable weight of ``model``
    (same shapes and dtypes), drawn from ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(validate.integer("seed", seed, low=0))
    return [
        tf.convert_to_tensor(rng.standard_normal(tuple(p.shape)), dtype=p.dtype)
        for p in _parameters(model)
    ]


def filter_normalize(
    direction: Sequence, model: keras.layers.Layer, ignore_1d: bool = True
) -> list[tf.Tensor]:
    """Rescale ``direction`` filter by filter to the norms of ``model``'s trainable weights (a new list).

    For a weight with 2 or more dimensions, each slice along the last axis (a filter: one
    output channel or output unit) is scaled to the norm of the same slice of the weight,
    ``d_j <- d_j / ||d_j|| * ||theta_j||``. One-dimensional weights (biases, BN's gamma and
    beta) get zeros if ``ignore_1d``, else are scaled as a whole to ``||theta||``.
    """
    params = _parameters(model)
    arrays = _check_direction(direction, params)
    out = []
    for d, p in zip(arrays, params):
        theta = np.asarray(p.numpy(), dtype=np.float64)
        d = d.astype(np.float64)
        if theta.ndim <= 1:
            scaled = (
                np.zeros_like(theta)
                if ignore_1d
                else d * (np.linalg.norm(theta) / (np.linalg.norm(d) + 1e-12))
            )
        else:
            d_flat, t_flat = d.reshape(-1, d.shape[-1]), theta.reshape(-1, theta.shape[-1])
            scale = np.linalg.norm(t_flat, axis=0) / (np.linalg.norm(d_flat, axis=0) + 1e-12)
            scaled = (d_flat * scale).reshape(d.shape)
        out.append(tf.convert_to_tensor(scaled, dtype=p.dtype))
    return out


def _surface(
    model: keras.layers.Layer,
    loss: Callable,
    d1: list[np.ndarray],
    d2: list[np.ndarray],
    alphas: np.ndarray,
    betas: np.ndarray,
) -> np.ndarray:
    """``values[i, j] = loss(model at theta + alphas[i] d1 + betas[j] d2)``, then ``theta``
    assigned back exactly (even on error).

    The weights are moved by one traced function per surface, ``w <- theta + a d1 + b d2`` for
    every trainable weight in a single call. ``theta``, ``d1`` and ``d2`` are flattened and
    concatenated (one vector per dtype), so a move is three element-wise operations on one
    vector, a split and the assignments, whatever the number of weights: the same numbers as
    moving each weight on its own, with fewer operations to trace and to run per grid point.
    """
    params = _parameters(model)
    theta = [tf.constant(p.numpy()) for p in params]
    groups: dict = {}  # dtype -> indices of the weights of that dtype
    for k, t in enumerate(theta):
        groups.setdefault(t.dtype, []).append(k)

    def flat(arrays: list, idx: list[int], dtype) -> tf.Tensor:
        return tf.constant(
            np.concatenate([np.ravel(arrays[k]).astype(dtype.as_numpy_dtype) for k in idx])
        )

    packed = [
        (
            idx,
            flat([t.numpy() for t in theta], idx, dtype),
            flat(d1, idx, dtype),
            flat(d2, idx, dtype),
            [int(np.prod(theta[k].shape)) for k in idx],
        )
        for dtype, idx in groups.items()
    ]
    spec = tf.TensorSpec((), tf.float64)

    @tf.function(input_signature=[spec, spec], autograph=False)
    def move(a, b):
        for idx, t, du, dv, sizes in packed:
            w = t + tf.cast(a, t.dtype) * du + tf.cast(b, t.dtype) * dv
            for k, piece in zip(idx, tf.split(w, sizes)):
                params[k].assign(tf.reshape(piece, theta[k].shape))

    values = np.empty((len(alphas), len(betas)))
    try:
        for i, a in enumerate(alphas):
            for j, b in enumerate(betas):
                move(tf.constant(a, tf.float64), tf.constant(b, tf.float64))
                values[i, j] = float(loss(model))
        return values
    finally:
        for p, t in zip(params, theta):
            p.assign(t)


def loss_surface_1d(
    model: keras.layers.Layer, loss: Callable, direction: Sequence, alphas
) -> np.ndarray:
    """``[loss(theta + alpha d) for alpha in alphas]``; ``loss(model)`` evaluates the model
    (call it with ``training=False`` yourself, so that BN uses its moving statistics).

    The trainable weights are restored exactly afterwards, also if ``loss`` raises.
    """
    validate.function("loss", loss)
    d = _check_direction(direction, _parameters(model))
    alphas = _check_steps("alphas", alphas)
    return _surface(model, loss, d, [np.zeros_like(u) for u in d], alphas, np.zeros(1))[:, 0]


def loss_surface_2d(
    model: keras.layers.Layer,
    loss: Callable,
    d1: Sequence,
    d2: Sequence,
    alphas,
    betas: Sequence[float] | None = None,
) -> np.ndarray:
    """``surface[i, j] = loss(theta + alphas[i] d1 + betas[j] d2)`` (``betas`` default to ``alphas``)."""
    validate.function("loss", loss)
    params = _parameters(model)
    u, v = _check_direction(d1, params, "d1"), _check_direction(d2, params, "d2")
    alphas = _check_steps("alphas", alphas)
    betas = alphas if betas is None else _check_steps("betas", betas)
    return _surface(model, loss, u, v, alphas, betas)
