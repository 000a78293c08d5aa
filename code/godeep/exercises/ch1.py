"""Exercises of Chapter 1, "Why going deep is difficult"."""

from __future__ import annotations

import math

import numpy as np

from . import Feedback, chapter_getattr, close_to, correct, exercise, wrong
from .native import call_native, solutions, to_numpy


def _depth_solution() -> int:
    return next(L for L in range(1, 1000) if 0.9**L < 1e-3)


def _check_depth(answer) -> Feedback:
    if isinstance(answer, float) and 0 < answer < 1:
        return wrong(
            "that looks like a gradient factor, not a depth: give the number of layers L (an integer)."
        )
    if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)):
        return wrong(f"give the depth as an integer number of layers, not {type(answer).__name__}.")
    L, expected = int(answer), _depth_solution()
    if L == expected:
        return correct(
            f"0.9^{L} = {0.9**L:.3g} is the first power below 1e-3 (0.9^{L - 1} = {0.9 ** (L - 1):.3g})."
        )
    if L == expected - 1:
        return wrong(f"off by one: 0.9^{L} = {0.9**L:.3g} is still above 1e-3.")
    if L < expected:
        return wrong(
            f"0.9^{L} = {0.9**L:.3g} is still above 1e-3: you need more layers. Hint: solve L > log(1e-3) / log(0.9)."
        )
    return wrong(
        f"0.9^{L} = {0.9**L:.3g} is below 1e-3, but so is a shallower power: find the smallest L."
    )


depth_to_vanish = exercise(
    "ch1.depth-to-vanish",
    "Smallest depth L at which a per-layer factor of 0.9 shrinks the gradient below 1e-3.",
    solution=_depth_solution,
    wrong_answers=[
        (65, "off by one"),
        (0.9**66, "not a depth"),
        (30, "need more layers"),
        (100, "smallest L"),
        ("66", "integer"),
    ],
)(_check_depth)


#: max over x_0 and |w_l| <= 1 of |d x_10 / d x_0| for x_l = sigmoid(w_l x_{l-1}), found by dynamic
#: programming on a grid (Section 1.1 computes it): about 0.69 of the per-layer bound 4^-10.
SIGMOID_CHAIN_SUPREMUM = 6.553e-7


def _check_sigmoid_bound(answer):
    expected = 0.25**10
    return close_to(
        answer,
        expected,
        rtol=1e-3,
        what="the bound",
        hints=[
            (0.25 * 10, "you added the ten factors: the chain rule multiplies them."),
            (
                0.5**10,
                "sigmoid'(0) is 1/4, not 1/2: sigmoid'(z) = sigmoid(z) (1 - sigmoid(z)) = 1/2 * 1/2 at z = 0.",
            ),
            (
                1.0,
                "sigmoid' is at most 1/4, so each layer contributes a factor of at most 1/4 when |w| <= 1.",
            ),
            (0.25, "that is one layer's factor: there are ten of them in the product."),
            (
                SIGMOID_CHAIN_SUPREMUM,
                "that is the largest value a chain actually reaches (computed in the section), "
                "tighter than asked: bound each layer's factor by its own largest value, 1/4.",
            ),
        ],
        hint_rtol=1e-2,
    )


sigmoid_bound = exercise(
    "ch1.sigmoid-bound",
    "Upper bound from the per-layer maxima on |d x_10 / d x_0| through 10 scalar sigmoid layers "
    "x_l = sigmoid(w_l x_{l-1}) with |w_l| <= 1.",
    solution=lambda: 0.25**10,
    wrong_answers=[
        (2.5, "added"),
        (0.5**10, "not 1/2"),
        (0.25, "one layer"),
        (1e-3, "too large by a factor"),
        (6.55e-7, "largest value a chain actually reaches"),
    ],
)(_check_sigmoid_bound)


def _relu_factor_solution(width: int = 256, std: float = 0.1) -> float:
    return math.sqrt(width * std**2 / 2)


def _check_relu_factor(answer):
    expected = _relu_factor_solution()
    return close_to(
        answer,
        expected,
        rtol=1e-2,
        what="the per-layer factor",
        hints=[
            (
                math.sqrt(256 * 0.1**2),
                "you forgot that ReLU zeroes half of a symmetric input: it halves the second moment.",
            ),
            (
                256 * 0.1**2 / 2,
                "that is the factor for the variance; the question asks for the standard deviation.",
            ),
            (
                256 * 0.1**2,
                "that is the variance factor of a linear layer: take the ReLU's 1/2 and a square root.",
            ),
            (0.1, "the factor involves the width n: each unit sums n inputs."),
        ],
    )


