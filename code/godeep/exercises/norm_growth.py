"""Chapter 3 exercise on scale invariance: the gradient of a weight that feeds a BatchNorm is
orthogonal to it, so every plain SGD step lengthens it (section 3.6)."""

from __future__ import annotations

import math

from . import Feedback, close_to, exercise

#: One unit's weight feeding a BatchNorm, plain SGD (no momentum, no weight decay).
NORM, GRAD_NORM, LR = 3.0, 8.0, 0.5


def norm_after_step(norm: float, grad_norm: float, lr: float) -> float:
    """eq-ch3-norm-growth: the step -lr * grad is orthogonal to w, so
    ``||w'|| = sqrt(||w||^2 + lr^2 ||grad||^2)``."""
    if min(norm, grad_norm, lr) < 0:
        raise ValueError(f"norms and lr must be >= 0, got {norm}, {grad_norm}, {lr}")
    return math.hypot(norm, lr * grad_norm)


def _check_norm_growth(answer) -> Feedback:
    expected = norm_after_step(NORM, GRAD_NORM, LR)
    step = LR * GRAD_NORM
    return close_to(
        answer,
        expected,
        rtol=1e-2,
        what="the weight's norm after the step",
        right=(
            f"sqrt(3^2 + (0.5 x 8)^2) = {expected:g}: the step of length {step:g} is at a right "
            "angle to w (BatchNorm makes the loss blind to w's length, so w . grad = 0), and "
            "Pythagoras lengthens w whatever the sign of the gradient. The effective learning "
            f"rate eta / ||w||^2 falls from {LR / NORM**2:.3f} to {LR / expected**2:.3f} in this "
            "one step: a large step spends itself on lengthening the weight."
        ),
        hints=[
            (
                NORM,
                "scale invariance leaves the *loss* unchanged when w is rescaled; the step still "
                "changes w, and at a right angle to it, so its length grows.",
            ),
            (
                NORM + step,
                "adding the lengths assumes the step points along w; the gradient of a "
                "scale-invariant loss is orthogonal to w: add the squares (Pythagoras).",
            ),
            (
                abs(NORM - step),
                "a step against w would shorten it, but the gradient here is orthogonal to w: "
                "add the squares (Pythagoras).",
            ),
            (
                math.hypot(NORM, GRAD_NORM),
                "the step is the learning rate times the gradient: its length is 0.5 x 8 = 4.",
            ),
            (expected**2, "that is the squared norm; take its square root."),
        ],
    )


norm_growth = exercise(
    "ch3.norm-growth",
    f"A unit's weight feeding a BatchNorm has norm {NORM:g} and gradient norm {GRAD_NORM:g}; one "
    f"plain SGD step at learning rate {LR} (no momentum, no weight decay): its norm after?",
    solution=lambda: norm_after_step(NORM, GRAD_NORM, LR),
    wrong_answers=[
        (NORM, "right angle to it"),
        (NORM + LR * GRAD_NORM, "adding the lengths"),
        (1.0, "step against w"),
        (math.hypot(NORM, GRAD_NORM), "0.5 x 8"),
        (25.0, "squared norm"),
        (100.0, "too large"),
    ],
)(_check_norm_growth)
