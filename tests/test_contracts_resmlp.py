"""Contracts of godeep.resmlp and godeep.keras.resmlp: bad arguments raise clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from godeep import resmlp

X = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
Y = np.array([0, 1, 2, 0, 1, 2])

BUILD_BAD = [
    (dict(plain="no"), TypeError, "plain must be a bool, got str"),
    (dict(batch_norm=1), TypeError, "batch_norm must be a bool, got int"),
    (dict(bias=None), TypeError, "bias must be a bool, got NoneType"),
    (dict(dtype="float16"), ValueError, "dtype must be 'float32' or 'float64', got 'float16'"),
    (dict(width=0), ValueError, "width must be >= 1, got 0"),
    (dict(depth=2.0), TypeError, "depth must be an int, got float"),
    (dict(branch_scale="0"), TypeError, "branch_scale must be None or a number, got str"),
    (dict(branch_scale=float("nan")), ValueError, "branch_scale must be finite, got nan"),
    (dict(zero_init_residual=1), TypeError, "zero_init_residual must be a bool, got int"),
]

PATH_BAD = [
    (dict(samples=0), ValueError, "samples must be a positive int, got 0"),
    (dict(samples=-1), ValueError, "samples must be a positive int, got -1"),
    (dict(seed=-1), ValueError, "seed must be >= 0, got -1"),
    (dict(length=4), ValueError, r"length must be an int in \[0, 3\], got 4"),
    (
        dict(y=np.array([0, 1, 2, 0, 1, 7])),
        ValueError,
        r"y must hold class labels in \[0, 3\), got 0 to 7",
    ),
    (
        dict(y=Y[:5]),
        ValueError,
        r"y must be 6 integer class labels, one per row of x, got shape \(5,\)",
    ),
    (dict(y=Y.astype(float)), ValueError, "y must be 6 integer class labels"),
    (dict(x=X[:0], y=Y[:0]), ValueError, r"x must be a non-empty batch of inputs, got \(0, 4\)"),
    (dict(x=None), ValueError, "x must be a non-empty batch of inputs, got None"),
]


def build_kwargs(changes):
    kwargs = dict(in_features=4, width=8, depth=3, out_features=3)
    kwargs.update(changes)
    return kwargs


def path_kwargs(changes):
    kwargs = dict(x=X, y=Y, length=1, samples=2, seed=0)
    kwargs.update(changes)
    return kwargs


@pytest.mark.parametrize("changes, error, fragment", BUILD_BAD)
def test_residual_mlp_rejects(changes, error, fragment):
    with pytest.raises(error, match=fragment):
        resmlp.residual_mlp(**build_kwargs(changes))


@pytest.mark.parametrize("changes, error, fragment", PATH_BAD)
def test_path_gradient_norms_rejects(changes, error, fragment):
    model = resmlp.residual_mlp(4, 8, 3, 3)
    with pytest.raises(error, match=fragment):
        resmlp.path_gradient_norms(model, **path_kwargs(changes))
    assert all(b.route == "both" for b in resmlp.blocks(model).values())


def test_path_gradient_norms_plain_net():
    with pytest.raises(ValueError, match="residual nets only"):
        resmlp.path_gradient_norms(resmlp.residual_mlp(4, 8, 3, 3, plain=True), X, Y, 1)


@pytest.fixture(scope="module")
def kresmlp():
    pytest.importorskip("tensorflow")
    from godeep.keras import resmlp as kresmlp

    return kresmlp


@pytest.mark.parametrize("changes, error, fragment", BUILD_BAD)
def test_keras_residual_mlp_rejects(kresmlp, changes, error, fragment):
    with pytest.raises(error, match=fragment):
        kresmlp.residual_mlp(**build_kwargs(changes))


@pytest.mark.parametrize("changes, error, fragment", PATH_BAD)
def test_keras_path_gradient_norms_rejects(kresmlp, changes, error, fragment):
    model = kresmlp.residual_mlp(4, 8, 3, 3)
    with pytest.raises(error, match=fragment):
        kresmlp.path_gradient_norms(model, **path_kwargs(changes))
