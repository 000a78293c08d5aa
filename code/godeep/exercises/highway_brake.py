"""Chapter 4 exercise on the highway gate as a brake: how much one SGD step on the transform
moves a highway layer's output, next to a plain layer's (section 4.5)."""

from __future__ import annotations

import math

from . import close_to, exercise

#: The section's closed gates: b_T = -2.
GATE_BIAS = -2.0


def sigmoid(z: float) -> float:
    """``1 / (1 + exp(-z))``."""
    return 1.0 / (1.0 + math.exp(-z))


def step_ratio(gate_bias: float = GATE_BIAS) -> float:
    """First-order change of a highway layer's output after one SGD step on ``W_H``, over a plain
    layer's (same ``W_H``, input, upstream gradient and learning rate), with the gate fixed at
    ``T = sigmoid(b_T)``: the gradient reaching ``W_H`` is scaled by ``T`` and so is the output's
    response to the step, ``T^2``."""
    if not math.isfinite(gate_bias):
        raise ValueError(f"gate_bias must be finite, got {gate_bias}")
    return sigmoid(gate_bias) ** 2


def _check_highway_step(answer):
    t = sigmoid(GATE_BIAS)
    expected = step_ratio()
    return close_to(
        answer,
        expected,
        rtol=1e-2,
        what="the ratio",
        right=(
            f"T^2 = sigmoid(-2)^2 = {t:.4f}^2 = {expected:.4f}. The gate scales the gradient on "
            "its way back to W_H by T, so the step is T times the plain layer's, and it scales "
            "the step's effect on the output by T again. An SGD learning rate "
            f"1 / T^2 = {1 / expected:.0f} times larger would make up for both; the section's "
            "10 times larger rate made up for part of it."
        ),
        hints=[
            (
                t,
                "T = 0.119 is one factor: the output's response to a given step. The step itself "
                "comes from a gradient that reached W_H through the same gate, scaled by T too.",
            ),
            (
                1 - t,
                "1 - T is the carry gate, on the shortcut x; the transform H(x) is scaled by T.",
            ),
            (
                (1 - t) ** 2,
                "1 - T is the carry gate, on the shortcut x; the transform H(x) and its gradient "
                "are scaled by T.",
            ),
            (
                math.exp(2 * GATE_BIAS),
                "sigmoid(-2) = 1 / (1 + e^2) = 0.119, not e^-2 = 0.135: square that.",
            ),
            (
                1 / expected,
                "inverted: the question asks for the highway layer's change as a fraction of the "
                "plain layer's, which is below 1; 1 / T^2 is the learning-rate factor that makes "
                "up for it.",
            ),
            (
                1 / t,
                "inverted, and one factor of T short: the highway layer's change is the smaller "
                "one, and both the gradient and the output's response pass through T.",
            ),
            (
                1.0,
                "the gate is not neutral: with b_T = -2 it lets through only T = 0.119 of H(x), "
                "forward and backward.",
            ),
        ],
    )


highway_step = exercise(
    "ch4.highway-step",
    "A highway layer with b_T = -2 and W_T = 0 (so T = sigmoid(-2) everywhere) and a plain layer "
    "relu(W_H x + b_H) with the same W_H, b_H, input and upstream gradient: after one small SGD "
    "step on W_H, the highway layer's output change as a fraction of the plain layer's.",
    solution=step_ratio,
    wrong_answers=[
        (sigmoid(-2.0), "one factor"),
        (1 - sigmoid(-2.0), "carry gate"),
        ((1 - sigmoid(-2.0)) ** 2, "carry gate"),
        (math.exp(-4.0), "not e^-2"),
        ((1 + math.exp(2.0)) ** 2, "inverted"),
        (1 + math.exp(2.0), "one factor of T short"),
        (1.0, "not neutral"),
        (0.5, "too large"),
        ("0.014", "plain number"),
    ],
)(_check_highway_step)
