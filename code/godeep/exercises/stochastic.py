"""Chapter 5 exercise on stochastic depth: how many blocks a training step keeps under the
linear decay rule (section 5.9)."""

from __future__ import annotations

from . import close_to, exercise

#: The exercise's net: L blocks, the last one survives with probability p_L.
BLOCKS, P_LAST = 100, 0.2


def expected_survivors(blocks: int, p_last: float) -> float:
    """sum_l p_l with p_l = 1 - (l / L)(1 - p_L), l = 1..L: ``L - (1 - p_L)(L + 1) / 2``."""
    if blocks < 1 or not 0.0 <= p_last <= 1.0:
        raise ValueError(f"need blocks >= 1 and 0 <= p_L <= 1, got {blocks}, {p_last}")
    return blocks - (1.0 - p_last) * (blocks + 1) / 2


def _check_sd_blocks(answer):
    n, p = BLOCKS, P_LAST
    expected = expected_survivors(n, p)
    return close_to(
        answer,
        expected,
        rtol=1e-3,
        what="the expected number of blocks",
        right=(
            f"sum_l p_l = L - (1 - p_L)(L + 1)/2 = 100 - 0.8 x 101/2 = {expected:.1f}: a step "
            f"in 'batch' mode keeps {expected:.1f} of the 100 blocks on average, so a block that "
            f"skips a dropped branch saves {1 - expected / n:.1%} of the branch work. "
            "(godeep's and torchvision's stochastic_depth compute every branch and multiply "
            "by zero, so they save none of it.)"
        ),
        hints=[
            (
                n * (1 + p) / 2,
                "60 is L times the average of 1 and p_L: it assumes the rule starts at p = 1 "
                "(ConvNeXt's q (l - 1)/(L - 1), which never drops block 1). The paper's rule "
                "already drops block 1 with probability (1 - p_L)/L: sum p_l for l = 1..L.",
            ),
            (
                n - expected,
                "that is the expected number of blocks *dropped*, sum (1 - p_l); the question "
                "asks how many survive.",
            ),
            (
                n * p,
                "p_L is the last block's survival probability only; p_l falls linearly "
                "from near 1 at block 1.",
            ),
            (
                (3 * n - 1) / 4,
                "(3L - 1)/4 is the sum for p_L = 0.5; redo it with p_L = 0.2.",
            ),
            (
                float(n),
                "in 'batch' mode a dropped block is not needed for that step; count the blocks "
                "that survive on average, sum p_l.",
            ),
            (
                1 - expected / n,
                "that is the fraction of branch work saved (well done); the checker asks for "
                "the expected number of blocks kept, sum p_l.",
            ),
            (
                expected / n,
                "that is the fraction of blocks kept; give their expected number, out of 100.",
            ),
            (
                n * (1 - p),
                "1 - p_L = 0.8 is the last block's drop rate; the survival probability falls "
                "linearly from block 1 to block L, so average over the blocks.",
            ),
        ],
    )


sd_blocks = exercise(
    "ch5.sd-blocks",
    "A residual net of L = 100 blocks trained with stochastic depth, linear decay rule with p_L = 0.2: "
    "how many blocks does a training step keep on average?",
    solution=lambda: expected_survivors(BLOCKS, P_LAST),
    wrong_answers=[
        (60, "ConvNeXt"),
        (40.4, "*dropped*"),
        (20, "last block's survival"),
        (74.75, "p_L = 0.5"),
        (100, "survive on average"),
        (80, "average over the blocks"),
        (50, "too small"),
        (0.404, "fraction of branch work saved"),
        (0.596, "fraction of blocks kept"),
        ("59.6", "plain number"),
    ],
)(_check_sd_blocks)
