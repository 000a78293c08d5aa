"""Chapter 3 exercise on the Kaiming control of section 3.4: how much of BatchNorm's lead over
a badly initialized network the initialization alone recovers."""

from __future__ import annotations

from . import Feedback, close_to, exercise

#: Test accuracies at each network's best learning rate (made-up, of the section's kind).
NAIVE, KAIMING, BATCH_NORM = 0.50, 0.62, 0.66


def recovered_share(naive: float, kaiming: float, batch_norm: float) -> float:
    """The share of BatchNorm's lead over the naive network that Kaiming's initialization
    recovers without normalization: ``(kaiming - naive) / (batch_norm - naive)``."""
    if batch_norm == naive:
        raise ValueError("BatchNorm has no lead over the naive network: the share is undefined")
    return (kaiming - naive) / (batch_norm - naive)


def _check_bn_lead(answer) -> Feedback:
    expected = recovered_share(NAIVE, KAIMING, BATCH_NORM)
    return close_to(
        answer,
        expected,
        rtol=1e-2,
        what="the recovered share",
        fraction=True,
        right=(
            f"(0.62 - 0.50) / (0.66 - 0.50) = {expected:.2f}: three quarters of BatchNorm's "
            "16-point lead over the naive network is what a good initialization buys without "
            "any normalization; only 4 points are BatchNorm's own. That is why the section trains "
            "the Kaiming arm: against a badly initialized baseline, a normalization layer gets "
            "the credit for fixing the initialization too."
        ),
        hints=[
            (
                (BATCH_NORM - KAIMING) / (BATCH_NORM - NAIVE),
                "that is the share BatchNorm keeps, its lead over the Kaiming network; the "
                "question asks for the share Kaiming's initialization recovers.",
            ),
            (
                KAIMING - NAIVE,
                "0.12 is the Kaiming network's gain in accuracy; divide it by BatchNorm's lead over "
                "the naive network to get a share.",
            ),
            (
                KAIMING / BATCH_NORM,
                "a ratio of accuracies counts the part every network gets anyway; compare the "
                "*leads* over the naive network.",
            ),
            (
                (BATCH_NORM - KAIMING) / (KAIMING - NAIVE),
                "that compares BatchNorm's remaining lead with Kaiming's gain; the share divides "
                "Kaiming's gain by BatchNorm's whole lead over the naive network.",
            ),
        ],
    )


bn_lead = exercise(
    "ch3.bn-lead",
    f"Best test accuracies: naive init {NAIVE}, Kaiming init {KAIMING}, BatchNorm (naive init) "
    f"{BATCH_NORM}. What share of BatchNorm's lead over the naive network does Kaiming's "
    "initialization recover?",
    solution=lambda: recovered_share(NAIVE, KAIMING, BATCH_NORM),
    wrong_answers=[
        ((BATCH_NORM - KAIMING) / (BATCH_NORM - NAIVE), "keeps"),
        (KAIMING - NAIVE, "gain in accuracy"),
        (KAIMING / BATCH_NORM, "ratio of accuracies"),
        ((BATCH_NORM - KAIMING) / (KAIMING - NAIVE), "remaining lead"),
        (75, "between 0 and 1"),
    ],
)(_check_bn_lead)
