"""Chapter 2 exercise on orthogonal weights and their gain: orthogonal fixes the spread of the
Jacobian's singular values, not their scale (section 2.4)."""

from __future__ import annotations

from . import Feedback, close_to, exercise

#: A deep linear network with orthogonal square weights, each times the gain GAIN.
DEPTH, GAIN = 200, 1.01


def orthogonal_singular_value(depth: int, gain: float) -> float:
    """Every singular value of J = (g Q_L) ... (g Q_1), Q_l orthogonal: ``gain ** depth``."""
    if depth < 1 or gain <= 0:
        raise ValueError(f"depth must be >= 1 and gain > 0, got {depth}, {gain}")
    return gain**depth


def _check_isometry_gain(answer) -> Feedback:
    expected = orthogonal_singular_value(DEPTH, GAIN)
    return close_to(
        answer,
        expected,
        rtol=1e-2,
        what="the largest singular value",
        hint_rtol=1e-3,  # 1.01 (one layer's) and 1 (gain 1) are 1% apart
        right=(
            f"{GAIN}^{DEPTH} = {expected:.3g}, and so are the smallest and every other: a product "
            "of orthogonal matrices is orthogonal, so J is 1.01^200 times an orthogonal matrix. "
            "The spread is still zero (the section's isometric share is 1, since it compares each "
            "singular value with their root mean square), but the scale is 7.3 at depth 200: "
            "orthogonal weights fix the spread, only the gain fixes the scale, and a 1% error "
            "in it compounds over the depth."
        ),
        hints=[
            (
                1.0,
                "orthogonal weights have all their singular values at one only at gain 1; times "
                "the gain g each layer has them all at g, and the product multiplies them.",
            ),
            (GAIN, "that is one layer's; J is the product of all 200 layers' matrices."),
            (
                1 + DEPTH * (GAIN - 1),
                "1 + 200 x 0.01 adds the excess of each layer; the product multiplies the factors, "
                "and they compound: (1.01)^200.",
            ),
            (
                GAIN ** (2 * DEPTH),
                "that is sigma^2 (the mean square); the question asks for the singular value.",
            ),
        ],
    )


isometry_gain = exercise(
    "ch2.isometry-gain",
    f"A {DEPTH}-layer linear network with square orthogonal weights, each times the gain "
    f"g = {GAIN}: the largest singular value of its input-output Jacobian?",
    solution=lambda: orthogonal_singular_value(DEPTH, GAIN),
    wrong_answers=[
        (1.0, "only at gain 1"),
        (GAIN, "one layer's"),
        (1 + DEPTH * (GAIN - 1), "compound"),
        (GAIN ** (2 * DEPTH), "sigma^2"),
        (100.0, "too large"),
    ],
)(_check_isometry_gain)
