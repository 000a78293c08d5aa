"""Chapter 5 exercise on what a shortcut does to the direct path: He et al.'s shortcut
variants (their Table 1)."""

from __future__ import annotations

from . import correct, exercise, wrong

#: He et al. (2016b), Table 1: CIFAR-10 test error (%) of ResNet-110 with each shortcut
#: ("fail": above 20%).
PAPER_TABLE1 = {
    "identity": 6.61,
    "constant_scaling_both": 12.35,  # 0.5 on the shortcut and on F ("frozen gating")
    "exclusive_gating": 8.70,  # b_g = -6
    "shortcut_gating": 12.86,  # b_g = 0
    "conv_shortcut": 12.22,
    "dropout_shortcut": float("inf"),  # fail
    "constant_scaling": float("inf"),  # 0.5 on the shortcut only: fail
}

_WHY = {
    "constant_scaling_both": "0.5 on every shortcut multiplies the direct path by 0.5^54 (12.35%).",
    "constant_scaling": "0.5 on the shortcut alone did not even converge (fail, > 20%).",
    "shortcut_gating": "with b_g = 0 the gate 1 - g starts near 1/2: a scaling by about 0.5 per block again (12.86%).",
    "conv_shortcut": "54 stacked 1x1 convolutions make the direct path a product of matrices (12.22%).",
    "dropout_shortcut": "a 0.5 dropout mask is a random scaling with mean 0.5: it failed to converge (> 20%).",
}


def _check_shortcut_winner(answer):
    if not isinstance(answer, str):
        return wrong("give the variant's name as a string, e.g. 'conv_shortcut'.")
    name = answer.strip()
    if name == "identity":
        return wrong(
            "the identity is the baseline (6.61%): the question asks which of the *other* variants came closest."
        )
    if name == "exclusive_gating":
        return correct(
            "8.70%: with b_g = -6 the shortcut's gate 1 - g(x) starts at 1 - sigmoid(-6) = 0.9975, "
            "the nearest to an identity of all the variants, though the same gate nearly shuts F."
        )
    if name in _WHY:
        return wrong(f"{_WHY[name]} Which variant starts closest to the identity?")
    return wrong(
        f"{name!r} is not one of the variants: use a name of godeep.residual.SHORTCUT_VARIANTS."
    )


shortcut_winner = exercise(
    "ch5.shortcut-winner",
    "Of the non-identity shortcuts of He et al.'s Table 1 (constant_scaling_both, exclusive_gating with b_g = -6, "
    "shortcut_gating with b_g = 0, conv_shortcut, dropout_shortcut), which gave ResNet-110 the lowest test error?",
    solution=lambda: min((v, k) for k, v in PAPER_TABLE1.items() if k != "identity")[1],
    wrong_answers=[
        ("identity", "baseline"),
        ("conv_shortcut", "1x1 convolutions"),
        ("shortcut_gating", "near 1/2"),
        ("constant_scaling_both", "0.5^54"),
        ("dropout_shortcut", "random scaling"),
        ("highway", "not one of"),
        (3, "string"),
    ],
)(_check_shortcut_winner)
