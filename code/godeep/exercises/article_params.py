"""Chapter 4 exercise on the tutorial article's residual ConvNet: which of its parameters depend
on the input, and which on the shortcuts (section 4.4)."""

from __future__ import annotations

import math

from . import Feedback, as_number, correct, exercise, wrong

#: The article's model (``godeep.residual.mnist_residual_convnet``): widths 32 and 64, a hidden
#: layer of 128 units, 10 classes, two 2x2 max pools, 3x3 convolutions with padding 1.
WIDTHS, HIDDEN, CLASSES = (32, 64), 128, 10
MNIST_PARAMS = 513_994  # the article's count on 28x28 MNIST (section 4.4)


def article_params(in_channels: int, image_size: int) -> int:
    """Parameters of the article's model on ``image_size`` x ``image_size`` images with
    ``in_channels`` channels: conv1 ``9 c w1 + w1``, two residual blocks of two 3x3 convs
    (``2 (9 w^2 + w)`` each, the shortcuts add none), conv2 ``9 w1 w2 + w2``, then
    ``fc1`` from ``w2 (s / 4)^2`` flattened features to 128 units and ``fc2`` to 10."""
    if in_channels < 1 or image_size < 4 or image_size % 4:
        raise ValueError(
            f"need in_channels >= 1 and image_size a multiple of 4, got {in_channels}, {image_size}"
        )
    w1, w2 = WIDTHS
    side = image_size // 4
    convs = 9 * in_channels * w1 + w1 + 2 * (9 * w1 * w1 + w1) + 9 * w1 * w2 + w2
    convs += 2 * (9 * w2 * w2 + w2)
    return convs + w2 * side * side * HIDDEN + HIDDEN + HIDDEN * CLASSES + CLASSES


def _article_params_solution() -> int:
    return article_params(3, 32)


def _hints() -> dict[int, str]:
    return {
        MNIST_PARAMS: (
            "that is the MNIST count: two things change on CIFAR-10, the first convolution reads "
            "3 channels instead of 1, and the flattened feature map that fc1 reads is larger."
        ),
        article_params(1, 32): (
            "you changed the image size but not the input channels: conv1 reads 3 channels, "
            "9 x 3 x 32 weights instead of 9 x 1 x 32."
        ),
        article_params(3, 28): (
            "you changed the input channels but not the image size: after two 2x2 max pools a "
            "32x32 image is 8x8, so fc1 reads 64 x 8 x 8 = 4,096 features, not 64 x 7 x 7."
        ),
        article_params(3, 64): (
            "the model has two 2x2 max pools: 32 -> 16 -> 8, so fc1 reads 64 x 8 x 8 features."
        ),
        article_params(3, 128): (
            "the 3x3 convolutions keep the size (padding 1), but the two 2x2 max pools halve it "
            "twice: fc1 reads 64 x 8 x 8 features."
        ),
        round(MNIST_PARAMS * 3 * 32 * 32 / (28 * 28)): (
            "not every parameter grows with the number of input values: a convolution's weights "
            "do not depend on the image size, and only conv1 depends on the channels."
        ),
        article_params(1, 8): (
            "that is the model on the 8x8 digits; CIFAR-10's images are 32x32 with 3 channels."
        ),
    }


def _check_article_params(answer) -> Feedback:
    if isinstance(answer, (str, bytes)):
        return wrong(f"give the count as an integer, not the string {answer!r}: drop the quotes.")
    try:
        value = as_number(answer, "an integer")
    except TypeError as error:
        return wrong(f"{error}: give the number of parameters as an integer.")
    if not math.isfinite(value) or not value.is_integer():
        return wrong(f"a number of parameters is a whole number, not {value:.10g}.")
    expected = _article_params_solution()
    if value == expected:
        fc1 = 64 * 8 * 8 * HIDDEN + HIDDEN
        return correct(
            f"{expected:,}: {expected - MNIST_PARAMS:,} more than on MNIST, 576 of them in conv1 "
            "(3 input channels instead of 1) and the rest in fc1, which reads 64 x 8 x 8 = 4,096 "
            f"features instead of 64 x 7 x 7 = 3,136. fc1 alone holds {fc1:,} ({fc1 / expected:.0%}); "
            "the convolutions do not depend on the image size, and the two shortcuts add no "
            "parameter, so the plain twin has the same count."
        )
    hints = _hints()
    if int(value) in hints:
        return wrong(hints[int(value)])
    if value <= 0:
        return wrong("a model has a positive number of parameters.")
    return wrong(
        f"not quite ({value:,.0f}). Count each layer: conv1 (3 -> 32), the two residual blocks "
        "(two 3x3 convs each, with biases), conv2 (32 -> 64), fc1 (flattened 8x8x64 -> 128), fc2."
    )


article_params_cifar = exercise(
    "ch4.article-params",
    "The tutorial article's residual ConvNet has 513,994 parameters on 28x28 MNIST. How many has "
    "the same model (same layers and widths) on CIFAR-10's 32x32 RGB images?",
    solution=_article_params_solution,
    wrong_answers=[
        (MNIST_PARAMS, "that is the MNIST count"),
        (article_params(1, 32), "not the input channels"),
        (article_params(3, 28), "not the image size"),
        (article_params(3, 64), "two 2x2 max pools"),
        (article_params(3, 128), "padding 1"),
        (round(MNIST_PARAMS * 3 * 32 * 32 / (28 * 28)), "do not depend on the image size"),
        (145_354, "8x8 digits"),
        (637_000, "not quite"),
        (637_450.5, "whole number"),
        ("637450", "drop the quotes"),
    ],
)(_check_article_params)
