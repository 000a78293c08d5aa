"""Contracts of godeep.transformer and godeep.keras.transformer: bad arguments and tokens raise
clear errors instead of an embedding's index error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from godeep import transformer as tr


def tiny(**kwargs):
    torch.manual_seed(0)
    return tr.TinyTransformer(10, d_model=8, n_heads=2, n_layers=1, max_len=8, **kwargs)


TOKENS = torch.zeros(2, 8, dtype=torch.long)

BAD = [
    (
        lambda: tiny()(torch.full((2, 8), 10)),
        ValueError,
        r"tokens must be in \[0, 10\) \(vocab_size=10\), got 10 to 10",
    ),
    (
        lambda: tiny()(torch.tensor([[0, -1]])),
        ValueError,
        r"tokens must be in \[0, 10\) \(vocab_size=10\), got -1 to 0",
    ),
    (
        lambda: tiny()(np.zeros((2, 8), np.int64)),
        TypeError,
        "tokens must be a torch.Tensor, got ndarray",
    ),
    (
        lambda: tiny()(TOKENS.float()),
        TypeError,
        "tokens must be an integer tensor, got torch.float32",
    ),
    (
        lambda: tiny()(torch.zeros(2, 9, dtype=torch.long)),
        ValueError,
        "sequence length 9 exceeds max_len=8",
    ),
    (lambda: tiny(causal="yes"), TypeError, "causal must be a bool, got str"),
    (lambda: tiny(scaled_init=1), TypeError, "scaled_init must be a bool, got int"),
    (lambda: tiny(final_norm="no"), TypeError, "final_norm must be a bool, got str"),
    (lambda: tr.TinyTransformer(0), ValueError, "vocab_size must be >= 1, got 0"),
    (
        lambda: tr.TinyTransformer(10, d_model=10, n_heads=3),
        ValueError,
        r"d_model \(10\) must be divisible by n_heads \(3\)",
    ),
    (lambda: tr.sequence_task("sort", 4, seed=-1), ValueError, "seed must be >= 0, got -1"),
    (lambda: tr.sequence_task("shuffle", 4), ValueError, "kind must be one of"),
    (lambda: tr.sequence_task("copy", 0), ValueError, "n must be >= 1, got 0"),
    (lambda: tr.warmup_lr(0, 1e-3, -1), ValueError, "warmup must be >= 0, got -1"),
    (lambda: tr.warmup_lr(0, 1e-3, 2.5), TypeError, "warmup must be an int, got float"),
    (lambda: tr.warmup_lr(-1, 1e-3, 10), ValueError, "step must be >= 0, got -1"),
    (lambda: tr.warmup_lr(0, "fast", 10), TypeError, "peak must be a number, got str"),
    (
        lambda: tr.train_on_task(tiny(), "sort", 2, lr=-1e-3),
        ValueError,
        r"peak must be in \[0.0, inf\), got -0.001",
    ),
    (
        lambda: tr.train_on_task(tiny(), "sort", 2, lr=0.0),
        ValueError,
        r"lr must be in \(0.0, inf\), got 0.0",
    ),
    (lambda: tr.train_on_task(tiny(), "sort", 2, seed=-3), ValueError, "seed must be >= 0, got -3"),
    (
        lambda: tr.train_on_task(torch.nn.Linear(2, 2), "sort", 2),
        TypeError,
        "model must be a TinyTransformer, got Linear",
    ),
    (lambda: tr.train_on_task(tiny(), "sort", 0), ValueError, "steps must be >= 1, got 0"),
    (
        lambda: tr.block_grad_norms(tiny(), np.zeros((2, 8), int), np.zeros((2, 7), int)),
        ValueError,
        r"x and y must both have shape \(batch, length\), got \(2, 8\) and \(2, 7\)",
    ),
]


@pytest.mark.parametrize("call, error, fragment", BAD)
def test_transformer_rejects(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


def test_valid_tokens_still_run():
    assert tiny()(torch.full((2, 8), 9)).shape == (2, 8, 10)
    assert tr.warmup_lr(np.int64(4), 1e-3, 10) == pytest.approx(5e-4)


@pytest.fixture(scope="module")
def ktr():
    pytest.importorskip("tensorflow")
    from godeep.keras import transformer as ktr

    return ktr


def ktiny(ktr, **kwargs):
    return ktr.TinyTransformer(10, d_model=8, n_heads=2, n_layers=1, max_len=8, **kwargs)


KERAS_BAD = [
    (
        lambda k: ktiny(k)(np.full((2, 8), 10)),
        ValueError,
        r"tokens must be in \[0, 10\) \(vocab_size=10\), got 10 to 10",
    ),
    (lambda k: ktiny(k)(np.full((2, 8), -2)), ValueError, r"tokens must be in \[0, 10\)"),
    (lambda k: ktiny(k)(np.zeros((2, 8), np.float32)), TypeError, "tokens must be integers"),
    (lambda k: ktiny(k, causal="yes"), TypeError, "causal must be a bool, got str"),
    (
        lambda k: k.train_on_task(ktiny(k), "sort", 2, lr=0.0),
        ValueError,
        r"lr must be in \(0.0, inf\), got 0.0",
    ),
    (
        lambda k: k.train_on_task(ktiny(k), "sort", 2, seed=-3),
        ValueError,
        "seed must be >= 0, got -3",
    ),
    (
        lambda k: k.train_on_task(None, "sort", 2),
        TypeError,
        "model must be a TinyTransformer, got NoneType",
    ),
    (
        lambda k: k.block_grad_norms(ktiny(k), np.zeros((2, 8), int), np.zeros((3, 8), int)),
        ValueError,
        r"x and y must both have shape \(batch, length\)",
    ),
]


@pytest.mark.parametrize("call, error, fragment", KERAS_BAD)
def test_keras_transformer_rejects(ktr, call, error, fragment):
    with pytest.raises(error, match=fragment):
        call(ktr)
