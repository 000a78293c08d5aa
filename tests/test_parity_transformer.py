"""Parity of the Keras Transformer twin with PyTorch at the sizes section 5.4 uses (float32).

These were cells of the notebook before it was split into one notebook per framework
(issue 17): each framework's notebook now draws its own weights, and the checks that a Keras
twin given the PyTorch weights computes the same numbers live here. ``tests/test_transformer.py``
checks the same in float64 on small models, to 1e-9.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
KT = pytest.importorskip("godeep.keras.transformer")

import godeep  # noqa: E402
from godeep import transformer as T  # noqa: E402

TOKENS, TARGETS = T.sequence_task("sort", 64, length=8, vocab=10, seed=100)


def twins(norm: str, n_layers: int, seed: int = 0, **kwargs):
    """A PyTorch TinyTransformer of the notebook's size and its Keras twin with the same weights."""
    godeep.seed_everything(seed)
    size = dict(d_model=32, n_heads=4, n_layers=n_layers, max_len=8, norm=norm, **kwargs)
    pt = T.TinyTransformer(10, **size)
    return pt, KT.copy_from_torch(KT.TinyTransformer(10, **size), pt)


def test_logits_match_in_float32():
    pt, km = twins("pre", 4, scaled_init=True)
    gap = np.abs(np.asarray(km(TOKENS)) - pt(torch.as_tensor(TOKENS)).detach().numpy()).max()
    assert gap < 1e-4


def test_24_block_post_ln_gradient_norms_match():
    pt, km = twins("post", 24)
    g_k = KT.block_grad_norms(km, TOKENS, TARGETS)["mlp"]
    g_pt = T.block_grad_norms(pt, TOKENS, TARGETS)["mlp"]
    assert g_k.shape == (24,)
    np.testing.assert_allclose(g_k, g_pt, rtol=1e-3)


def test_12_block_training_with_warmup_follows_torch():
    """Same initial weights, same batches, same Adam: the float32 loss curves agree to 1e-4."""
    pt, km = twins("post", 12)
    kwargs = dict(steps=20, lr=1e-3, warmup=10, batch_size=32, seed=0)
    losses_k = KT.train_on_task(km, "sort", **kwargs)
    losses_pt = T.train_on_task(pt, "sort", **kwargs)
    assert np.abs(losses_k - losses_pt).max() < 1e-4
