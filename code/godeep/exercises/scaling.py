"""Chapter 5 exercises on scales: the growth of the residual stream and filter-normalized
directions."""

from __future__ import annotations

import math

from . import close_to, exercise


def _check_residual_growth(answer):
    """Growth of the standard deviation of x_L over 30 He-initialized blocks without normalization."""
    expected = 2.0**15
    return close_to(
        answer,
        expected,
        what="the factor",
        right=f"Var doubles per block, 2^30 in all, so the standard deviation grows by 2^15 = {expected:.0f}.",
        advice="write Var[x_l] in terms of Var[x_(l-1)] for one block first.",
        hints=[
            (
                2.0**30,
                "that is the growth of the *variance*; the standard deviation grows by its square root.",
            ),
            (
                math.sqrt(30),
                "the variances add up to 2x per block, they do not grow by one unit each: multiply, do not add.",
            ),
            (
                31.0,
                "each block doubles the variance (x + F(x) with Var[F(x)] = Var[x]): the growth is a power of 2.",
            ),
            (1.0, "that is ReZero's factor (alpha = 0); here the branches are on from the start."),
            (
                1.5**15,
                "with He initialization Var[F(x)] = Var[x] (the ReLU halves, the weights' 2/n "
                "doubles): the factor per block is 2.",
            ),
        ],
    )


residual_growth = exercise(
    "ch5.residual-growth",
    "By what factor does the standard deviation of the residual stream grow over 30 blocks x + W relu(x), "
    "He-initialized, without normalization?",
    solution=lambda: 2.0**15,
    wrong_answers=[
        (2.0**30, "variance"),
        (math.sqrt(30), "multiply"),
        (31.0, "power of 2"),
        (1.0, "ReZero"),
        (1.5**15, "factor per block is 2"),
        (1000.0, "not quite"),
        ("big", "plain number"),
    ],
)(_check_residual_growth)


def _check_filter_scale(answer):
    """The factor filter normalization applies to one filter of a random direction."""
    return close_to(
        answer,
        2.5,
        rtol=1e-3,
        what="the factor",
        right=(
            "||theta_j|| / ||d_j|| = 5 / 2 = 2.5: the filter of the direction becomes (0, 5), as "
            "long as the weights' filter."
        ),
        advice="compute ||theta_j|| and ||d_j|| and take their ratio.",
        hints=[
            (
                0.4,
                "inverted: the direction is scaled *to* the weights' norm, ||theta_j|| / ||d_j||.",
            ),
            (5.0, "that is ||theta_j||; divide by ||d_j|| = 2 as well."),
            (
                3.5,
                "that is the sum of the entries of theta_j over 2; use the Euclidean (Frobenius) norms.",
            ),
            (7.0 / 2, "use the Euclidean norm ||(3, 4)|| = 5, not the sum of the entries."),
            (25 / 4, "use norms, not squared norms."),
        ],
    )


filter_scale = exercise(
    "ch5.filter-scale",
    "A filter of the trained weights is theta_j = (3, 4) and the same filter of a random direction is d_j = (0, 2). "
    "By what factor does filter normalization multiply d_j?",
    solution=lambda: 2.5,
    wrong_answers=[
        (0.4, "inverted"),
        (5.0, "divide"),
        (25 / 4, "squared"),
        (1.0, "not quite"),
        ("x", "plain number"),
    ],
)(_check_filter_scale)
