"""Contracts of godeep.norms and godeep.keras.norms: bad inputs raise clear errors, edge cases
come out as torch.nn.functional / keras.layers handle them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from godeep import norms

X = torch.randn(4, 6, 3, generator=torch.Generator().manual_seed(0))
X64 = X.double()
C6 = torch.zeros(6)


def stats(dtype=torch.float32):
    return torch.zeros(6, dtype=dtype), torch.ones(6, dtype=dtype)


# ------------------------------------------------------------------ bad inputs, functions

FUNCTION_BAD = [
    (
        lambda: norms.batch_norm(X, *stats(), training=True, momentum=None),
        TypeError,
        "momentum must be a float in \\[0, 1\\], got None",
    ),
    (
        lambda: norms.batch_norm(X, *stats(), training=True, momentum="0.1"),
        TypeError,
        "momentum must be a number, got str",
    ),
    (
        lambda: norms.batch_norm(X, *stats(), training=True, momentum=1.5),
        ValueError,
        "momentum must be in \\[0.0, 1.0\\], got 1.5",
    ),
    (
        lambda: norms.batch_norm(X, *stats(), training=True, eps=-1e-5),
        ValueError,
        "eps must be in \\[0.0, inf\\), got -1e-05",
    ),
    (
        lambda: norms.batch_norm(X, *stats(), eps=float("nan")),
        ValueError,
        "eps must be a finite number, got nan",
    ),
    (
        lambda: norms.batch_norm(X64, *stats(), training=True),
        TypeError,
        "running_mean must have the input's dtype torch.float64, got torch.float32",
    ),
    (
        lambda: norms.batch_norm(X64, *stats(), training=False),
        TypeError,
        "running_mean must have the input's dtype torch.float64",
    ),
    (
        lambda: norms.batch_norm(X, *stats(torch.float64), training=True),
        TypeError,
        "running_mean must have the input's dtype torch.float32, got torch.float64",
    ),
    (
        lambda: norms.batch_norm(X64, None, None, torch.ones(6), training=True),
        TypeError,
        "weight must have the input's dtype torch.float64, got torch.float32",
    ),
    (
        lambda: norms.batch_norm(X, None, None, None, torch.ones(6).double(), training=True),
        TypeError,
        "bias must have the input's dtype",
    ),
    (
        lambda: norms.batch_norm(torch.ones(4, 6, dtype=torch.long), None, None, training=True),
        TypeError,
        "input must be a floating-point tensor, got torch.int64",
    ),
    (
        lambda: norms.batch_norm(X.numpy(), None, None, training=True),
        TypeError,
        "input must be a torch.Tensor, got ndarray",
    ),
    (
        lambda: norms.batch_norm(torch.randn(1, 6), None, None, training=True),
        ValueError,
        "expected more than 1 value per channel",
    ),
    (
        lambda: norms.layer_norm(X64, (3,), torch.ones(3)),
        TypeError,
        "weight must have the input's dtype torch.float64",
    ),
    (
        lambda: norms.layer_norm(X, 2.5),
        TypeError,
        "normalized_shape must be a sequence of ints, got float",
    ),
    (
        lambda: norms.layer_norm(X, (3.0,)),
        TypeError,
        "normalized_shape\\[0\\] must be an int, got float",
    ),
    (lambda: norms.layer_norm(X, (0,)), ValueError, "normalized_shape\\[0\\] must be >= 1, got 0"),
    (
        lambda: norms.layer_norm(X, (4,)),
        ValueError,
        "normalized_shape \\(4,\\) must equal the last dimensions",
    ),
    (lambda: norms.layer_norm(X, (3,), eps="1e-5"), TypeError, "eps must be a number, got str"),
    (
        lambda: norms.group_norm(X64, 3, torch.ones(6)),
        TypeError,
        "weight must have the input's dtype torch.float64",
    ),
    (lambda: norms.group_norm(X, 3, eps=None), TypeError, "eps must be a number, got NoneType"),
    (lambda: norms.group_norm(X, 4), ValueError, "channels 6 must be divisible by num_groups=4"),
    (lambda: norms.group_norm(X, 0), ValueError, "num_groups must be a positive int, got 0"),
    (
        lambda: norms.instance_norm(X64, weight=torch.ones(6)),
        TypeError,
        "weight must have the input's dtype torch.float64",
    ),
    (
        lambda: norms.instance_norm(X, *stats(), momentum=None),
        TypeError,
        "momentum must be a float in \\[0, 1\\], got None",
    ),
    (lambda: norms.instance_norm(torch.randn(4, 6, 1)), ValueError, "more than 1 spatial element"),
    (
        lambda: norms.ghost_batch_norm(X, 2, *stats(), training=True, momentum=None),
        TypeError,
        "momentum must be a float",
    ),
    (
        lambda: norms.ghost_batch_norm([1.0], 2, None, None, training=True),
        TypeError,
        "input must be a torch.Tensor, got list",
    ),
    (
        lambda: norms.ghost_batch_norm(X, 0, None, None),
        ValueError,
        "virtual_batch_size must be a positive int, got 0",
    ),
    (lambda: norms.moments(X.numpy(), "batch"), TypeError, "x must be a torch.Tensor, got ndarray"),
    (lambda: norms.moments(X, "token"), ValueError, "kind must be one of"),
    (
        lambda: norms.moments(torch.zeros(2, 4, 3, 3), "group"),
        ValueError,
        "num_groups must divide the 4 channels, got None",
    ),
]


@pytest.mark.parametrize("call, error, fragment", FUNCTION_BAD)
def test_function_rejects(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


# ------------------------------------------------------------------ bad inputs, modules

MODULE_BAD = [
    (lambda: norms.BatchNorm(6, momentum="fast"), TypeError, "momentum must be a number, got str"),
    (
        lambda: norms.BatchNorm(6, momentum=2.0),
        ValueError,
        "momentum must be in \\[0.0, 1.0\\], got 2.0",
    ),
    (lambda: norms.BatchNorm(6, eps=0.0), ValueError, "eps must be in \\(0.0, inf\\), got 0.0"),
    (lambda: norms.BatchNorm(6, eps="small"), TypeError, "eps must be a number, got str"),
    (lambda: norms.BatchNorm(0), ValueError, "num_features must be a positive int, got 0"),
    (lambda: norms.InstanceNorm(6, eps=-1.0), ValueError, "eps must be in \\(0.0, inf\\)"),
    (
        lambda: norms.GhostBatchNorm(6, 1),
        ValueError,
        "virtual_batch_size must be an int >= 2, got 1",
    ),
    (
        lambda: norms.LayerNorm(6.5),
        TypeError,
        "normalized_shape must be a sequence of ints, got float",
    ),
    (
        lambda: norms.LayerNorm((6, 2.0)),
        TypeError,
        "normalized_shape\\[1\\] must be an int, got float",
    ),
    (lambda: norms.LayerNorm((6, -1)), ValueError, "normalized_shape\\[1\\] must be >= 1, got -1"),
    (lambda: norms.LayerNorm(()), ValueError, "normalized_shape must be positive sizes"),
    (lambda: norms.GroupNorm(3, 6.0), TypeError, "num_channels must be an int, got float"),
    (lambda: norms.GroupNorm(3, 0), ValueError, "num_channels must be >= 1, got 0"),
    (lambda: norms.GroupNorm(4, 6), ValueError, "num_channels=6 must be divisible by num_groups=4"),
    (
        lambda: norms.BatchNorm(6)(torch.randn(4, 5)),
        ValueError,
        "BatchNorm\\(6\\) expects input of shape \\(N, 6, ...\\), got \\(4, 5\\)",
    ),
    (
        lambda: norms.BatchNorm(6)(X64),
        TypeError,
        "running_mean must have the input's dtype torch.float64",
    ),
    (
        lambda: norms.GroupNorm(3, 6)(torch.ones(4, 6, dtype=torch.long)),
        TypeError,
        "input must be a floating-point tensor",
    ),
]


@pytest.mark.parametrize("call, error, fragment", MODULE_BAD)
def test_module_rejects(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


# ------------------------------------------------------------------ edge cases against torch


def same(ours, theirs):
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6, equal_nan=True)


EMPTY = torch.randn(0, 6, 3)

EDGE = {
    "group_norm N=0": (lambda: norms.group_norm(EMPTY, 3), lambda: F.group_norm(EMPTY, 3)),
    "group_norm N=0 affine": (
        lambda: norms.group_norm(EMPTY, 3, torch.ones(6), C6),
        lambda: F.group_norm(EMPTY, 3, torch.ones(6), C6),
    ),
    "group_norm (0, 6)": (
        lambda: norms.group_norm(torch.randn(0, 6), 2),
        lambda: F.group_norm(torch.randn(0, 6), 2),
    ),
    "batch_norm N=0 training": (
        lambda: norms.batch_norm(EMPTY, None, None, training=True),
        lambda: F.batch_norm(EMPTY, None, None, training=True),
    ),
    "batch_norm N=0 affine": (
        lambda: norms.batch_norm(EMPTY, None, None, torch.ones(6), C6, training=True),
        lambda: F.batch_norm(EMPTY, None, None, torch.ones(6), C6, training=True),
    ),
    "batch_norm L=0 training": (
        lambda: norms.batch_norm(torch.randn(4, 6, 0), None, None, training=True),
        lambda: F.batch_norm(torch.randn(4, 6, 0), None, None, training=True),
    ),
    "batch_norm N=0 eval": (
        lambda: norms.batch_norm(EMPTY, *stats()),
        lambda: F.batch_norm(EMPTY, *stats()),
    ),
    "layer_norm N=0": (
        lambda: norms.layer_norm(EMPTY, (6, 3)),
        lambda: F.layer_norm(EMPTY, (6, 3)),
    ),
    "instance_norm N=0": (lambda: norms.instance_norm(EMPTY), lambda: F.instance_norm(EMPTY)),
    "ghost_batch_norm N=0": (
        lambda: norms.ghost_batch_norm(EMPTY, 2, None, None, training=True),
        lambda: F.batch_norm(EMPTY, None, None, training=True),
    ),
    "instance_norm float64 stats": (
        lambda: norms.instance_norm(X, *stats(torch.float64)),
        lambda: F.instance_norm(X, *stats(torch.float64)),
    ),
    "batch_norm bfloat16 input, float32 stats": (
        lambda: norms.batch_norm(X.bfloat16(), *stats(), training=True),
        lambda: F.batch_norm(X.bfloat16(), *stats(), training=True),
    ),
    "GroupNorm module N=0": (
        lambda: norms.GroupNorm(3, 6)(EMPTY),
        lambda: torch.nn.GroupNorm(3, 6)(EMPTY),
    ),
}


@pytest.mark.parametrize("case", sorted(EDGE))
def test_edge_case_as_torch(case):
    ours, theirs = EDGE[case]
    if "bfloat16" in case:
        o, t = ours(), theirs()
        assert o.dtype == t.dtype == torch.bfloat16
        torch.testing.assert_close(o.float(), t.float(), rtol=0.02, atol=0.02)
        return
    same(ours(), theirs())


def test_batch_norm_n0_leaves_running_stats_as_torch():
    mine, theirs = stats(), stats()
    norms.batch_norm(X, *mine, training=True)
    F.batch_norm(X, *theirs, training=True)
    norms.batch_norm(EMPTY, *mine, training=True)
    F.batch_norm(EMPTY, *theirs, training=True)
    for a, b in zip(mine, theirs):
        torch.testing.assert_close(a, b)


def test_instance_norm_n0_leaves_running_stats_unlike_torch():
    """The documented difference: torch makes them NaN, godeep leaves them."""
    mine, theirs = stats(), stats()
    norms.instance_norm(EMPTY, *mine)
    F.instance_norm(EMPTY, *theirs)
    assert torch.isnan(theirs[0]).all()
    torch.testing.assert_close(mine[0], torch.zeros(6))
    torch.testing.assert_close(mine[1], torch.ones(6))


def test_batchnorm_module_momentum_none_is_cumulative_average_as_torch():
    ours, theirs = norms.BatchNorm(6, momentum=None), torch.nn.BatchNorm1d(6, momentum=None)
    g = torch.Generator().manual_seed(1)
    for _ in range(4):
        x = torch.randn(5, 6, 3, generator=g) * 3 + 1
        same(ours(x), theirs(x))
    same(ours.running_mean, theirs.running_mean)
    same(ours.running_var, theirs.running_var)
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 4


def test_batchnorm_module_empty_batch_as_torch():
    ours, theirs = norms.BatchNorm(6), torch.nn.BatchNorm1d(6)
    same(ours(X), theirs(X))
    same(ours(EMPTY), theirs(EMPTY))
    same(ours.running_mean, theirs.running_mean)
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 2


# ------------------------------------------------------------------ Keras layers


@pytest.fixture(scope="module")
def keras_norms():
    pytest.importorskip("tensorflow")
    from godeep.keras import norms as knorms

    return knorms


INT_INPUT = np.arange(2 * 3 * 4 * 4).reshape(2, 3, 4, 4) % 7


def keras_pairs(knorms):
    import keras

    return {
        "BatchNorm": (knorms.BatchNorm(), keras.layers.BatchNormalization()),
        "LayerNorm": (knorms.LayerNorm(), keras.layers.LayerNormalization()),
        "GroupNorm": (knorms.GroupNorm(2), keras.layers.GroupNormalization(2)),
        "InstanceNorm": (
            knorms.InstanceNorm(),
            keras.layers.GroupNormalization(-1, center=False, scale=False),
        ),
    }


@pytest.mark.parametrize("name", ["BatchNorm", "LayerNorm", "GroupNorm", "InstanceNorm"])
@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8"])
@pytest.mark.parametrize("training", [False, True])
def test_keras_norms_cast_integer_input_as_keras(keras_norms, name, dtype, training):
    """Integer input is cast to float32 first. The reference is the Keras layer on the float32
    cast: Keras' own BatchNormalization does exactly that, but its LayerNormalization and
    GroupNormalization (3.x) take integer moments of integer input (LayerNormalization's output on
    [0, 1, 2, 3] is [-1, 0, 0, 1]): a silent wrong result that is not followed."""
    ours, theirs = keras_pairs(keras_norms)[name]
    x = INT_INPUT.astype(dtype)
    a, b = ours(x, training=training), theirs(x.astype("float32"), training=training)
    assert a.dtype == b.dtype == "float32"  # Keras' compute dtype
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-4)
    if name == "BatchNorm":  # Keras' own layer casts too
        c = keras_pairs(keras_norms)[name][1](x, training=training)
        np.testing.assert_allclose(np.asarray(a), np.asarray(c), rtol=1e-4, atol=1e-4)


KERAS_BAD = [
    (lambda k: k.BatchNorm(momentum="0.99"), TypeError, "momentum must be a number, got str"),
    (
        lambda k: k.BatchNorm(momentum=1.5),
        ValueError,
        "momentum must be in \\[0.0, 1.0\\], got 1.5",
    ),
    (lambda k: k.BatchNorm(epsilon=0), ValueError, "epsilon must be in \\(0.0, inf\\), got 0.0"),
    (lambda k: k.LayerNorm(epsilon="1e-3"), TypeError, "epsilon must be a number, got str"),
    (
        lambda k: k.LayerNorm(4.5),
        TypeError,
        "normalized_shape must be a sequence of ints, got float",
    ),
    (lambda k: k.LayerNorm((4, 0)), ValueError, "normalized_shape\\[1\\] must be >= 1, got 0"),
    (lambda k: k.GroupNorm(0), ValueError, "groups must be a positive int, got 0"),
    (lambda k: k.GhostBatchNorm(1), ValueError, "virtual_batch_size must be an int >= 2, got 1"),
    (
        lambda k: k.GroupNorm(3)(np.zeros((2, 4, 4, 4), "float32")),
        ValueError,
        "channels 4 must be divisible by groups=3",
    ),
    (lambda k: k.BatchNorm()(np.array([["a"]])), TypeError, "input must hold numbers, got dtype"),
]


@pytest.mark.parametrize("call, error, fragment", KERAS_BAD)
def test_keras_norms_reject(keras_norms, call, error, fragment):
    with pytest.raises(error, match=fragment):
        call(keras_norms)


def test_layer_norm_takes_numpy_ints_as_torch_takes_ints():
    x = torch.randn(4, 6)
    same(norms.LayerNorm(np.int64(6))(x), torch.nn.LayerNorm(6)(x))
    same(norms.layer_norm(x, np.int64(6)), F.layer_norm(x, (6,)))
