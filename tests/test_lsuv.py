"""LSUV initialization (godeep.lsuv and its Keras twin): unit output variance per layer, the
orthogonal start, and the same rescaling in both frameworks on copied weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from godeep.isometry import orthogonal_
from godeep.lsuv import lsuv_, output_variances
from godeep.models import mlp


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: on a shared machine, torch's thread pool costs more than it saves here."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _batch(seed: int, shape=(64, 20)) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * 2.0 + 0.3


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("tol", [0.1, 0.01])
def test_every_layer_has_unit_output_variance_after_lsuv(seed, tol):
    torch.manual_seed(seed)
    model = mlp(20, 32, 10, 10, activation="tanh")
    before = output_variances(model, _batch(seed))
    assert max(abs(v - 1.0) for v in before.values()) > 0.5  # PyTorch's default init is far from it
    scales = lsuv_(model, _batch(seed), tol=tol)
    after = output_variances(model, _batch(seed))
    assert list(scales) == list(after) == [f"fc{l}" for l in range(1, 11)] + ["out"]
    assert all(abs(v - 1.0) < tol for v in after.values()), after


def test_conv_layers_too():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, stride=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 3 * 3, 5),
    )
    x = _batch(3, (32, 3, 8, 8))
    lsuv_(model, x, tol=0.05)
    assert all(abs(v - 1.0) < 0.05 for v in output_variances(model, x).values())


def test_orthogonal_start_and_scale_factors():
    torch.manual_seed(4)
    model = mlp(20, 16, 3, 4, activation="tanh")
    for layer in model:
        if isinstance(layer, nn.Linear):
            orthogonal_(layer.weight)
    start = {
        name: p.detach().clone() for name, p in model.named_parameters() if name.endswith("weight")
    }
    torch.manual_seed(4)
    scales = lsuv_(model, _batch(4), orthogonal=False)
    for name, scale in scales.items():
        torch.testing.assert_close(
            model.get_parameter(f"{name}.weight"), start[f"{name}.weight"] * scale
        )
    # with orthogonal=True the weights are first made orthogonal: W / scale has orthonormal rows
    model = mlp(20, 16, 3, 4, activation="tanh")
    scales = lsuv_(model, _batch(5))
    w = model.fc2.weight.detach().double() / scales["fc2"]
    torch.testing.assert_close(w @ w.T, torch.eye(16, dtype=torch.float64), atol=1e-5, rtol=0)


def test_warning_when_it_cannot_converge_and_errors():
    layer = nn.Linear(4, 4)
    with torch.no_grad():
        layer.bias.copy_(
            torch.tensor([-5.0, 0.0, 5.0, 10.0])
        )  # bias spread alone gives variance > 1
    model = nn.Sequential(layer)
    with pytest.warns(UserWarning, match="after 3 rescalings"):
        lsuv_(model, _batch(0, (16, 4)), max_iters=3)
    dead = nn.Sequential(nn.Linear(4, 4))
    with torch.no_grad():
        dead[0].weight.zero_()
        dead[0].bias.zero_()
    with pytest.raises(ValueError, match="variance 0"):
        lsuv_(dead, _batch(0, (16, 4)), orthogonal=False)
    with pytest.raises(ValueError, match="no linear"):
        lsuv_(nn.Sequential(nn.Tanh()), _batch(0, (4, 4)))
    with pytest.raises(TypeError, match="batch"):
        lsuv_(model, np.ones((4, 4)))
    with pytest.raises(ValueError, match="2 examples"):
        lsuv_(model, torch.ones(1, 4))
    with pytest.raises(ValueError, match="tol"):
        lsuv_(model, _batch(0, (4, 4)), tol=0)
    with pytest.raises(ValueError, match="max_iters"):
        lsuv_(model, _batch(0, (4, 4)), max_iters=0)


# ------------------------------------------------------------------------------ Keras


@pytest.fixture(scope="module")
def K():
    pytest.importorskip("keras")
    import keras

    from godeep.keras import lsuv as klsuv
    from godeep.keras.convert import copy_mlp_from_torch
    from godeep.keras.models import mlp as kmlp

    return keras, klsuv, kmlp, copy_mlp_from_torch


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_keras_unit_output_variance(K, seed):
    keras, klsuv, kmlp, _ = K
    keras.utils.set_random_seed(seed)
    model = kmlp(20, 32, 10, 10, activation="tanh")
    x = _batch(seed).numpy()
    scales = klsuv.lsuv_(model, x, tol=0.05)
    after = klsuv.output_variances(model, x)
    assert list(scales) == list(after) and len(after) == 11
    assert all(abs(v - 1.0) < 0.05 for v in after.values()), after
    k = model.get_layer("fc3").kernel.numpy().astype(np.float64) / scales["fc3"]
    np.testing.assert_allclose(k.T @ k, np.eye(32), atol=1e-5)  # the orthogonal start
    assert "call" not in vars(model.get_layer("fc3"))


def test_lsuv_across_frameworks_on_copied_weights(K):
    keras, klsuv, kmlp, copy = K
    torch.manual_seed(6)
    tnet = mlp(20, 24, 6, 5, activation="tanh")
    for layer in tnet:
        if isinstance(layer, nn.Linear):
            orthogonal_(layer.weight)
    knet = copy(kmlp(20, 24, 6, 5, activation="tanh"), tnet)
    x = _batch(7)
    t_scales = lsuv_(tnet, x, tol=0.02, orthogonal=False)
    k_scales = klsuv.lsuv_(knet, x.numpy(), tol=0.02, orthogonal=False)
    assert list(t_scales) == list(k_scales)
    np.testing.assert_allclose(list(k_scales.values()), list(t_scales.values()), rtol=1e-5)
    for name in t_scales:
        np.testing.assert_allclose(
            knet.get_layer(name).kernel.numpy(),
            tnet.get_submodule(name).weight.detach().numpy().T,
            rtol=1e-5,
            atol=1e-6,
        )
    with pytest.raises(TypeError, match="model"):
        klsuv.lsuv_(tnet, x.numpy())
