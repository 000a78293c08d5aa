"""Chapter 5 exercises on scales: filter-normalized directions."""

from __future__ import annotations

from . import close_to, exercise


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
