"""Exercises of Chapter 3, "Normalization modules".

Most live here; :mod:`.rms_offset` (RMSNorm under a common offset, 3.8) in a module of its
own, gathered below.
"""

from __future__ import annotations

import numpy as np

from . import Feedback, chapter_getattr, close_to, correct, exercise, wrong

# ------------------------------------------------------------------ 3.1 the largest stable learning rate

MEAN, STD = 3.0, 1.0


def _check_max_lr(answer) -> Feedback:
    curvature = STD**2 + MEAN**2  # L(w) = 1/2 E[(w x - y)^2]  =>  L''(w) = E[x^2]
    return close_to(
        answer,
        2.0 / curvature,
        rtol=1e-2,
        what="the largest stable learning rate",
        hints=[
            (
                2.0 / STD**2,
                "that would hold for centred inputs: L''(w) = E[x^2] = Var[x] + E[x]^2 includes the mean.",
            ),
            (
                1.0 / curvature,
                "1 / L'' is the step that lands on the minimum in one step; divergence starts at twice that.",
            ),
            (2.0 / (STD**2 + MEAN), "E[x]^2 = 9, not 3: the curvature is Var[x] + E[x]^2."),
            (2.0 / MEAN**2, "the variance adds to the curvature too: E[x^2] = Var[x] + E[x]^2."),
        ],
    )


max_stable_lr = exercise(
    "ch3.max-stable-lr",
    "Gradient descent on L(w) = 1/2 E[(w x - y)^2] with inputs of mean 3 and variance 1: the "
    "learning rate above which it diverges.",
    solution=lambda: 2.0 / (STD**2 + MEAN**2),
    wrong_answers=[
        (2.0, "centred inputs"),
        (0.1, "twice that"),
        (2.0 / 4.0, "E[x]^2 = 9"),
        (2.0 / 9.0, "variance adds"),
    ],
)(_check_max_lr)


# ------------------------------------------------------------------ 3.2 predict LayerNorm's output

LN_INPUT = np.array([[1.0, 2.0, 3.0, 6.0], [4.0, 4.0, 0.0, 0.0]])


def _layer_norm_answer() -> np.ndarray:
    x = LN_INPUT
    mean = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    return (x - mean) / np.sqrt(var)


def _check_layer_norm(answer) -> Feedback:
    try:
        got = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        return wrong("give a 2 x 4 array (a nested list or a NumPy array of numbers).")
    expected = _layer_norm_answer()
    if got.shape != expected.shape:
        return wrong(
            f"LayerNorm keeps the shape of its input: expected shape {expected.shape}, got {got.shape}."
        )
    if np.allclose(got, expected, atol=1e-3):
        return correct(
            "each row has mean 0 and (biased) variance 1: row 1 is (x - 3) / sqrt(3.5), row 2 is (x - 2) / 2."
        )
    x = LN_INPUT
    unbiased = (x - x.mean(1, keepdims=True)) / x.std(1, ddof=1, keepdims=True)
    if np.allclose(got, unbiased, atol=1e-3):
        return wrong(
            "you divided by the unbiased standard deviation (n - 1 = 3): normalization layers use the biased one, 1/n."
        )
    batch = (x - x.mean(0, keepdims=True)) / np.where(
        x.std(0, keepdims=True) > 0, x.std(0, keepdims=True), 1.0
    )
    if np.allclose(got, batch, atol=1e-3) or np.allclose(
        np.nan_to_num(got), np.nan_to_num((x - x.mean(0)) / x.std(0)), atol=1e-3
    ):
        return wrong(
            "you normalized each column (over the batch): that is BatchNorm. LayerNorm normalizes "
            "each row (each example) over its features."
        )
    if np.allclose(got, x - x.mean(1, keepdims=True), atol=1e-3):
        return wrong("you centred each row but did not divide by its standard deviation.")
    return wrong(
        "compute, for each row, its mean and biased variance over the 4 features, then (x - mean) / sqrt(var)."
    )


predict_layer_norm = exercise(
    "ch3.predict-layer-norm",
    "Output of LayerNorm(4, eps=0, no affine) on [[1, 2, 3, 6], [4, 4, 0, 0]].",
    solution=_layer_norm_answer,
    wrong_answers=[
        (
            (LN_INPUT - LN_INPUT.mean(1, keepdims=True)) / LN_INPUT.std(1, ddof=1, keepdims=True),
            "unbiased",
        ),
        ((LN_INPUT - LN_INPUT.mean(0)) / LN_INPUT.std(0), "that is BatchNorm"),
        (LN_INPUT - LN_INPUT.mean(1, keepdims=True), "did not divide"),
        ([1.0, 2.0], "keeps the shape"),
        (np.zeros((2, 4)), "for each row"),
    ],
)(_check_layer_norm)


