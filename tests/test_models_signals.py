"""godeep.models and godeep.signals (PyTorch), checked against first principles."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import godeep
from godeep import models, signals


def test_mlp_structure_and_names():
    m = models.mlp(8, 16, 3, 4, "relu")
    names = [n for n, _ in m.named_children()]
    assert names == ["fc1", "act1", "fc2", "act2", "fc3", "act3", "out"]
    assert isinstance(m.act1, nn.ReLU)
    assert m(torch.zeros(5, 8)).shape == (5, 4)
    assert list(models.weight_layers(m)) == ["fc1", "fc2", "fc3", "out"]


def test_mlp_depth_zero_is_linear_model():
    m = models.mlp(8, 16, 0, 4)
    assert [n for n, _ in m.named_children()] == ["out"]
    assert m.out.in_features == 8


@pytest.mark.parametrize("std", [0.01, 0.5, 2.0])
def test_mlp_normal_init_std_and_zero_bias(std):
    godeep.seed_everything(0)
    m = models.mlp(512, 512, 2, 4, init=std)
    assert float(m.fc2.weight.detach().std()) == pytest.approx(std, rel=0.01)
    assert float(m.fc2.bias.detach().abs().max()) == 0.0


def test_mlp_default_init_is_uniform_one_over_sqrt_fan_in():
    # PyTorch's default Linear init: U(-1/sqrt(n), 1/sqrt(n)), so Var = 1/(3n)
    godeep.seed_everything(0)
    m = models.mlp(400, 400, 1, 4)
    w = m.fc1.weight.detach()
    assert float(w.abs().max()) <= 1 / math.sqrt(400)
    assert float(w.var()) == pytest.approx(1 / (3 * 400), rel=0.02)


def test_mlp_callable_init_and_dtype():
    m = models.mlp(4, 4, 1, 2, init=nn.init.ones_, dtype="float64")
    assert m.fc1.weight.dtype == torch.float64
    assert torch.all(m.fc1.weight == 1)


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        (dict(width=0), ValueError, "width"),
        (dict(depth=-1), ValueError, "depth"),
        (dict(width=2.5), TypeError, "width"),
        (dict(activation="gelu"), ValueError, "activation"),
        (dict(init="xavier"), TypeError, "init"),
        (dict(init=-1.0), ValueError, "init"),
        (dict(dtype="float16"), ValueError, "dtype"),
    ],
)
def test_mlp_bad_arguments(kwargs, error, fragment):
    args = dict(in_features=4, width=8, depth=2, out_features=3)
    args.update(kwargs)
    with pytest.raises(error, match=fragment):
        models.mlp(**args)


def test_saturation_and_dead_fractions():
    h = np.array([[0.2, 0.5, 0.999, 0.001]])
    assert signals.saturation_fraction(h, "sigmoid") == 0.5  # 4h(1-h) < 0.05 for 0.999, 0.001
    assert signals.saturation_fraction(np.array([[0.99, -0.99, 0.0, 0.5]]), "tanh") == 0.5
    assert signals.saturation_fraction(h, "relu") == 0.0
    relu_out = np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 3.0]])
    assert signals.dead_fraction(relu_out) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="batch axis"):
        signals.dead_fraction(np.zeros(3))


def test_record_linear_network_matches_theory():
    # Linear net, weights N(0, s^2): each layer scales the forward std by sqrt(n) s.
    godeep.seed_everything(0)
    n, s, depth = 256, 1.5 / math.sqrt(256), 6
    m = models.mlp(n, n, depth, n, "linear", init=s, dtype="float64")
    x = np.random.default_rng(0).standard_normal((1024, n))
    report = signals.record(m, x)
    stds = report.column("std")
    ratio = np.exp(np.mean(np.diff(np.log(stds))))
    assert ratio == pytest.approx(math.sqrt(n) * s, rel=0.03)
    # backward: the gradient std grows by the same factor per layer going down
    g = report.column("grad_std")
    assert np.exp(np.mean(np.diff(np.log(g[::-1])))) == pytest.approx(math.sqrt(n) * s, rel=0.03)


def test_record_gradients_match_autograd_and_restore_grads():
    godeep.seed_everything(1)
    m = models.mlp(5, 7, 2, 3, "tanh", dtype="float64")
    x = torch.randn(11, 5, dtype=torch.float64)
    y = torch.randint(0, 3, (11,))
    m.fc1.weight.grad = torch.full_like(m.fc1.weight, 7.0)
    report = signals.record(m, x, y, keep=True)
    assert torch.all(m.fc1.weight.grad == 7.0) and m.fc2.weight.grad is None
    # recompute by hand
    h1 = torch.tanh(m.fc1(x)).detach().requires_grad_(True)
    loss = nn.functional.cross_entropy(m.out(torch.tanh(m.fc2(h1))), y)
    (g1,) = torch.autograd.grad(loss, h1)
    assert report.layers[0].grad_std == pytest.approx(float(g1.std(unbiased=False)), rel=1e-12)
    assert report.layers[0].std == pytest.approx(float(h1.detach().std(unbiased=False)), rel=1e-12)
    assert report.loss == pytest.approx(float(loss.detach()), rel=1e-12)
    np.testing.assert_allclose(report.activations["act1"], h1.detach().numpy())
    m.zero_grad()
    loss2 = nn.functional.cross_entropy(m(x), y)
    loss2.backward()
    assert report.weights[0].grad_norm == pytest.approx(float(m.fc1.weight.grad.norm()), rel=1e-12)


def test_record_layers_argument_and_errors():
    m = models.mlp(4, 4, 2, 2)
    r = signals.record(m, np.zeros((3, 4), np.float32), layers=["fc1", "fc2"])
    assert r.names == ["fc1", "fc2"]
    with pytest.raises(ValueError, match="not found"):
        signals.record(m, np.zeros((3, 4), np.float32), layers=["nope"])
    with pytest.raises(ValueError, match="no activation modules"):
        signals.record(nn.Linear(3, 2), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="unknown statistic"):
        r.column("variance")


def test_diagnose_flags_vanishing_exploding_and_saturation():
    godeep.seed_everything(0)
    x = np.random.default_rng(0).standard_normal((256, 64))
    vanish = signals.record(models.mlp(64, 64, 20, 4, "tanh", init=0.01, dtype="float64"), x)
    assert any("vanishes" in w for w in signals.diagnose(vanish))
    explode = signals.record(models.mlp(64, 64, 20, 4, "relu", init=1.0, dtype="float64"), x)
    assert any("explodes" in w for w in signals.diagnose(explode))
    saturate = signals.record(models.mlp(64, 64, 5, 4, "tanh", init=1.0, dtype="float64"), x)
    assert any("saturated" in w for w in signals.diagnose(saturate))
    healthy = signals.record(models.mlp(64, 64, 5, 4, "tanh", init=1 / 8, dtype="float64"), x)
    assert signals.diagnose(healthy) == []


def test_training_monitor():
    mon = signals.TrainingMonitor(every=2)
    assert mon.wants(0) and not mon.wants(1)
    mon.log(0, {"a": 1.0}, {"a": 2.0}, {"a": 0.5})
    mon.log(2, {"a": 3.0}, {"a": 0.0}, {"a": 0.5})
    assert mon.array("update_ratio")[0, 0] == 0.25 and math.isnan(mon.array("update_ratio")[0, 1])
    with pytest.raises(ValueError):
        signals.TrainingMonitor(every=0)
    with pytest.raises(ValueError):
        mon.array("loss")


def test_seed_everything():
    godeep.seed_everything(3)
    a = torch.randn(3)
    godeep.seed_everything(3)
    assert torch.equal(a, torch.randn(3))
    with pytest.raises(TypeError):
        godeep.seed_everything(1.5)
    with pytest.raises(ValueError):
        godeep.seed_everything(-1)


def test_seed_everything_sets_threads():
    before = torch.get_num_threads()
    try:
        godeep.seed_everything(0, threads=2)
        assert torch.get_num_threads() == 2
        godeep.seed_everything(0)  # default: one thread, results independent of the core count
        assert torch.get_num_threads() == 1
        godeep.seed_everything(0, threads=None)  # leaves it alone
        assert torch.get_num_threads() == 1
        for bad in (0, -2, 1.5, True):
            with pytest.raises(ValueError, match="threads"):
                godeep.seed_everything(0, threads=bad)
    finally:
        torch.set_num_threads(before)
