"""Chapter 2 exercise on LSUV's pooled variance: it counts the spread of the units' constant
offsets, not only what varies with the input (section 2.5)."""

from __future__ import annotations

import math

from . import Feedback, close_to, exercise

#: A layer (zero bias) of two units on a batch: unit A is constant at OFFSET for every example,
#: unit B has mean 0 and variance 1 over the batch.
OFFSET = 3.0


def pooled_variance(offset: float) -> float:
    """Variance over every entry (units and examples) of [A, B]: E[x^2] - E[x]^2
    = (offset^2 + 1) / 2 - (offset / 2)^2."""
    return (offset**2 + 1) / 2 - (offset / 2) ** 2


def std_after_lsuv(offset: float) -> float:
    """Unit B's std over the batch after LSUV divides the weight by sqrt(pooled variance)."""
    return 1 / math.sqrt(pooled_variance(offset))


def _check_lsuv_pooled(answer) -> Feedback:
    pooled = pooled_variance(OFFSET)
    expected = std_after_lsuv(OFFSET)
    return close_to(
        answer,
        expected,
        rtol=1e-2,
        what="unit B's standard deviation after LSUV",
        right=(
            f"1/sqrt({pooled:g}) = {expected:.3f}. The pooled variance is E[x^2] - E[x]^2 = "
            f"{(OFFSET**2 + 1) / 2:g} - {(OFFSET / 2) ** 2:g} = {pooled:g}, and most of it is the "
            "difference between the two units' constant levels, which carries nothing about the "
            "input. LSUV scales that to 1 and shrinks the part that depends on the input, here to "
            "0.6, though the layer reports unit variance: with many sigmoid layers this is how "
            "the section's network collapsed unseen."
        ),
        hints=[
            (
                1.0,
                "LSUV does not normalize each unit: it measures one variance over every entry of "
                "the output, units and examples pooled, and divides the whole weight by its root.",
            ),
            (
                1 / math.sqrt((OFFSET**2 + 1) / 2),
                "you divided by the root of the mean square E[x^2]; the variance subtracts the "
                f"square of the pooled mean, E[x] = {OFFSET / 2:g}.",
            ),
            (
                1 / pooled,
                "the weight is divided by the root of the variance (the std), not by the variance.",
            ),
            (
                math.sqrt(2.0),
                "averaging each unit's own variance (0 and 1) misses the spread between the two "
                "units' levels, which the pooled variance counts.",
            ),
            (
                1 / math.sqrt(OFFSET**2 + 1),
                "the mean square is an average over the entries: (9 + 1) / 2, not 9 + 1; and "
                "subtract the squared mean.",
            ),
        ],
    )


lsuv_pooled = exercise(
    "ch2.lsuv-pooled",
    f"A layer (zero bias) of two units on a batch: unit A constant at {OFFSET:g}, unit B mean 0 "
    "and variance 1. LSUV rescales the weight to unit output variance: the std of unit B after?",
    solution=lambda: std_after_lsuv(OFFSET),
    wrong_answers=[
        (1.0, "does not normalize each unit"),
        (1 / math.sqrt(5.0), "mean square"),
        (1 / 2.75, "not by the variance"),
        (math.sqrt(2.0), "levels"),
        (1 / math.sqrt(10.0), "average over the entries"),
        (0.1, "too small"),
    ],
)(_check_lsuv_pooled)
