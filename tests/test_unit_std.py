"""The per-unit spread across the batch (``unit_std``): what the pooled std cannot see."""

import math

import numpy as np
import pytest
import torch

import godeep
from godeep import models, signals


def test_unit_std_splits_the_pooled_variance():
    rng = np.random.default_rng(0)
    h = rng.standard_normal((50, 3, 4)) * 0.2 + rng.standard_normal((1, 3, 4)) * 3.0
    units = h.reshape(50, -1)
    expected = math.sqrt(np.mean(units.var(axis=0)))
    assert signals.unit_std(h) == pytest.approx(expected, rel=1e-12)
    # std^2 = unit_std^2 + Var_u(mean_b h): within-unit plus between-unit-means variance
    between = units.mean(axis=0).var()
    assert h.std() ** 2 == pytest.approx(signals.unit_std(h) ** 2 + between, rel=1e-12)
    assert signals.unit_std(h) < 0.25 < 2.0 < h.std()


def test_unit_std_constant_units_and_bad_input():
    h = np.tile(np.array([[-2.0, 0.5, 7.0]]), (16, 1))  # every unit constant over the batch
    assert signals.unit_std(h) < 1e-12 and h.std() > 3
    assert math.isnan(signals.unit_std(np.ones((1, 5))))  # one example: no spread to measure
    with pytest.raises(ValueError, match="batch axis"):
        signals.unit_std(np.zeros(4))


def input_independent_tanh(dtype="float64"):
    """A 3-layer tanh MLP whose third layer ignores its input: W_3 = 0, random biases."""
    godeep.seed_everything(0)
    model = models.mlp(8, 32, 3, 4, "tanh", init=0.5, dtype=dtype)
    with torch.no_grad():
        model.fc3.weight.zero_()
        model.fc3.bias.copy_(torch.linspace(-1.5, 1.5, 32))
    return model


def test_diagnose_flags_an_input_independent_layer_that_the_pooled_std_misses():
    x = np.random.default_rng(1).standard_normal((64, 8))
    report = signals.record(input_independent_tanh(), x)
    std, unit = report.column("std"), report.column("unit_std")
    assert std[2] > 0.5 * std[0]  # the pooled std of act3 looks healthy...
    assert unit[2] < 1e-12 and unit[0] > 0.1  # ...but no unit of act3 varies with the input
    warnings = signals.diagnose(report)
    collapse = [w for w in warnings if "collapse" in w]
    assert (
        len(collapse) == 1
        and "1 layer(s) from act3" in collapse[0]
        and "(act3: per-unit std" in collapse[0]
    )
    assert not [w for w in warnings if w.startswith("activation std")]  # the pooled check passes
    # the same network with a live third layer is healthy
    godeep.seed_everything(0)
    healthy = signals.record(models.mlp(8, 32, 3, 4, "tanh", init=0.5, dtype="float64"), x)
    assert not [w for w in signals.diagnose(healthy) if "collapse" in w]


def test_diagnose_collapse_threshold():
    x = np.random.default_rng(1).standard_normal((64, 8))
    report = signals.record(input_independent_tanh(), x)
    healthy_units = report.layers[0].unit_std / report.layers[0].std
    live = [s.unit_std / s.std for s in report.layers if s.unit_std > 1e-6]
    # a threshold below every live layer's ratio flags only the input-independent act3...
    (low,) = [w for w in signals.diagnose(report, collapse=0.5 * min(live)) if "collapse" in w]
    assert "1 layer(s) from act3" in low
    # ...one above act1's ratio flags act1 as well
    (high,) = [w for w in signals.diagnose(report, collapse=2.0 * healthy_units) if "collapse" in w]
    assert "from act1" in high
    for bad in (0, -1.0, "0.01", True):
        with pytest.raises(ValueError, match="collapse"):
            signals.diagnose(report, collapse=bad)


def test_unit_std_parity_with_keras():
    kmodels = pytest.importorskip("godeep.keras.models")
    ksignals = pytest.importorskip("godeep.keras.signals")
    assert ksignals.unit_std is signals.unit_std
    pt = input_independent_tanh()
    tf_model = kmodels.mlp(8, 32, 3, 4, "tanh", dtype="float64")
    kmodels.copy_from_torch(tf_model, pt)
    x = np.random.default_rng(2).standard_normal((40, 8))
    a, b = signals.record(pt, x), ksignals.record(tf_model, x)
    np.testing.assert_allclose(b.column("unit_std"), a.column("unit_std"), rtol=1e-10, atol=1e-14)
    assert b.column("unit_std")[2] < 1e-12
    for report in (a, b):
        assert [w for w in ksignals.diagnose(report) if "collapse" in w][0].startswith(
            "activations collapse in 1 layer(s) from act3"
        )
