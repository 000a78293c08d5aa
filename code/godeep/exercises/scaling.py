"""Chapter 5 exercises on scales: GPT-2's branch scaling and filter-normalized directions."""

from __future__ import annotations

import math

from . import close_to, exercise


def _check_gpt2_scale(answer):
    expected = 1 / math.sqrt(24)
    return close_to(
        answer,
        expected,
        what="the factor",
        right=f"N = 2 x 12 = 24 residual layers, factor 1/sqrt(24) = {expected:.3f}.",
        advice="GPT-2 scales by 1/sqrt(N), N the number of residual layers.",
        hints=[
            (
                1 / math.sqrt(12),
                "each block has two residual layers (attention and MLP): N = 24, not 12.",
            ),
            (
                1 / 24,
                "the factor is 1/sqrt(N), not 1/N: it keeps the *variance* of a sum of N branches in check.",
            ),
            (1 / 12, "the factor is 1/sqrt(N), with N = 24 residual layers."),
            (math.sqrt(24), "the weights are scaled down, not up: 1/sqrt(N)."),
        ],
    )


gpt2_scale = exercise(
    "ch5.gpt2-scale",
    "Factor by which GPT-2's initialization scales each residual branch's output projection in a 12-block model.",
    solution=lambda: 1 / math.sqrt(24),
    wrong_answers=[
        (1 / math.sqrt(12), "two residual layers"),
        (1 / 24, "not 1/N"),
        (math.sqrt(24), "scaled down"),
        (0.5, "not quite"),
        ("a", "plain number"),
    ],
)(_check_gpt2_scale)


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
