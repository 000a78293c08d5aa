"""Chapter 5 exercise on why batch norm makes a plain net's gradient explode: the per-layer
factor of eq. (ch5-bn-explosion) for another activation, a leaky ReLU (section 5.1)."""

from __future__ import annotations

import math

from . import close_to, exercise

#: The exercise's leaky ReLU: phi(z) = z for z > 0, SLOPE * z otherwise.
SLOPE = 0.1


def leaky_relu_factor(slope: float = SLOPE) -> float:
    """Per-layer growth of the gradient's standard deviation, going down a batch-normalized
    plain net, ``sqrt(E[phi'(z)^2] / Var[phi(z)])`` for ``z ~ N(0, 1)`` and the leaky ReLU of
    slope ``a``: ``E[phi'^2] = E[phi^2] = (1 + a^2) / 2`` and ``E[phi] = (1 - a) / sqrt(2 pi)``.
    ``a = 0`` gives the ReLU's ``sqrt(pi / (pi - 1))``, ``a = 1`` the linear net's 1."""
    if not 0 <= slope <= 1:
        raise ValueError(f"slope must lie in [0, 1], got {slope}")
    second = (1 + slope**2) / 2
    mean = (1 - slope) / math.sqrt(2 * math.pi)
    return math.sqrt(second / (second - mean**2))


def _check_leaky_explosion(answer):
    a = SLOPE
    expected = leaky_relu_factor()
    second = (1 + a**2) / 2
    wrong_sign = math.sqrt(second / (second - (1 + a) ** 2 / (2 * math.pi)))
    return close_to(
        answer,
        expected,
        rtol=5e-3,
        what="the factor per layer",
        right=(
            f"sqrt(0.505 / (0.505 - 0.9^2 / (2 pi))) = sqrt(0.505 / 0.376) = {expected:.3f}, "
            f"against the ReLU's 1.211: over 50 layers {expected**50:,.0f} instead of "
            f"{leaky_relu_factor(0.0) ** 50:,.0f}. As E[phi'^2] = E[phi^2] for both, the factor "
            "is 1 / sqrt(1 - E[phi]^2 / E[phi^2]): the mean's share of the activation's second "
            "moment, which BN's batch variance leaves out, drives it (1 / pi = 0.318 for the "
            "ReLU, 0.255 with the leak). The weights still cancel; only a = 1, the linear net, "
            "brings it to 1."
        ),
        hints=[
            (
                leaky_relu_factor(0.0),
                "1.211 is the ReLU's factor; with the leak, E[phi'^2] = (1 + a^2) / 2 and the "
                "mean of phi(z) is (1 - a) / sqrt(2 pi).",
            ),
            (
                1.0,
                "you used E[phi^2] for the batch variance: BN divides by the standard deviation "
                "over the batch, Var[phi] = E[phi^2] - E[phi]^2, and E[phi] = (1 - a) / sqrt(2 pi) "
                "is the same for every example.",
            ),
            (
                expected**2,
                "that is the factor of the gradient's variance; the standard deviation grows by "
                "its square root.",
            ),
            (
                wrong_sign,
                "the negative half pulls the mean down: E[phi] = (1 - a) / sqrt(2 pi), not "
                "(1 + a) / sqrt(2 pi).",
            ),
            (
                expected**50,
                "that is the growth over 50 layers; the question asks for one layer.",
            ),
            (
                1 / expected,
                "inverted: going down, the gradient grows, by a factor above 1.",
            ),
        ],
    )


leaky_explosion = exercise(
    "ch5.leaky-explosion",
    "This section's batch-normalized plain net with a leaky ReLU of slope 0.1 instead of the "
    "ReLU: the factor by which the gradient's standard deviation grows per layer going down, "
    "sqrt(E[phi'(z)^2] / Var[phi(z)]) for z ~ N(0, 1).",
    solution=leaky_relu_factor,
    wrong_answers=[
        (math.sqrt(math.pi / (math.pi - 1)), "ReLU's factor"),
        (1.0, "E[phi^2] for the batch variance"),
        (leaky_relu_factor() ** 2, "square root"),
        (1.2714, "pulls the mean down"),
        (leaky_relu_factor() ** 50, "over 50 layers"),
        (1 / leaky_relu_factor(), "inverted"),
        (2.0, "too large"),
        ("1.16", "plain number"),
    ],
)(_check_leaky_explosion)
