"""Exercises of Chapter 5, "Understanding residual learning"."""

from __future__ import annotations

import math

from . import as_number, correct, exercise, wrong


def _check_lambda_power(answer):
    """Compare in log space: the expected value is ~1e-16, where absolute tolerances mean nothing."""
    try:
        value = as_number(answer, "a number (the factor)")
    except TypeError as error:
        return wrong(f"{error}. Give the factor as a plain number.")
    expected = 0.5**54
    if not math.isfinite(value) or value <= 0:
        return wrong("the factor is a product of positive numbers: it must be positive and finite.")
    if math.isclose(value, expected, rel_tol=1e-2):
        return correct(f"0.5^54 = {expected:.3g}: each block only halves the gradient, but 54 halvings leave nothing.")
    hints = [
        (0.5 * 54, "you multiplied lambda by the depth: the chain rule multiplies one factor of lambda per block, lambda^(L-l)."),
        (0.5**53, "off by one: there are L - l = 54 shortcuts between x_l and x_L."),
        (0.5**55, "off by one: there are L - l = 54 shortcuts between x_l and x_L."),
        (1.0, "that would be the identity shortcut (lambda = 1); here each shortcut multiplies by 0.5."),
        (1.5**54, "with zero branches there is no '1 +' term: the factor per block is lambda, not 1 + lambda."),
        (2.0**54, "the gradient goes down through the same scalings as the signal goes up: multiply by lambda, do not divide."),
    ]
    for typical, message in hints:
        if math.isclose(value, typical, rel_tol=1e-2):
            return wrong(message)
    factor = value / expected
    return wrong(f"the factor is {'too large' if factor > 1 else 'too small'} by about {max(factor, 1 / factor):.3g}x; write x_L in terms of x_l first.")


lambda_power = exercise(
    "ch5.lambda-power",
    "Factor by which dE/dx_l shrinks over L - l = 54 blocks whose shortcuts scale by lambda = 0.5 and whose branches are zero.",
    solution=lambda: 0.5**54,
    wrong_answers=[(27.0, "multiplied lambda by the depth"), (0.5**53, "off by one"), (1.0, "identity shortcut"),
                   (1.5**54, "no '1 +'"), (2.0**54, "do not divide"), (-1.0, "positive"), ("tiny", "plain number"), (1e-3, "too large")],
)(_check_lambda_power)


def _check_gpt2_scale(answer):
    try:
        value = as_number(answer, "a number (the factor)")
    except TypeError as error:
        return wrong(f"{error}. Give the factor as a plain number.")
    expected = 1 / math.sqrt(24)
    if math.isclose(value, expected, rel_tol=1e-2):
        return correct(f"N = 2 x 12 = 24 residual layers, factor 1/sqrt(24) = {expected:.3f}.")
    hints = [
        (1 / math.sqrt(12), "each block has two residual layers (attention and MLP): N = 24, not 12."),
        (1 / 24, "the factor is 1/sqrt(N), not 1/N: it keeps the *variance* of a sum of N branches in check."),
        (1 / 12, "the factor is 1/sqrt(N), with N = 24 residual layers."),
        (math.sqrt(24), "the weights are scaled down, not up: 1/sqrt(N)."),
    ]
    for typical, message in hints:
        if math.isclose(value, typical, rel_tol=1e-2):
            return wrong(message)
    return wrong(f"not quite: GPT-2 scales by 1/sqrt(N), N the number of residual layers (got {value:.3g}).")


gpt2_scale = exercise(
    "ch5.gpt2-scale",
    "Factor by which GPT-2's initialization scales each residual branch's output projection in a 12-block model.",
    solution=lambda: 1 / math.sqrt(24),
    wrong_answers=[(1 / math.sqrt(12), "two residual layers"), (1 / 24, "not 1/N"), (math.sqrt(24), "scaled down"), (0.5, "not quite"), ("a", "plain number")],
)(_check_gpt2_scale)


