"""Exercises of Chapter 4, "Deep residual learning".

Most live here; :mod:`.article_params` (the tutorial ConvNet's parameters, 4.4),
:mod:`.highway_brake` (the highway gate as a brake, 4.5),
:mod:`.dense` (a dense layer's width, 4.6) and :mod:`.width` (width against depth, 4.7) in
modules of their own, gathered below.
"""

from __future__ import annotations

import math

from . import Feedback, as_number, chapter_getattr, close_to, correct, exercise, wrong

# ---------------------------------------------------------------------------------------------
# 2. Count a ResNet's parameters by hand
# ---------------------------------------------------------------------------------------------


def _resnet20_params() -> int:
    stem = 3 * 3 * 3 * 16 + 2 * 16
    total, prev = stem, 16
    for width in (16, 32, 64):
        for _ in range(3):
            total += 9 * prev * width + 9 * width * width + 2 * 2 * width
            prev = width
    return total + 64 * 10 + 10


_BN_PARAMS_20 = 2 * 16 + 3 * 2 * 2 * (16 + 32 + 64)


def _check_resnet20(answer) -> Feedback:
    expected = _resnet20_params()
    hints = [
        (
            expected - _BN_PARAMS_20,
            "you left out the BatchNorm layers: each has 2 parameters (gamma, beta) per channel, "
            f"{_BN_PARAMS_20:,} in all.",
        ),
        (
            expected + _BN_PARAMS_20,
            "you counted BN's running mean and variance: they are statistics (buffers), not trained parameters.",
        ),
        (expected - 10, "you forgot the bias of the final fully connected layer (10 values)."),
        (
            expected + (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64),
            "you added 1x1 projection shortcuts (option B); the CIFAR ResNets use option A, which has no parameters.",
        ),
    ]
    if isinstance(answer, (str, bytes)):
        return wrong(f"give the count as an integer, not the string {answer!r}: drop the quotes.")
    try:
        value = as_number(answer, "an integer")
    except TypeError as error:
        return wrong(f"{error}: give the count as an integer.")
    if not math.isfinite(value) or not value.is_integer():
        return wrong(f"a number of parameters is a whole number, not {value:.10g}.")
    if value == expected:
        return correct(f"{expected:,} parameters, which the paper rounds to 0.27M.")
    for typical, message in hints:
        if value == typical:
            return wrong(message)
    if abs(value - 0.27e6) < 0.005e6:
        return wrong(
            f"{value:,.0f} rounds to 0.27M like the exact answer, but it is not exact: count conv "
            "weights (k*k*in*out), BN (2 per channel) and the fc layer (64*10 + 10)."
        )
    return close_to(value, expected, rtol=1e-9, what="the parameter count")


resnet20_params = exercise(
    "ch4.resnet20-params",
    "The exact number of trainable parameters of the CIFAR ResNet-20 (option A, 10 classes), by hand.",
    solution=_resnet20_params,
    wrong_answers=[
        (_resnet20_params() - _BN_PARAMS_20, "BatchNorm"),
        (_resnet20_params() + _BN_PARAMS_20, "buffers"),
        (_resnet20_params() - 10, "bias"),
        (_resnet20_params() + 16 * 32 + 2 * 32 + 32 * 64 + 2 * 64, "option A"),
        (270_000, "not exact"),
        ("269722", "not the string"),
        (269722.5, "whole number"),
        ([269722], "integer"),
        (0.27e6 + 0.5, "whole number"),
    ],
)(_check_resnet20)


# ---------------------------------------------------------------------------------------------
# 4. Why does plain-56 train worse? (a numeric prediction)
# ---------------------------------------------------------------------------------------------


