"""Chapter 5 exercises on the paths of a residual net: path lengths and the shattered-gradients
autocorrelation."""

from __future__ import annotations

import math

from . import close_to, exercise


def _autocorrelation_solution() -> float:
    g = [1.0, 2.0, 3.0, 2.0, 1.0]
    mean = sum(g) / len(g)
    c = [v - mean for v in g]
    return sum(a * b for a, b in zip(c[:-1], c[1:])) / sum(v * v for v in c)


def _check_autocorrelation(answer):
    expected = _autocorrelation_solution()  # 0.16 / 2.8
    g = [1.0, 2.0, 3.0, 2.0, 1.0]
    return close_to(
        answer,
        expected,
        rtol=1e-3,
        what="rho(1)",
        right=f"rho(1) = 0.16 / 2.8 = {expected:.4f}: centred, and normalized by the total energy.",
        advice="centre g, multiply neighbours, sum, and divide by the sum of squares.",
        hints=[
            (
                sum(a * b for a, b in zip(g[:-1], g[1:])) / sum(v * v for v in g),
                "subtract the mean first: rho is computed on g - mean(g).",
            ),
            (
                0.0,
                "that is np.corrcoef(g[:-1], g[1:]): it centres and normalizes each shifted piece "
                "separately; the definition uses one mean and the whole signal's energy.",
            ),
            (
                0.16 / 2.8 * 5 / 4,
                "normalize by the total energy sum (g_i - mean)^2, without rescaling by n / (n - k).",
            ),
            (1.0, "rho(0) = 1 always; the question asks for lag k = 1."),
        ],
    )


autocorrelation_lag1 = exercise(
    "ch5.autocorrelation-lag1",
    "Lag-1 autocorrelation rho(1) of the gradient signal g = (1, 2, 3, 2, 1).",
    solution=_autocorrelation_solution,
    wrong_answers=[
        (16 / 19, "subtract the mean"),
        (0.0, "np.corrcoef"),
        (1.0, "rho(0)"),
        (0.3, "not quite"),
        ("x", "plain number"),
    ],
)(_check_autocorrelation)


def _short_paths_solution() -> float:
    return sum(math.comb(20, k) for k in range(6)) / 2**20


def _check_short_paths(answer):
    expected = _short_paths_solution()
    return close_to(
        answer,
        expected,
        rtol=1e-3,
        what="the fraction",
        fraction=True,
        right=f"sum_(k<=5) C(20, k) / 2^20 = {expected:.4f}: about 2% of the paths are that short.",
        advice="count C(20, k) paths of each length k = 0..5 and divide by 2^20.",
        hints=[
            (
                sum(math.comb(20, k) for k in range(5)) / 2**20,
                "'at most 5' includes paths of length 5: sum k = 0..5.",
            ),
            (
                math.comb(20, 5) / 2**20,
                "that is the share of length exactly 5; the question asks for lengths 0 to 5.",
            ),
            (
                sum(math.comb(20, k) for k in range(1, 6)) / 2**20,
                "the path through no branch at all (k = 0, all shortcuts) counts too.",
            ),
            (6 / 21, "path lengths are not uniform: there are C(20, k) paths of length k."),
            (expected * 100, "give a fraction, not a percentage."),
        ],
    )


short_paths = exercise(
    "ch5.short-paths",
    "Fraction of the 2^20 paths through a 20-block residual net that pass through at most 5 branches.",
    solution=_short_paths_solution,
    wrong_answers=[
        (sum(math.comb(20, k) for k in range(5)) / 2**20, "includes paths of length 5"),
        (math.comb(20, 5) / 2**20, "exactly 5"),
        (6 / 21, "not uniform"),
        (2.07, "percentage"),
        (0.5, "not quite"),
        ("x", "plain number"),
    ],
)(_check_short_paths)