relu_factor = exercise(
    "ch1.relu-factor",
    "Per-layer factor by which the activation std changes in a ReLU MLP of width 256 with weights N(0, 0.1^2).",
    solution=_relu_factor_solution,
    wrong_answers=[
        (1.6, "forgot that ReLU"),
        (1.28, "variance"),
        (2.56, "variance factor"),
        (0.1, "width"),
    ],
)(_check_relu_factor)


def _reference_tanh_saturation(h: np.ndarray) -> float:
    """Fraction of tanh outputs whose slope 1 - h^2 is below 5% of its maximum (1)."""
    return float(np.mean(1.0 - np.asarray(h, dtype=np.float64) ** 2 < 0.05))


def _check_tanh_saturation(fn):
    if not callable(fn):
        return wrong("give a function: def tanh_saturation(h): ... returning a float.")
    from ..signals import saturation_fraction

    rng = np.random.default_rng(0)
    cases = [np.tanh(s * rng.standard_normal((64, 32))) for s in (0.1, 1.0, 3.0, 10.0)]
    cases.append(np.array([[0.99, -0.99, 0.0, 0.5]]))
    for h in cases:
        got = call_native(fn, h.copy())
        if got is None:
            return Feedback(
                False,
                "your function returns None: write its body and run the cell again.",
                answered=False,
            )
        expected = saturation_fraction(h, "tanh")
        try:
            got = float(to_numpy(got))
        except (TypeError, ValueError):
            return wrong(
                f"your function returned {type(got).__name__}; return a float (the fraction)."
            )
        if not math.isclose(got, expected, abs_tol=1e-9):
            if math.isclose(got, float(np.mean(np.abs(h) > 0.95)), abs_tol=1e-9) or math.isclose(
                got, float(np.mean(np.abs(h) >= 0.95)), abs_tol=1e-9
            ):
                return wrong(
                    "you thresholded |h| at 0.95; the slope tanh'(z) = 1 - h^2 is below 0.05 when "
                    "|h| > sqrt(0.95) = 0.975."
                )
            if got > 1.0:
                return wrong(
                    f"a fraction lies in [0, 1]; you returned {got:.3g}. Divide the count by the number of entries."
                )
            return wrong(
                f"on a test batch you returned {got:.4g}, expected {expected:.4g}. Hint: tanh'(z) "
                "= 1 - h^2 where h = tanh(z)."
            )
    return correct(
        "your function agrees with godeep.signals.saturation_fraction(h, 'tanh') on every test batch."
    )


tanh_saturation = exercise(
    "ch1.tanh-saturation",
    "Write tanh_saturation(h): the fraction of tanh outputs h whose slope 1 - h^2 is below 0.05.",
    solution=lambda: solutions(1, "torch").tanh_saturation,
    keras_solution=lambda: solutions(1, "keras").tanh_saturation,
    wrong_answers=[
        (lambda h: float(np.mean(np.abs(h) > 0.95)), "sqrt(0.95)"),
        (lambda h: float(np.sum(1 - h**2 < 0.05)), "a fraction lies in [0, 1]"),
        (lambda h: float(np.mean(1 - h < 0.05)), "1 - h^2"),
        (0.3, "give a function"),
    ],
)(_check_tanh_saturation)


def _check_slowest_layer(answer):
    if not isinstance(answer, str):
        return wrong("give the layer's name as a string, e.g. 'fc3'.")
    name = answer.strip()
    if name == "fc1":
        return correct(
            "the first layer is the farthest from the loss: its gradient went through every other layer's factor."
        )
    if name == "out":
        return wrong(
            "the output layer is the one that learns fastest: its gradient comes straight from the loss."
        )
    if name.startswith("act"):
        return wrong(
            "activation layers have no weights: name a layer with a weight matrix (fc1, fc2, ..., out)."
        )
    if name.startswith("fc"):
        return wrong(
            f"{name} is not the slowest: which layer's gradient passes through the most sigmoid factors?"
        )
    return wrong(
        f"there is no layer called {name!r} in the model: use the names fc1, ..., fc10, out."
    )


slowest_layer = exercise(
    "ch1.slowest-layer",
    "In the 10-layer sigmoid network, which weight layer has the smallest update-to-weight ratio?",
    solution=lambda: "fc1",
    wrong_answers=[
        ("out", "learns fastest"),
        ("act1", "no weights"),
        ("fc5", "not the slowest"),
        ("layer1", "no layer called"),
        (1, "string"),
    ],
)(_check_slowest_layer)


from .clip_share import _check_clip_share, clip_share  # noqa: E402,F401  (1.4)
from .coding.ch1 import activation_stds, weight_grad_norms  # noqa: E402,F401  (coding exercises in both frameworks)

__getattr__ = chapter_getattr(__name__)
