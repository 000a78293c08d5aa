"""Chapter 3 exercise on folding an inference-mode BatchNorm into the layer before it
(section 3.7, eq-ch3-fold)."""

from __future__ import annotations

import math

import numpy as np

from . import Feedback, correct, exercise, wrong

#: One channel: a 1x1 convolution (weight W, bias B) and then BatchNorm in inference mode with
#: running mean MU, running variance VAR, eps = 0, and affine GAMMA, BETA.
W, B, MU, VAR, GAMMA, BETA = 2.0, 1.0, 5.0, 4.0, 3.0, -1.0


def fold(w: float, b: float, mu: float, var: float, gamma: float, beta: float, eps: float = 0.0):
    """eq-ch3-fold: ``s = gamma / sqrt(var + eps)``, ``w' = s w``, ``b' = s (b - mu) + beta``."""
    if var + eps <= 0:
        raise ValueError(f"var + eps must be > 0, got {var + eps}")
    s = gamma / math.sqrt(var + eps)
    return s * w, s * (b - mu) + beta


def _folded() -> tuple[float, float]:
    return fold(W, B, MU, VAR, GAMMA, BETA)


def _hints() -> list[tuple[tuple[float, float], str]]:
    s, w_f, b_f = GAMMA / math.sqrt(VAR), *_folded()
    return [
        (
            (s * W, s * (B - MU)),
            "the weight is right; the bias forgot BatchNorm's shift beta, which is added after "
            "the scaling.",
        ),
        (
            fold(W, B, MU, VAR**2, GAMMA, BETA),
            "BatchNorm divides by the standard deviation sqrt(var + eps), not by the variance.",
        ),
        (
            (w_f, s * (0 - MU) + BETA),
            "the convolution's own bias b goes through the BatchNorm too: b' = s (b - mu) + beta.",
        ),
        (
            (w_f, s * B - MU + BETA),
            "the running mean is subtracted *before* the scaling: b' = s (b - mu) + beta, not "
            "s b - mu + beta.",
        ),
        (
            (W / s, (B - MU) / s + BETA),
            "the scale is gamma / sqrt(var), not sqrt(var) / gamma.",
        ),
        (
            (W, b_f),
            "the bias is right; the weight is scaled too: w' = s w.",
        ),
    ]


def _check_folding(answer) -> Feedback:
    if isinstance(answer, (str, bytes, dict)):
        return wrong("give two numbers, the folded weight and bias: (w_folded, b_folded).")
    try:
        got = np.asarray(answer, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return wrong("give two numbers, the folded weight and bias: (w_folded, b_folded).")
    if got.shape != (2,):
        return wrong(f"give two numbers, the folded weight and bias, got {got.size}.")
    if not np.all(np.isfinite(got)):
        return wrong("the folded weight and bias are finite numbers.")
    expected = np.array(_folded())
    if np.allclose(got, expected, rtol=1e-3, atol=1e-6):
        s = GAMMA / math.sqrt(VAR)
        return correct(
            f"s = gamma / sqrt(var) = {s:g}, w' = {s:g} x {W:g} = {expected[0]:g}, b' = {s:g} x "
            f"({B:g} - {MU:g}) + ({BETA:g}) = {expected[1]:g}. One multiply-add replaces the "
            "convolution and the BatchNorm, and gives the same output for every input, as long as "
            "the running statistics stay those of the weights: prune or retrain the convolution "
            "and both the statistics and the folded layer are out of date."
        )
    for typical, message in _hints():
        if np.allclose(got, typical, rtol=1e-3, atol=1e-6):
            return wrong(message)
    if np.allclose(got[::-1], expected, rtol=1e-3, atol=1e-6):
        return wrong("right numbers, wrong order: give (w_folded, b_folded).")
    return wrong(
        "compute s = gamma / sqrt(var + eps); the folded layer must give s (w x + b - mu) + beta "
        "for every x."
    )


folding = exercise(
    "ch3.folding",
    f"A 1x1 conv (w = {W:g}, b = {B:g}) then inference-mode BatchNorm (running mean {MU:g}, "
    f"running variance {VAR:g}, eps = 0, gamma = {GAMMA:g}, beta = {BETA:g}): the folded "
    "(w', b')?",
    solution=_folded,
    wrong_answers=[
        ((3.0, -6.0), "beta"),
        ((0.75 * 2, 0.75 * -4 - 1), "standard deviation"),
        ((3.0, -8.5), "own bias"),
        ((3.0, -4.5), "*before* the scaling"),
        ((2.0, -7.0), "weight is scaled too"),
        ((-7.0, 3.0), "wrong order"),
        ((1.0, 2.0, 3.0), "give two numbers"),
        ("3, -7", "give two numbers"),
    ],
)(_check_folding)
