"""Exercises of Chapter 2, "Weight initialization"."""

from __future__ import annotations

import math

import numpy as np

from . import Feedback, chapter_getattr, close_to, correct, exercise, wrong

# ------------------------------------------------------------------ fans of a convolution


def _check_conv_fans(answer) -> Feedback:
    expected = (64 * 3 * 3, 128 * 3 * 3)
    if isinstance(answer, dict):
        return wrong("give a pair (fan_in, fan_out), e.g. a tuple of two integers, not a dict.")
    if (
        isinstance(answer, (str, bytes))
        or not isinstance(answer, (tuple, list))
        or len(answer) != 2
    ):
        return wrong("give a pair of integers: (fan_in, fan_out).")
    for value in answer:
        if isinstance(value, (str, bytes)):
            return wrong(
                f"the fans are numbers, not strings: write (576, ...) without quotes, not {value!r}."
            )
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            if isinstance(value, (float, np.floating)) and float(value).is_integer():
                continue  # 576.0 is a fine way to write 576
            return wrong(f"a fan counts connections: it is a whole number, not {value!r}.")
    fan_in, fan_out = (int(v) for v in answer)
    pair = (fan_in, fan_out)
    if pair == expected:
        return correct(
            f"fan_in = C_in K_h K_w = 64 x 9 = {expected[0]} and fan_out = C_out K_h K_w = 128 x 9 = {expected[1]}."
        )
    if pair == expected[::-1]:
        return wrong(
            "the two are swapped: fan_in counts the inputs feeding one output unit (the input channels)."
        )
    if pair == (64, 128):
        return wrong(
            "those are the channel counts: each output unit also sums over the K_h x K_w positions of the kernel."
        )
    if pair == (128 * 3, 64 * 3) or pair == (64 * 3, 128 * 3):
        return wrong("the kernel is 3 x 3: the receptive field has K_h x K_w = 9 positions, not 3.")
    if fan_in == fan_out == 64 * 128 * 9:
        return wrong(
            "that is the number of weights in the kernel; a fan counts the connections of one unit."
        )
    return wrong(
        "fan_in = C_in x K_h x K_w and fan_out = C_out x K_h x K_w (the batch and image size do not enter)."
    )


conv_fans = exercise(
    "ch2.conv-fans",
    "(fan_in, fan_out) of nn.Conv2d(64, 128, kernel_size=3) (Keras: Conv2D(128, 3) on 64 channels).",
    solution=lambda: (576, 1152),
    wrong_answers=[
        ((1152, 576), "swapped"),
        ((64, 128), "channel counts"),
        ((192, 384), "3 x 3"),
        ((73728, 73728), "number of weights"),
        (576, "pair of integers"),
        ((576.9, 1152.9), "whole number"),
        (("576", "1152"), "not strings"),
        ({"fan_in": 576, "fan_out": 1152}, "not a dict"),
        ("576, 1152", "pair of integers"),
        ((576, 1152, 9), "pair of integers"),
    ],
)(_check_conv_fans)


# ------------------------------------------------------------------ the gain of a leaky ReLU

SLOPE = 0.2


def _check_leaky_gain(answer) -> Feedback:
    expected = math.sqrt(2.0 / (1.0 + SLOPE**2))
    return close_to(
        answer,
        expected,
        rtol=2e-3,
        what="the gain",
        hints=[
            (
                math.sqrt(2.0),
                "sqrt(2) is the ReLU's gain: the negative half now passes a^2 of its second moment.",
            ),
            (
                2.0 / (1.0 + SLOPE**2),
                "that is the factor for the variance; the gain multiplies the standard deviation.",
            ),
            (
                math.sqrt(2.0 / (1.0 + SLOPE)),
                "the negative half is scaled by a, so its second moment by a^2, not a.",
            ),
            (
                (1.0 + SLOPE**2) / 2.0,
                "that is E[f(x)^2] / Var[x]; the gain undoes it: take 1 over its square root.",
            ),
            (
                math.sqrt((1.0 + SLOPE**2) / 2.0),
                "that is the factor by which the leaky ReLU scales the rms; the gain is its inverse.",
            ),
        ],
    )


leaky_gain = exercise(
    "ch2.leaky-gain",
    "Gain of a leaky ReLU with negative slope a = 0.2 (the factor on 1/sqrt(fan_in) that keeps the forward signal).",
    solution=lambda: math.sqrt(2.0 / (1.0 + SLOPE**2)),
    wrong_answers=[
        (math.sqrt(2), "ReLU's gain"),
        (2 / 1.04, "variance"),
        (math.sqrt(2 / 1.2), "not a"),
        (0.52, "E[f(x)^2]"),
        (3.0, "too large"),
    ],
)(_check_leaky_gain)


# ------------------------------------------------------------------ predict, then measure


def _rms_after_30() -> float:
    """ReLU net, Xavier normal on square layers (n Var[w] = 1), unit-variance inputs.

    Var[z_1] = 1, and each ReLU halves the second moment: E[h_l^2] = 2^-l, so the rms of h_30
    is 2^-15.
    """
    return 2.0**-15


