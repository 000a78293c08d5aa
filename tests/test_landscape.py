"""godeep.landscape: filter normalization matches its definition, filter by filter; surfaces evaluate what they say."""

import numpy as np
import pytest
import torch
from torch import nn

from godeep import landscape


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)
    ).double()


def test_filter_normalization_per_filter():
    model = small_net()
    d = landscape.filter_normalize(landscape.random_direction(model, seed=1), model)
    for p, dp in zip(model.parameters(), d):
        assert dp.shape == p.shape and dp.dtype == p.dtype
        if p.dim() == 1:
            assert float(dp.abs().max()) == 0.0  # biases and BN parameters: zero direction
            continue
        for j in range(p.shape[0]):  # every filter: ||d_j|| == ||theta_j||
            assert float(dp[j].norm()) == pytest.approx(float(p[j].detach().norm()), rel=1e-10)
    conv_raw = landscape.random_direction(model, seed=1)[0]
    cos = torch.nn.functional.cosine_similarity(conv_raw.reshape(4, -1), d[0].reshape(4, -1))
    assert torch.allclose(cos, torch.ones(4, dtype=torch.float64))


def test_filter_normalization_options_and_errors():
    model = small_net()
    raw = landscape.random_direction(model, seed=2)
    d = landscape.filter_normalize(raw, model, ignore_1d=False)
    bias = list(model.parameters())[1]
    assert float(d[1].norm()) == pytest.approx(float(bias.detach().norm()), rel=1e-10)
    with pytest.raises(ValueError, match="parameters"):
        landscape.filter_normalize(raw[:-1], model)
    with pytest.raises(ValueError, match="shape"):
        landscape.filter_normalize([t.T if t.dim() == 2 else t for t in raw], model)
    a, b = landscape.random_direction(model, seed=3), landscape.random_direction(model, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_surfaces_match_direct_evaluation_and_restore_parameters():
    torch.manual_seed(0)
    model = nn.Linear(3, 1, bias=False).double()
    x, y = torch.randn(20, 3, dtype=torch.float64), torch.randn(20, 1, dtype=torch.float64)
    loss = lambda m: float(((m(x) - y) ** 2).mean().detach())
    before = model.weight.detach().clone()
    d1 = landscape.filter_normalize(landscape.random_direction(model, 0), model)
    d2 = landscape.filter_normalize(landscape.random_direction(model, 1), model)
    alphas = np.linspace(-1, 1, 5)
    line = landscape.loss_surface_1d(model, loss, d1, alphas)
    for a, value in zip(alphas, line):  # L(theta + a d) by hand
        w = before + a * d1[0]
        assert value == pytest.approx(float(((x @ w.T - y) ** 2).mean()), rel=1e-12)
    assert line[2] == pytest.approx(loss(model))
    grid = landscape.loss_surface_2d(model, loss, d1, d2, alphas, alphas[:3])
    assert grid.shape == (5, 3)
    w = before + alphas[4] * d1[0] + alphas[1] * d2[0]
    assert grid[4, 1] == pytest.approx(float(((x @ w.T - y) ** 2).mean()), rel=1e-12)
    np.testing.assert_allclose(grid[:, 2], line)  # beta = 0 column is the 1-D line
    torch.testing.assert_close(model.weight.detach(), before, rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="1-D"):
        landscape.loss_surface_1d(model, loss, d1, np.zeros((2, 2)))


def test_surface_restores_parameters_when_the_loss_raises():
    torch.manual_seed(0)
    model = nn.Linear(3, 2).double()
    before = [p.detach().clone() for p in model.parameters()]
    d = landscape.filter_normalize(landscape.random_direction(model, 0), model, ignore_1d=False)
    calls = []

    def failing(m):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("loss failed")
        return 0.0

    with pytest.raises(RuntimeError, match="loss failed"):
        landscape.loss_surface_1d(model, failing, d, [0.5, 1.0, 1.5])
    for p, b in zip(
        model.parameters(), before
    ):  # theta + alpha d - alpha d: restored up to rounding
        torch.testing.assert_close(p.detach(), b, rtol=0, atol=1e-14)


def test_surfaces_reject_a_direction_that_does_not_fit_the_model():
    model = small_net()
    d = landscape.random_direction(model, seed=4)
    loss = lambda m: 0.0
    with pytest.raises(ValueError, match="parameters"):
        landscape.loss_surface_1d(model, loss, d[:-1], [0.0, 1.0])  # would silently skip a layer
    with pytest.raises(ValueError, match="d2 tensor of shape"):
        landscape.loss_surface_2d(model, loss, d, [t.T if t.dim() == 2 else t for t in d], [0.0])
    with pytest.raises(TypeError, match="list of tensors"):
        landscape.loss_surface_1d(model, loss, d[0], [0.0])
