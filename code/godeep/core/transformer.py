"""Names, checks and synthetic tasks shared by both frameworks' Transformers (framework-free)."""

from __future__ import annotations

import numpy as np

from .. import validate
from ..validate import positive_int

__all__ = [
    "NORMS",
    "LN_EPS",
    "TASKS",
    "check_tokens",
    "check_pairs",
    "check_block",
    "sequence_task",
    "warmup_lr",
]

#: Where the LayerNorm sits: ``"post"`` (after the addition) or ``"pre"`` (before the branch).
NORMS = ("post", "pre")

#: LayerNorm epsilon, the PyTorch default (Keras' default is 1e-3: the twin sets 1e-5).
LN_EPS = 1e-5


def check_tokens(tokens, vocab: int) -> None:
    """Token values must index the embedding: ``0 <= token < vocab`` (both frameworks, eager)."""
    values = np.asarray(tokens)
    if values.size and (values.min() < 0 or values.max() >= vocab):
        raise ValueError(
            f"tokens must be in [0, {vocab}) (vocab_size={vocab}), got {values.min()} to {values.max()}"
        )


def check_pairs(x, y) -> None:
    """``x`` tokens and ``y`` targets of one shape ``(batch, length)`` (both frameworks)."""
    if np.shape(x) != np.shape(y) or len(np.shape(x)) != 2:
        raise ValueError(
            f"x and y must both have shape (batch, length), got {np.shape(x)} and {np.shape(y)}"
        )


def check_block(d_model: int, n_heads: int, d_ff: int | None, norm: str, dropout: float) -> int:
    """Validate the arguments shared by both frameworks' blocks; return ``d_ff`` (default ``4 d_model``)."""
    positive_int("d_model", d_model)
    positive_int("n_heads", n_heads)
    if d_model % n_heads:
        raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
    d_ff = 4 * d_model if d_ff is None else positive_int("d_ff", d_ff)
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    if (
        isinstance(dropout, bool)
        or not isinstance(dropout, (int, float))
        or not 0.0 <= dropout < 1.0
    ):
        raise ValueError(f"dropout must be a float in [0, 1), got {dropout!r}")
    return d_ff


#: The synthetic sequence-to-sequence tasks of :func:`sequence_task`.
TASKS = ("copy", "reverse", "sort")


def sequence_task(
    kind: str, n: int, length: int = 8, vocab: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic sequence-to-sequence task: ``n`` random token sequences and their targets.

    ``kind`` is ``"copy"`` (target = input), ``"reverse"`` (target = input read backwards) or
    ``"sort"`` (target = input sorted ascending). Tokens are drawn uniformly from
    ``0..vocab-1``; returns int64 arrays ``x`` and ``y`` of shape ``(n, length)``. The model
    predicts ``y[:, i]`` at position ``i`` after seeing the whole of ``x``.
    """
    if kind not in TASKS:
        raise ValueError(f"kind must be one of {TASKS}, got {kind!r}")
    n, length, vocab = (
        positive_int("n", n),
        positive_int("length", length),
        positive_int("vocab", vocab),
    )
    validate.integer("seed", seed, low=0)
    x = np.random.default_rng(seed).integers(0, vocab, size=(n, length), dtype=np.int64)
    y = {"copy": x.copy(), "reverse": x[:, ::-1].copy(), "sort": np.sort(x, axis=1)}[kind]
    return x, y


def warmup_lr(step: int, peak: float, warmup: int) -> float:
    """Linear learning-rate warm-up: ``peak * min(1, (step + 1) / warmup)``; ``warmup=0`` means none."""
    validate.integer("step", step, low=0)
    validate.number("peak", peak, low=0.0)
    validate.integer("warmup", warmup, low=0)
    if warmup == 0:
        return float(peak)
    return float(peak) * min(1.0, (step + 1) / warmup)