def _check_rms_after_30(answer) -> Feedback:
    return close_to(
        answer,
        _rms_after_30(),
        rtol=0.05,
        what="the predicted rms",
        hints=[
            (
                1.0,
                "Xavier keeps n Var[w] = 1 for a linear layer, but each ReLU halves the second moment: 30 halvings.",
            ),
            (2.0**-30, "2^-30 is the mean square E[h^2]; the rms is its square root."),
            (
                2.0**-14.5,
                "off by one layer: h_1 already went through one ReLU, so h_30 went through 30 halvings.",
            ),
            (0.5**30, "2^-30 is the mean square E[h^2]; the rms is its square root."),
            (
                2.0**-15 * math.sqrt(1 - 1 / math.pi),
                "that is the standard deviation of h, which subtracts the mean; the question asks "
                "for the rms sqrt(E[h^2]).",
            ),
        ],
    )


rms_after_30 = exercise(
    "ch2.rms-after-30",
    "Predict the rms sqrt(E[h^2]) of the activations after 30 ReLU layers of width 256 with Xavier "
    "normal weights, unit-variance inputs.",
    solution=_rms_after_30,
    wrong_answers=[
        (1.0, "30 halvings"),
        (2.0**-30, "square root"),
        (2.0**-14.5, "off by one"),
        (0.5, "too large"),
    ],
)(_check_rms_after_30)


# ------------------------------------------------------------------ PyTorch's default, per layer


def _check_default_factor(answer) -> Feedback:
    expected = math.sqrt(1.0 / 6.0)  # n Var[w] = 1/3, then the ReLU halves the second moment
    return close_to(
        answer,
        expected,
        rtol=1e-2,
        what="the per-layer factor",
        hints=[
            (
                1.0 / 6.0,
                "1/6 is the factor for the second moment; the rms changes by its square root.",
            ),
            (math.sqrt(1.0 / 3.0), "that ignores the ReLU, which halves the second moment."),
            (
                1.0 / 3.0,
                "n Var[w] = 1/3 is the variance factor of the linear layer alone: add the ReLU's "
                "1/2 and take a square root.",
            ),
            (
                1.0 / math.sqrt(5.0),
                "a = sqrt(5) is the leaky-ReLU slope in the gain formula, not the factor: gain^2 = "
                "2 / (1 + a^2) = 1/3.",
            ),
        ],
    )


default_factor = exercise(
    "ch2.default-factor",
    "Factor by which the rms activation changes per layer in a deep ReLU MLP built from nn.Linear "
    "with its default initialization.",
    solution=lambda: math.sqrt(1.0 / 6.0),
    wrong_answers=[
        (1 / 6, "square root"),
        (math.sqrt(1 / 3), "ignores the ReLU"),
        (1 / 3, "linear layer alone"),
        (1 / math.sqrt(5), "gain formula"),
        (1.0, "too large"),
    ],
)(_check_default_factor)


# ------------------------------------------------------------------ how deep before Xavier vanishes


def _xavier_depth_solution() -> int:
    """Smallest L with sqrt(1/2)^L < 1e-3: the std of a ReLU net under Xavier halves in variance per layer."""
    return next(L for L in range(1, 1000) if 0.5 ** (L / 2) < 1e-3)


def _check_xavier_depth(answer) -> Feedback:
    if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)):
        return wrong(f"give the depth as an integer number of layers, not {type(answer).__name__}.")
    L, expected = int(answer), _xavier_depth_solution()
    if L == expected:
        return correct(
            f"sqrt(1/2)^{L} = {0.5 ** (L / 2):.3g} is the first power below 1e-3 "
            f"(sqrt(1/2)^{L - 1} = {0.5 ** ((L - 1) / 2):.3g})."
        )
    if L == expected - 1:
        return wrong(f"off by one: sqrt(1/2)^{L} = {0.5 ** (L / 2):.3g} is still above 1e-3.")
    if L == next(k for k in range(1, 1000) if 0.5**k < 1e-3):
        return wrong(
            "you halved the standard deviation per layer; the ReLU halves the second moment, so "
            "the std shrinks by sqrt(1/2)."
        )
    if L < expected:
        return wrong(
            f"sqrt(1/2)^{L} = {0.5 ** (L / 2):.3g} is still above 1e-3: you need more layers. "
            "Hint: L > 2 log(1e-3) / log(1/2)."
        )
    return wrong(
        f"sqrt(1/2)^{L} = {0.5 ** (L / 2):.3g} is below 1e-3, but so is a shallower power: find the smallest L."
    )


xavier_depth = exercise(
    "ch2.xavier-depth",
    "Smallest depth L at which a ReLU net under Xavier (square layers) shrinks the activation std "
    "below 1e-3 of its input.",
    solution=_xavier_depth_solution,
    wrong_answers=[
        (19, "off by one"),
        (10, "halved the standard deviation"),
        (15, "need more layers"),
        (40, "smallest L"),
        (20.0, "integer"),
    ],
)(_check_xavier_depth)

from .coding.ch2 import he_normal_init, orthogonal  # noqa: E402,F401
from .coding.kaiming import _reference_kaiming_keras, _reference_kaiming_uniform_, kaiming_uniform  # noqa: E402,F401
from .isometry_gain import _check_isometry_gain, isometry_gain  # noqa: E402,F401  (2.4)
from .lsuv_pooled import _check_lsuv_pooled, lsuv_pooled  # noqa: E402,F401  (2.5)

__getattr__ = chapter_getattr(__name__)
