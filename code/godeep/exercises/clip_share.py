"""Chapter 1 exercise on gradient clipping by global norm: one factor for every layer, so it
cannot change the first layer's share of the gradient (section 1.4)."""

from __future__ import annotations

from . import Feedback, close_to, exercise

#: One step of a deep sigmoid network: the output layer's weight gradient has norm OUT, the
#: first layer's FIRST, and all the gradients together (the global norm) GLOBAL; clip at C.
OUT, FIRST, GLOBAL, C = 3.0, 2e-6, 5.0, 1.0


def clipped_norm(norm: float, global_norm: float, c: float) -> float:
    """A layer's gradient norm after clipping by global norm (eq-ch1-clip-norm):
    ``norm * min(1, c / global_norm)``, the same factor for every layer."""
    if min(norm, global_norm) < 0 or c <= 0:
        raise ValueError(f"norms must be >= 0 and c > 0, got {norm}, {global_norm}, {c}")
    if global_norm == 0:
        return norm
    return norm * min(1.0, c / global_norm)


def _check_clip_share(answer) -> Feedback:
    expected = clipped_norm(FIRST, GLOBAL, C)
    return close_to(
        answer,
        expected,
        rtol=1e-2,
        what="the first layer's gradient norm after clipping",
        right=(
            f"{FIRST:g} x min(1, {C:g}/{GLOBAL:g}) = {expected:.2g}. Every layer is multiplied by "
            f"the same factor {C / GLOBAL:g}, so the first layer keeps its share of the gradient "
            f"({FIRST / OUT:.2g} of the output layer's, before and after): the clip shortened the "
            "step and left the vanishing exactly as it was. Clipping never lengthens a gradient."
        ),
        hints=[
            (
                FIRST,
                "clipping by global norm does not look at each layer on its own: when the whole "
                "gradient is longer than c, *every* layer, the small first one included, is "
                "multiplied by min(1, c/n). (A clip by value, or per layer, would leave it alone.)",
            ),
            (
                FIRST * GLOBAL / C,
                "you multiplied by n/c; the clip multiplies by c/n, a factor at most 1: it only "
                "ever shortens a gradient.",
            ),
            (
                C / GLOBAL,
                "that is the clipping factor min(1, c/n); multiply the layer's norm by it.",
            ),
            (
                C,
                "clipping caps the norm of *all* the gradients together at c, it does not set each "
                "layer's norm to c, and it never lengthens one.",
            ),
            (
                FIRST * C / OUT,
                f"n is the global norm of all the layers together ({GLOBAL:g}), not the output "
                f"layer's ({OUT:g}).",
            ),
            (
                FIRST * (C / GLOBAL) ** 2,
                "the factor is c/n, not (c/n)^2: the norm scales linearly with the gradient.",
            ),
        ],
    )


clip_share = exercise(
    "ch1.clip-share",
    f"One step of a deep sigmoid network: output layer's gradient norm {OUT:g}, first layer's "
    f"{FIRST:g}, global norm {GLOBAL:g}. Clipped by global norm at c = {C:g}: the first "
    "layer's gradient norm after the clip?",
    solution=lambda: clipped_norm(FIRST, GLOBAL, C),
    wrong_answers=[
        (FIRST, "every* layer"),
        (FIRST * GLOBAL / C, "n/c"),
        (C / GLOBAL, "clipping factor"),
        (C, "does not set each"),
        (FIRST * C / OUT, "not the output"),
        (FIRST * (C / GLOBAL) ** 2, "not (c/n)^2"),
        (1e-3, "too large"),
    ],
)(_check_clip_share)
