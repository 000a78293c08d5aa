"""Chapter 4 exercise on width against depth: how wide a shallow ResNet must be to have
a deep one's parameters (section 4.7)."""

from __future__ import annotations

import math

from . import close_to, exercise

#: This section's pair: ResNet-56 (9 basic blocks per stage, widths 8, 16, 32) and ResNet-8
#: (1 block per stage, widths k times those).
DEEP_BLOCKS, WIDE_BLOCKS = 9, 1
#: counted with godeep.residual.cifar_resnet(depth, widths, in_channels=1) (tests check them)
PARAMS = {"ResNet-56": 214_402, "ResNet-8 x3": 167_794, "ResNet-8 x3.375": 212_095}


def _wide_factor_solution() -> float:
    """Block conv weights ~ blocks * w^2, so equal weights need k = sqrt(9 / 1) = 3: the first
    stage's width 8 k = 24."""
    return 8 * math.sqrt(DEEP_BLOCKS / WIDE_BLOCKS)


def _check_wide_factor(answer):
    w = _wide_factor_solution()
    return close_to(
        answer,
        w,
        rtol=1e-2,
        what="the first stage's width",
        right=(
            "24 = 3 x 8: a 3x3 conv from w to w channels has 9 w^2 weights, so a stage's weights "
            "grow with the square of its width but only linearly with its number of blocks; 9 "
            "times fewer blocks need sqrt(9) = 3 times the width. Counting every parameter, "
            f"widths (24, 48, 96) give ResNet-8 {PARAMS['ResNet-8 x3']:,} against ResNet-56's "
            f"{PARAMS['ResNet-56']:,}: in ResNet-8 the first conv of stages 2 and 3, which reads "
            "half the width, is half of the stage's convs (one in 18 in ResNet-56). That is why "
            "this section used widths (27, 54, 108), 3.375 times (8, 16, 32): "
            f"{PARAMS['ResNet-8 x3.375']:,} parameters."
        ),
        hints=[
            (
                8 * 9.0,
                "a 3x3 conv's weights grow with the *square* of the width (w inputs times w "
                "outputs): 9 times fewer blocks need less than 9 times the width.",
            ),
            (
                8 * 56 / 8,
                "56 = 8 x 7, with 7 the ratio of the depths in layers; count blocks (9 per stage "
                "against 1), and a conv's weights grow with the square of the width.",
            ),
            (
                8 * math.sqrt(56 / 8),
                "the square root is right, but of the ratio of blocks (9 per stage against 1), "
                "not of layers: ResNet-56 has 54 block convs, ResNet-8 has 6, plus the stem and "
                "the classifier in both.",
            ),
            (
                8 * 81.0,
                "weights grow with the square of the width, so the width grows with the square "
                "*root* of the ratio of blocks.",
            ),
            (3.0, "3 is the factor k; the question asks for the first stage's width, 8 k."),
            (8 / 3, "inverted: the shallow net must be *wider* than the deep one."),
            (
                27.0,
                "27 is what this section chose by counting every parameter; the question asks "
                "for the rule under the stated simplification (every conv w -> w, only the "
                "blocks' convs): how do those weights scale with w and with the number of blocks?",
            ),
        ],
    )


wide_factor = exercise(
    "ch4.wide-factor",
    "ResNet-56 has 9 basic blocks (two 3x3 convs each) per stage at widths (8, 16, 32); ResNet-8 has 1 block "
    "per stage at widths (w, 2w, 4w). Counting only the blocks' 3x3 conv weights, each as if it mapped its "
    "stage's width to itself, what w gives both nets the same number?",
    solution=_wide_factor_solution,
    wrong_answers=[
        (72, "*square*"),
        (56, "ratio of the depths"),
        (8 * math.sqrt(7), "ratio of blocks"),
        (648, "*root*"),
        (3, "factor k"),
        (8 / 3, "inverted"),
        (27, "counting every parameter"),
        (16, "too small"),
        ("24", "plain number"),
    ],
)(_check_wide_factor)
