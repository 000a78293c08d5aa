"""Chapter 5 exercise on normalizer-free ResNets: the analytic scale beta of the residual
stream, transitions included (section 5.10)."""

from __future__ import annotations

import math

from ..core.residual import nf_expected_stds
from . import close_to, exercise

#: The section's 38-layer NF-ResNet: 3 stages of 6 blocks, alpha = 0.2.
STAGES, PER_STAGE, ALPHA = 3, 6, 0.2


def beta_at(block: int, per_stage: int = PER_STAGE, alpha: float = ALPHA) -> float:
    """beta of block ``block`` (1-based) of a net of ``STAGES`` stages, as
    :func:`godeep.core.residual.nf_expected_stds` computes it (eq. ch5-nf-block, transitions
    restarting at ``1 + alpha^2``)."""
    if block < 1 or block > STAGES * per_stage:
        raise ValueError(f"block must be in 1..{STAGES * per_stage}, got {block}")
    return nf_expected_stds([per_stage] * STAGES, alpha)[block - 1]


def _nf_beta_solution() -> float:
    return beta_at(STAGES * PER_STAGE)


def _check_nf_beta(answer):
    a2 = ALPHA**2
    last = STAGES * PER_STAGE
    expected = _nf_beta_solution()
    return close_to(
        answer,
        expected,
        rtol=2e-3,
        what="beta",
        right=(
            f"beta = sqrt(1.04 + 4 x 0.04) = sqrt(1.20) = {expected:.4f}. The transition (block "
            "13) divides the stream by its beta (sqrt(1.24)) and its conv shortcut restarts it at "
            "1 + alpha^2 = 1.04; blocks 14 to 17 then add alpha^2 each. Without the restarts it "
            f"would be sqrt(1 + 17 x 0.04) = {math.sqrt(1 + (last - 1) * a2):.3f}, growing with "
            "depth."
        ),
        hints=[
            (
                1 + 5 * a2,
                "1.20 is beta^2, the expected variance; beta is its square root.",
            ),
            (
                math.sqrt(1 + (last - 1) * a2),
                "that counts all 17 earlier blocks; the transitions (blocks 7 and 13) have a "
                "conv shortcut that sees h / beta, so the variance restarts at 1 + alpha^2 there.",
            ),
            (
                1 + (last - 1) * a2,
                "that is a variance, and it ignores the transitions, which restart the stream at "
                "1 + alpha^2.",
            ),
            (
                math.sqrt(1 + 6 * a2),
                "sqrt(1.24) is the beta of the transition block 13, or the stream *after* "
                "block 18; block 18 divides its input, after blocks 13 to 17.",
            ),
            (
                math.sqrt(1 + 4 * a2),
                "one block short: block 13 restarts the stream at 1 + alpha^2, and blocks 14, "
                "15, 16 and 17 add alpha^2 each.",
            ),
            (
                math.sqrt(1 + 5 * ALPHA),
                "each block adds alpha^2 = 0.04 to the variance, not alpha.",
            ),
            (1.0, "beta is 1 only for the first block; every block adds alpha^2 to the variance."),
        ],
    )


nf_beta = exercise(
    "ch5.nf-beta",
    "In this section's 38-layer NF-ResNet (3 stages of 6 blocks, alpha = 0.2, blocks 7 and 13 are the "
    "transitions), what beta does the last block, block 18, divide its input by?",
    solution=_nf_beta_solution,
    wrong_answers=[
        (1.2, "square root"),
        (math.sqrt(1.68), "all 17 earlier"),
        (1.68, "a variance"),
        (math.sqrt(1.24), "*after*"),
        (math.sqrt(1.16), "one block short"),
        (math.sqrt(2), "not alpha"),
        (1, "first block"),
        (1.5, "too large"),
        ("1.1", "plain number"),
    ],
)(_check_nf_beta)
