"""Chapter 5 exercise on the pre-norm residual stream and GPT-2's scaled initialization: the
variances of the branches add, and scaling N = 2L output projections by 1/sqrt(N) divides
their sum by N (section 5.4)."""

from __future__ import annotations

import math

from . import close_to, exercise

#: The section's 24-block Pre-LN Transformer: N = 2L = 48 residual branches; its stream starts
#: as a token plus a position embedding, each N(0, 1); the exercise's unscaled std of x_L.
BLOCKS, EMBEDDING_VAR, UNSCALED_STD = 24, 2.0, 4.4


def scaled_stream_std(
    unscaled_std: float = UNSCALED_STD,
    blocks: int = BLOCKS,
    embedding_var: float = EMBEDDING_VAR,
) -> float:
    """std of ``x_L = x_0 + sum of 2L branches`` after multiplying every branch's output
    projection by ``1 / sqrt(2L)``: each branch adds an independent term of variance ``v``,
    ``unscaled_std^2 = embedding_var + 2L v``, and the scaling leaves ``v / (2L)`` each, so
    ``Var[x_L] = embedding_var + v``."""
    if blocks < 1 or embedding_var < 0 or unscaled_std**2 < embedding_var:
        raise ValueError(
            f"need blocks >= 1 and unscaled_std^2 >= embedding_var >= 0, got {blocks}, "
            f"{unscaled_std}, {embedding_var}"
        )
    n = 2 * blocks
    branch_var = (unscaled_std**2 - embedding_var) / n
    return math.sqrt(embedding_var + n * (branch_var / n))


def _check_prenorm_stream(answer):
    expected = scaled_stream_std()
    n = 2 * BLOCKS
    v = (UNSCALED_STD**2 - EMBEDDING_VAR) / n
    return close_to(
        answer,
        expected,
        rtol=2e-2,
        what="the std of x_L",
        right=(
            f"sqrt(2 + v) = {expected:.2f}, with v = (4.4^2 - 2) / 48 = {v:.2f} per branch. "
            "The 48 branches' variances add, so each keeps 1/48 of its variance after the "
            "scaling, and together they add one v: the stream ends near its embeddings' size, "
            "whatever the depth. The section measured 1.45 to 1.63 over the two frameworks' "
            "seeds; the assumption that each branch adds the same, independent v holds only "
            "roughly."
        ),
        hints=[
            (
                scaled_stream_std(embedding_var=1.0),
                "the stream starts as a token embedding plus a position embedding, two "
                "independent N(0, 1): variance 2, not 1.",
            ),
            (
                math.sqrt(EMBEDDING_VAR + (UNSCALED_STD**2 - EMBEDDING_VAR) / BLOCKS),
                "N counts residual branches, two per block (attention and MLP): N = 2L = 48, "
                "and the stream has 48 of them, each with 1/48 of its variance.",
            ),
            (
                UNSCALED_STD / math.sqrt(n),
                "the scaling applies to the branches, not to the embeddings: x_0 keeps its "
                "variance 2.",
            ),
            (
                math.sqrt(EMBEDDING_VAR + (UNSCALED_STD**2 - EMBEDDING_VAR) / math.sqrt(n)),
                "multiplying weights by 1/sqrt(N) multiplies the branch's variance by 1/N, "
                "not by 1/sqrt(N).",
            ),
            (
                expected**2,
                "that is the variance of x_L; its standard deviation is the square root.",
            ),
            (
                UNSCALED_STD,
                "the scaling shrinks every branch's output; only the embeddings keep their size.",
            ),
            (
                math.sqrt(EMBEDDING_VAR),
                "the branches do not vanish: 48 of them with variance v / 48 add v in all.",
            ),
        ],
    )


prenorm_stream = exercise(
    "ch5.prenorm-stream",
    "A 24-block Pre-LN Transformer whose stream starts as token + position embeddings (each "
    "N(0, 1)) has std(x_L) = 4.4 at initialization. If each of its 2L branches adds an "
    "independent term of the same variance, what std does GPT-2's scaled initialization "
    "(output projections times 1/sqrt(2L)) leave?",
    solution=scaled_stream_std,
    wrong_answers=[
        (scaled_stream_std(embedding_var=1.0), "variance 2, not 1"),
        (math.sqrt(2 + (4.4**2 - 2) / 24), "two per block"),
        (UNSCALED_STD / math.sqrt(48), "not to the embeddings"),
        (math.sqrt(2 + (4.4**2 - 2) / math.sqrt(48)), "not by 1/sqrt(N)"),
        (scaled_stream_std() ** 2, "square root"),
        (4.4, "only the embeddings"),
        (math.sqrt(2), "do not vanish"),
        ("1.5", "plain number"),
    ],
)(_check_prenorm_stream)