def _autocorrelation_solution() -> float:
    g = [1.0, 2.0, 3.0, 2.0, 1.0]
    mean = sum(g) / len(g)
    c = [v - mean for v in g]
    return sum(a * b for a, b in zip(c[:-1], c[1:])) / sum(v * v for v in c)


def _check_autocorrelation(answer):
    try:
        value = as_number(answer, "a number (rho(1))")
    except TypeError as error:
        return wrong(f"{error}. Give rho(1) as a plain number.")
    expected = _autocorrelation_solution()  # 0.16 / 2.8
    if math.isclose(value, expected, rel_tol=1e-3):
        return correct(f"rho(1) = 0.16 / 2.8 = {expected:.4f}: centred, and normalized by the total energy.")
    g = [1.0, 2.0, 3.0, 2.0, 1.0]
    hints = [
        (sum(a * b for a, b in zip(g[:-1], g[1:])) / sum(v * v for v in g), "subtract the mean first: rho is computed on g - mean(g)."),
        (0.0, "that is np.corrcoef(g[:-1], g[1:]): it centres and normalizes each shifted piece separately; the definition uses one mean and the whole signal's energy."),
        (0.16 / 2.8 * 5 / 4, "normalize by the total energy sum (g_i - mean)^2, without rescaling by n / (n - k)."),
        (1.0, "rho(0) = 1 always; the question asks for lag k = 1."),
    ]
    for typical, message in hints:
        if math.isclose(value, typical, rel_tol=1e-3):
            return wrong(message)
    return wrong(f"not quite ({value:.4g}): centre g, multiply neighbours, sum, and divide by the sum of squares.")


autocorrelation_lag1 = exercise(
    "ch5.autocorrelation-lag1",
    "Lag-1 autocorrelation rho(1) of the gradient signal g = (1, 2, 3, 2, 1).",
    solution=_autocorrelation_solution,
    wrong_answers=[(16 / 19, "subtract the mean"), (0.0, "np.corrcoef"), (1.0, "rho(0)"), (0.3, "not quite"), ("x", "plain number")],
)(_check_autocorrelation)


def _short_paths_solution() -> float:
    return sum(math.comb(20, k) for k in range(6)) / 2**20


def _check_short_paths(answer):
    try:
        value = as_number(answer, "a number (a fraction between 0 and 1)")
    except TypeError as error:
        return wrong(f"{error}. Give the fraction as a plain number.")
    expected = _short_paths_solution()
    if math.isclose(value, expected, rel_tol=1e-3):
        return correct(f"sum_(k<=5) C(20, k) / 2^20 = {expected:.4f}: about 2% of the paths are that short.")
    hints = [
        (sum(math.comb(20, k) for k in range(5)) / 2**20, "'at most 5' includes paths of length 5: sum k = 0..5."),
        (math.comb(20, 5) / 2**20, "that is the share of length exactly 5; the question asks for lengths 0 to 5."),
        (sum(math.comb(20, k) for k in range(1, 6)) / 2**20, "the path through no branch at all (k = 0, all shortcuts) counts too."),
        (6 / 21, "path lengths are not uniform: there are C(20, k) paths of length k."),
        (expected * 100, "give a fraction, not a percentage."),
    ]
    for typical, message in hints:
        if math.isclose(value, typical, rel_tol=1e-3):
            return wrong(message)
    if not 0 <= value <= 1:
        return wrong("a fraction of paths lies between 0 and 1.")
    return wrong(f"not quite ({value:.4g}): count C(20, k) paths of each length k = 0..5 and divide by 2^20.")


short_paths = exercise(
    "ch5.short-paths",
    "Fraction of the 2^20 paths through a 20-block residual net that pass through at most 5 branches.",
    solution=_short_paths_solution,
    wrong_answers=[(sum(math.comb(20, k) for k in range(5)) / 2**20, "includes paths of length 5"), (math.comb(20, 5) / 2**20, "exactly 5"),
                   (6 / 21, "not uniform"), (2.07, "percentage"), (0.5, "not quite"), ("x", "plain number")],
)(_check_short_paths)
