"""Orthogonal initialization and Jacobian spectra (godeep.isometry and its Keras twin), against
torch.nn.init.orthogonal_, keras.initializers.Orthogonal and explicit Jacobians."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from godeep.isometry import jacobian_singular_values, orthogonal_


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: on a shared machine, torch's thread pool costs more than it saves here."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


SHAPES = [(5, 3), (3, 5), (4, 4), (8, 3, 3, 3), (2, 3, 3, 3), (6, 1)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_same_generator_same_tensor_as_torch(shape, dtype):
    ours, theirs = torch.empty(shape, dtype=dtype), torch.empty(shape, dtype=dtype)
    assert orthogonal_(ours, 1.5, torch.Generator().manual_seed(3)) is ours
    torch.nn.init.orthogonal_(theirs, 1.5, torch.Generator().manual_seed(3))
    assert torch.equal(ours, theirs)


def test_global_generator_as_torch():
    torch.manual_seed(0)
    ours = orthogonal_(torch.empty(4, 6))
    torch.manual_seed(0)
    assert torch.equal(ours, torch.nn.init.orthogonal_(torch.empty(4, 6)))


@pytest.mark.parametrize("shape", SHAPES)
def test_semi_orthogonal_with_gain(shape):
    w = orthogonal_(
        torch.empty(shape, dtype=torch.float64),
        gain=2.0,
        generator=torch.Generator().manual_seed(1),
    )
    m = w.reshape(shape[0], -1)
    gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    torch.testing.assert_close(gram, 4.0 * torch.eye(gram.shape[0], dtype=torch.float64))


def test_bad_input():
    with pytest.raises(ValueError, match="2 dimensions"):
        orthogonal_(torch.empty(5))
    with pytest.raises(TypeError, match="floating"):
        orthogonal_(torch.empty(3, 3, dtype=torch.int64))
    with pytest.raises(TypeError, match="generator"):
        orthogonal_(torch.empty(3, 3), generator=0)
    with pytest.raises(TypeError, match="gain"):
        orthogonal_(torch.empty(3, 3), gain="1")
    with pytest.warns(UserWarning, match="no-op"):
        assert orthogonal_(torch.empty(0, 3)).shape == (0, 3)


def _linear_net(depth, width, init, seed):
    torch.manual_seed(seed)
    net = nn.Sequential(*[nn.Linear(width, width, bias=False) for _ in range(depth)]).double()
    for layer in net:
        if init == "orthogonal":
            orthogonal_(layer.weight)
        else:
            nn.init.normal_(layer.weight, 0.0, width**-0.5)
    return net


def test_jacobian_of_a_linear_net_is_the_product_of_its_weights():
    net = _linear_net(6, 7, "gaussian", 0)
    product = torch.eye(7, dtype=torch.float64)
    for layer in net:
        product = layer.weight @ product
    s = jacobian_singular_values(net, torch.randn(3, 7, dtype=torch.float64))
    assert s.shape == (3, 7)
    for row in s:
        torch.testing.assert_close(row, torch.linalg.svdvals(product))


def test_jacobian_of_a_tanh_net_matches_autograd():
    torch.manual_seed(1)
    net = (
        nn.Sequential(nn.Linear(5, 9), nn.Tanh(), nn.Linear(9, 4), nn.Tanh(), nn.Linear(4, 3))
        .double()
        .train()
    )
    x = torch.randn(2, 5, dtype=torch.float64)
    s = jacobian_singular_values(net, x)
    assert s.shape == (2, 3) and net.training  # the mode is restored
    for i in range(2):
        jac = torch.autograd.functional.jacobian(lambda v: net(v[None])[0], x[i])
        torch.testing.assert_close(s[i], torch.linalg.svdvals(jac))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_orthogonal_deep_linear_nets_are_isometries_and_gaussian_ones_are_not(seed):
    x = torch.randn(2, 16, dtype=torch.float64)
    orth = jacobian_singular_values(_linear_net(30, 16, "orthogonal", seed), x)
    torch.testing.assert_close(orth, torch.ones_like(orth))
    gauss = jacobian_singular_values(_linear_net(30, 16, "gaussian", seed), x)
    assert float(gauss.max() / gauss.min()) > 1e3  # the spread of a product of 30 Gaussian matrices


def test_jacobian_bad_input():
    with pytest.raises(TypeError, match="model"):
        jacobian_singular_values(lambda v: v, torch.ones(2, 3))
    with pytest.raises(ValueError, match="batch"):
        jacobian_singular_values(nn.Linear(3, 2), torch.ones(3))
    with pytest.raises(TypeError, match="x"):
        jacobian_singular_values(nn.Linear(3, 2), np.ones((2, 3)))


# ------------------------------------------------------------------------------ Keras


@pytest.fixture(scope="module")
def K():
    pytest.importorskip("keras")
    import keras

    from godeep.keras import isometry as kiso, tf

    return keras, tf, kiso


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (3, 3, 4, 8), (3, 3, 8, 2)])
def test_keras_orthogonal_gain_and_the_docstrings_claim_about_keras_draws(K, shape):
    keras, tf, kiso = K
    ours, theirs = (
        kiso.Orthogonal(gain=1.5, seed=7),
        keras.initializers.Orthogonal(gain=1.5, seed=7),
    )
    first, second = np.asarray(ours(shape)), np.asarray(ours(shape))
    m = first.reshape(-1, shape[-1]).astype(np.float64)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, 2.25 * np.eye(gram.shape[0]), atol=1e-5)
    # the first draw is Keras', the next ones differ (Keras repeats its draw)
    k1, k2 = np.asarray(theirs(shape)), np.asarray(theirs(shape))
    assert np.array_equal(first, k1) and np.array_equal(k1, k2)
    assert not np.allclose(first, second)


def test_keras_orthogonal_in_a_layer_and_in_place(K):
    keras, tf, kiso = K
    dense = keras.layers.Dense(4, kernel_initializer=kiso.Orthogonal(seed=0))
    dense.build((None, 6))
    k = dense.kernel.numpy()
    np.testing.assert_allclose(k.T @ k, np.eye(4), atol=1e-5)
    kiso.orthogonal_(dense.kernel, gain=0.5, seed=1)
    k = dense.kernel.numpy()
    np.testing.assert_allclose(k.T @ k, 0.25 * np.eye(4), atol=1e-5)
    with pytest.raises(ValueError, match="2 dimensions"):
        kiso.orthogonal_(dense.bias)
    with pytest.raises(TypeError, match="variable"):
        kiso.orthogonal_(np.ones((3, 3)))
    with pytest.raises(ValueError, match="seed"):
        kiso.Orthogonal(seed=-1)


def test_keras_jacobian_spectrum_matches_torch_on_copied_weights(K):
    keras, tf, kiso = K
    from godeep.keras.convert import copy_mlp_from_torch
    from godeep.keras.models import mlp as kmlp
    from godeep.models import mlp

    torch.manual_seed(3)
    tnet = mlp(8, 12, 5, 4, activation="tanh", init=0.5, dtype="float64")
    knet = copy_mlp_from_torch(kmlp(8, 12, 5, 4, activation="tanh", dtype="float64"), tnet)
    x = np.random.default_rng(0).standard_normal((3, 8))
    ours = kiso.jacobian_singular_values(knet, x).numpy()
    np.testing.assert_allclose(
        ours, jacobian_singular_values(tnet, torch.as_tensor(x)).numpy(), rtol=1e-10, atol=1e-12
    )
    with pytest.raises(ValueError, match="batch"):
        kiso.jacobian_singular_values(knet, np.ones(8))