# ------------------------------------------------------------------ 3.5 converting BatchNorm's momentum


def _check_keras_momentum(answer) -> Feedback:
    return close_to(
        answer,
        0.95,
        rtol=1e-6,
        what="Keras' momentum",
        hints=[
            (
                0.05,
                "the same number means something else in Keras: its momentum weights the old "
                "average, PyTorch's the new batch.",
            ),
            (
                0.99,
                "0.99 is Keras' default; the PyTorch layer here weights each new batch by 0.05.",
            ),
            (0.9, "0.9 converts PyTorch's default 0.1; this layer has momentum=0.05."),
            (1 / 0.05, "the conversion is 1 - momentum, not 1 / momentum."),
        ],
    )


keras_momentum = exercise(
    "ch3.keras-momentum",
    "The Keras BatchNormalization momentum that keeps the same running averages as PyTorch's "
    "BatchNorm2d(momentum=0.05).",
    solution=lambda: 0.95,
    wrong_answers=[
        (0.05, "weights the old average"),
        (0.99, "Keras' default"),
        (0.9, "converts PyTorch's default"),
        (20.0, "not 1 / momentum"),
    ],
)(_check_keras_momentum)

# ------------------------------------------------------------------ 3.5 two values per channel

PAIR = np.array([0.3, 5.0])  # one channel, a normalization batch of two examples


def _two_values_answer() -> np.ndarray:
    """Training-mode BatchNorm of two values (eps = 0): (x - mu) / sigma, sigma biased = |a - b| / 2."""
    return (PAIR - PAIR.mean()) / PAIR.std()


def _check_two_values(answer) -> Feedback:
    if isinstance(answer, (str, bytes, dict)) or (
        isinstance(answer, (list, tuple)) and any(isinstance(v, (str, bytes)) for v in answer)
    ):
        return wrong("give two numbers (not text), as a list or array: [x_hat_a, x_hat_b].")
    try:
        got = np.asarray(answer, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return wrong(
            "give the two normalized values as a list or array of two numbers, [x_hat_a, x_hat_b]."
        )
    if got.shape != (2,):
        return wrong(f"give two numbers, one per example, got {got.size}.")
    expected = _two_values_answer()
    if np.allclose(got, expected, atol=1e-3):
        return correct(
            "-1 and +1: with two values, mu is their midpoint and sigma half their distance, "
            "whatever a and b are. The layer passes only which of the two is larger."
        )
    if np.allclose(got, -expected, atol=1e-3):
        return wrong(
            "right size, wrong signs: a = 0.3 is the smaller value, so it lies below the mean."
        )
    if np.allclose(got, (PAIR - PAIR.mean()) / PAIR.std(ddof=1), atol=1e-3):
        return wrong(
            "you divided by the unbiased standard deviation (n - 1 = 1): BatchNorm normalizes with the biased one, 1/n."
        )
    if np.allclose(got, PAIR - PAIR.mean(), atol=1e-3):
        return wrong("you centred the two values but did not divide by their standard deviation.")
    if np.allclose(got, PAIR, atol=1e-3):
        return wrong(
            "in training mode BatchNorm uses the statistics of the batch, not the initial running averages (0 and 1)."
        )
    return wrong(
        "compute the mean and the biased variance of the two values, then (x - mean) / sqrt(var)."
    )


two_values = exercise(
    "ch3.two-values",
    "Training-mode BatchNorm (eps = 0, no affine) of one channel over a batch of two values, 0.3 and 5.0.",
    solution=_two_values_answer,
    wrong_answers=[
        (-_two_values_answer(), "wrong signs"),
        ((PAIR - PAIR.mean()) / PAIR.std(ddof=1), "unbiased"),
        (PAIR - PAIR.mean(), "did not divide"),
        (PAIR, "statistics of the batch"),
        ([1.0, 2.0, 3.0], "give two numbers"),
    ],
)(_check_two_values)

from .bn_lead import _check_bn_lead, bn_lead  # noqa: E402,F401  (3.4)
from .coding.ch3_block import conv_bn_relu  # noqa: E402,F401  (coding exercise in both frameworks)
from .coding.find_the_bug import (  # noqa: E402,F401
    _buggy_evaluate_keras,
    _reference_evaluate,
    _reference_evaluate_keras,
    find_the_bug,
)
from .coding.norms_by_hand import (  # noqa: E402,F401
    _autograd_bn_backward,
    _reference_group_norm,
    bn_backward,
    group_norm_einsum,
)
from .folding import _check_folding, folding  # noqa: E402,F401  (3.7)
from .norm_growth import _check_norm_growth, norm_growth  # noqa: E402,F401  (3.6)
from .rms_offset import _check_rms_mean_share, rms_mean_share  # noqa: E402,F401  (3.8)

__getattr__ = chapter_getattr(__name__)