def _check_identity_ratio(answer) -> Feedback:
    try:
        value = as_number(answer, "the ratio as a number")
    except TypeError as error:
        return wrong(f"{error}. Give the ratio as a plain number.")
    if not math.isfinite(value):
        return wrong("a ratio of two losses is a finite positive number.")
    if math.isclose(value, 1.0, rel_tol=1e-3):
        return correct(
            "the constructed 56-layer net computes exactly the 20-layer net's function, so its training loss is "
            "the same: a solution at least as good as plain-20 exists. Plain-56 ends higher because SGD does not "
            "find it in the same budget: degradation is an optimization problem, not a lack of capacity or overfitting."
        )
    if math.isclose(value, 56 / 20, rel_tol=1e-3) or math.isclose(value, 20 / 56, rel_tol=1e-3):
        return wrong(
            "the loss does not scale with the number of layers: identity layers leave the "
            "function, hence every prediction, unchanged."
        )
    if value > 1:
        return wrong(
            "the extra layers compute the identity, so the 56-layer net outputs exactly what the "
            "20-layer one does: same predictions, same loss. The higher loss you saw is not forced "
            "by the architecture."
        )
    if 0 <= value < 1:
        return wrong(
            "identity layers add nothing: the function, and so the loss, is unchanged. A lower "
            "loss would need the extra layers to be trained."
        )
    return wrong("a ratio of two losses is positive.")


identity_ratio = exercise(
    "ch4.identity-ratio",
    "Copy a trained plain-20 into a 56-layer net whose 36 extra layers compute the identity: "
    "the ratio of its training loss to plain-20's?",
    solution=lambda: 1.0,
    wrong_answers=[
        (56 / 20, "scale with the number"),
        (1.5, "not forced"),
        (0.5, "add nothing"),
        ("one", "as a number"),
        ("1", "as a number"),
    ],
)(_check_identity_ratio)


# ---------------------------------------------------------------------------------------------
# 5. The cost of ResNet-50's first convolution
# ---------------------------------------------------------------------------------------------

_STEM_MACS = 112 * 112 * 64 * 7 * 7 * 3


def _check_stem_macs(answer) -> Feedback:
    return close_to(
        answer,
        _STEM_MACS,
        rtol=1e-6,
        what="the number of multiply-accumulates",
        hints=[
            (
                224 * 224 * 64 * 7 * 7 * 3,
                "the conv has stride 2: its output is 112 x 112, not 224 x 224.",
            ),
            (
                2 * _STEM_MACS,
                "that counts a multiply and an add separately (FLOPs = 2 x MACs); the paper's "
                "'FLOPs' are multiply-adds.",
            ),
            (
                112 * 112 * 64 * 7 * 7,
                "each output value sums over all 3 input channels: multiply by C_in = 3.",
            ),
            (
                64 * 7 * 7 * 3,
                "that is the number of weights; each is used once per output position (112 x 112 of them).",
            ),
        ],
    )


stem_macs = exercise(
    "ch4.stem-macs",
    "Multiply-accumulates of ResNet-50's first layer (7x7 conv, stride 2, 3 -> 64 channels) on a 224x224 image.",
    solution=lambda: _STEM_MACS,
    wrong_answers=[
        (224 * 224 * 64 * 7 * 7 * 3, "stride 2"),
        (2 * _STEM_MACS, "multiply-adds"),
        (112 * 112 * 64 * 7 * 7, "C_in = 3"),
        (64 * 7 * 7 * 3, "number of weights"),
    ],
)(_check_stem_macs)

__all__ = [
    "bottleneck_block",
    "resnet20_params",
    "option_a",
    "identity_ratio",
    "stem_macs",
    "article_params_cifar",
    "highway_step",
    "dense_width",
    "wide_factor",
]

from .article_params import _check_article_params, article_params_cifar  # noqa: E402,F401  (4.4)
from .coding.bottleneck import (  # noqa: E402,F401  (private names: the tests' typical wrong answers)
    _bottleneck_keras_solution,
    _bottleneck_solution,
    _wrong_bottleneck,
    _wrong_bottleneck_keras,
    bottleneck_block,
)
from .coding.ch4 import basic_block  # noqa: E402,F401  (coding exercises in both frameworks)
from .coding.option_a import _option_a_keras_solution, _option_a_solution, option_a  # noqa: E402,F401
from .dense import _check_dense_width, dense_width  # noqa: E402,F401  (4.6)
from .highway_brake import _check_highway_step, highway_step  # noqa: E402,F401  (4.5)
from .width import _check_wide_factor, wide_factor  # noqa: E402,F401  (4.7)

__getattr__ = chapter_getattr(__name__)
