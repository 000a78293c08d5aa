"""Chapter 5 coding exercise: filter normalization of a random direction (Section 5.5), in
PyTorch or Keras."""

from __future__ import annotations

import numpy as np

from .. import Feedback, correct, exercise, framework_of, wrong


def _filter_solution():
    from ..solutions.ch5_torch import filter_normalize

    return filter_normalize


def _filter_keras_solution():
    from ..solutions.ch5_keras import filter_normalize

    return filter_normalize


def _normalized(d: np.ndarray, w: np.ndarray, axes: tuple) -> np.ndarray:
    return d / np.sqrt((d**2).sum(axes, keepdims=True)) * np.sqrt((w**2).sum(axes, keepdims=True))


def _check_filter_normalize(fn) -> Feedback:
    from ..native import to_numpy

    if not callable(fn) or isinstance(fn, type):
        return wrong(
            "give a function: def filter_normalize(direction, weight): ... returning the normalized direction."
        )
    keras_answer = framework_of(fn) == "keras"
    rng = np.random.default_rng(5)
    for shape in ((8, 4, 3, 3), (6, 10)):
        w = rng.standard_normal(shape) * rng.random((shape[0],) + (1,) * (len(shape) - 1)) * 3
        d = rng.standard_normal(shape)
        if keras_answer:  # Keras layout: (kh, kw, in, out) or (in, out)
            w, d = (np.ascontiguousarray(np.moveaxis(a, 0, -1)) for a in (w, d))
            filter_axes, layout = (
                tuple(range(len(shape) - 1)),
                "the last axis (Keras kernels are (kh, kw, in, out))",
            )
            args = (d.copy(), w.copy())
        else:
            import torch

            filter_axes, layout = (
                tuple(range(1, len(shape))),
                "dim 0 (PyTorch weights are (out, in, kh, kw))",
            )
            args = (torch.as_tensor(d), torch.as_tensor(w))
        out = fn(*args)
        if out is None:
            return Feedback(
                False,
                "your function returns None: return the normalized direction.",
                answered=False,
            )
        try:
            got = to_numpy(out)
        except TypeError as error:
            return wrong(f"{error}: return a tensor of the weight's shape.")
        expected = _normalized(d, w, filter_axes)
        if got.shape != expected.shape:
            return wrong(
                f"the direction must keep the weight's shape {expected.shape}, got {got.shape}."
            )
        if np.allclose(got, expected, rtol=1e-4, atol=1e-6):
            continue
        everything = tuple(range(d.ndim))
        if np.allclose(got, _normalized(d, w, everything), rtol=1e-4, atol=1e-6):
            return wrong(
                "you normalized the whole layer at once (layer normalization of the direction): Li "
                "et al. rescale each filter on its own, ||d_i|| = ||w_i||."
            )
        if np.allclose(
            got, d / np.sqrt((d**2).sum(filter_axes, keepdims=True)), rtol=1e-4, atol=1e-6
        ):
            return wrong(
                "each filter has unit norm, but it must have the norm of the matching weight "
                "filter: multiply by ||w_i||."
            )
        wrong_axes = tuple(a for a in everything if a != (d.ndim - 1 if not keras_answer else 0))
        if np.allclose(got, _normalized(d, w, wrong_axes), rtol=1e-4, atol=1e-6):
            return wrong(
                f"you took the filters along the wrong axis: a filter (one output unit) runs along {layout}."
            )
        return wrong(
            f"for a weight of shape {w.shape} your direction differs from the filter-normalized "
            f"one by up to {np.abs(got - expected).max():.3g}."
        )
    return correct(
        "each filter of the direction now has the norm of the matching weight filter, for a conv "
        "kernel and a dense matrix."
    )


def _filter_whole_layer(direction, weight):
    return direction / direction.norm() * weight.norm()


def _filter_unit(direction, weight):
    import torch

    dims = tuple(range(1, weight.dim()))
    return direction / torch.linalg.vector_norm(direction, dim=dims, keepdim=True)


def _filter_keras_torch_axis(direction, weight):
    import keras

    axes = tuple(range(1, len(weight.shape)))  # PyTorch's axes on a Keras kernel
    d = keras.ops.sqrt(keras.ops.sum(direction**2, axis=axes, keepdims=True))
    return direction / d * keras.ops.sqrt(keras.ops.sum(weight**2, axis=axes, keepdims=True))


filter_normalize = exercise(
    "ch5.filter-normalize",
    "Write filter_normalize(direction, weight): rescale each filter d_i of a random direction to the norm of the "
    "matching weight filter, d_i / ||d_i|| * ||w_i|| (Li et al., 2018). A filter is one output unit: weight[i] for a "
    "PyTorch (out, in, kh, kw) or (out, in) weight, weight[..., i] for a Keras (kh, kw, in, out) or (in, out) kernel.",
    solution=_filter_solution,
    keras_solution=_filter_keras_solution,
    wrong_answers=[
        (_filter_whole_layer, "whole layer at once"),
        (_filter_unit, "multiply by ||w_i||"),
        (_filter_keras_torch_axis, "wrong axis"),
        (lambda direction, weight: "d", "return a tensor"),
    ],
)(_check_filter_normalize)
