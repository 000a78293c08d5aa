"""Chapter 3 exercise on RMSNorm and a common offset: how much of RMSNorm's output sits in its
mean once every feature is shifted by ``b`` (section 3.8)."""

from __future__ import annotations

import math

from . import close_to, exercise

#: The exercise's shift; the vector ``z`` before it has mean exactly 0 and RMS 1.
SHIFT = 3.0


def mean_energy_share(shift: float, rms: float = 1.0) -> float:
    """Share of RMSNorm's output energy (``mean(y^2) = 1``, eps = 0) in its mean, ``ybar^2``,
    for ``x = z + shift`` where ``z`` has mean 0 and RMS ``rms``:
    ``RMS(x)^2 = rms^2 + shift^2`` and ``ybar = shift / RMS(x)``, so
    ``ybar^2 = shift^2 / (rms^2 + shift^2)``."""
    if not rms > 0 or not math.isfinite(shift):
        raise ValueError(f"need rms > 0 and a finite shift, got rms={rms}, shift={shift}")
    return shift**2 / (rms**2 + shift**2)


def _rms_mean_share_solution() -> float:
    return mean_energy_share(SHIFT)


def _check_rms_mean_share(answer):
    b = SHIFT
    expected = _rms_mean_share_solution()
    return close_to(
        answer,
        expected,
        rtol=5e-3,
        what="the share of the energy in the mean",
        fraction=True,
        right=(
            f"b^2 / (1 + b^2) = 9 / 10 = {expected:.2f}. RMS(x)^2 = RMS(z)^2 + b^2 = 10 (the cross "
            "term vanishes because z has mean 0), and the mean of y is b / RMS(x) = 3 / sqrt(10). "
            "What varies from feature to feature keeps only 1 - 0.9 = 0.1 of the energy: it is "
            f"z / sqrt(10), shrunk by {1 / math.sqrt(1 + b**2):.3f}. LayerNorm subtracts the mean "
            "first and returns z itself, whatever b is."
        ),
        hints=[
            (
                0.0,
                "that is LayerNorm, which subtracts the mean before dividing; RMSNorm divides "
                "x = z + b as it is, so the offset stays in its output.",
            ),
            (
                b / math.sqrt(1 + b**2),
                "that is the mean of y, b / RMS(x) = 3 / sqrt(10); its share of the energy "
                "mean(y^2) = 1 is its square.",
            ),
            (
                1 / (1 + b**2),
                "0.1 is the share of the part that varies from feature to feature, z / RMS(x); "
                "the question asks for the mean's share.",
            ),
            (
                b / (1 + b),
                "energies add as squares: RMS(x)^2 = RMS(z)^2 + b^2 = 1 + 9, and ybar^2 = 9 / 10.",
            ),
            (
                1 / math.sqrt(1 + b**2),
                "1 / sqrt(10) is the factor by which the varying part z shrinks; its energy "
                "share is the square, 0.1, and the mean holds the rest.",
            ),
            (
                1.0,
                "not all of it: z still holds RMS(z)^2 / RMS(x)^2 = 1 / 10 of the energy. The "
                "share tends to 1 only as b grows without bound.",
            ),
        ],
    )


rms_mean_share = exercise(
    "ch3.rms-mean-share",
    "A vector z with mean exactly 0 and RMS 1 is shifted by b = 3 in every feature, x = z + 3, and "
    "passed through RMSNorm (eps = 0, no gain): what share of the output's energy, mean(y^2) = 1, "
    "sits in its mean, ybar^2?",
    solution=_rms_mean_share_solution,
    wrong_answers=[
        (0.0, "that is LayerNorm"),
        (3 / math.sqrt(10), "its square"),
        (0.1, "varies from feature to feature"),
        (0.75, "energies add as squares"),
        (1 / math.sqrt(10), "shrinks"),
        (1.0, "not all of it"),
        (9.0, "a fraction"),
        ("0.9", "plain number"),
    ],
)(_check_rms_mean_share)
