"""Contracts of godeep.landscape and godeep.keras.landscape: bad steps, directions and losses
raise before any parameter moves (a NaN step would leave the model's weights NaN)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from godeep import landscape as ls


def net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))


def loss(model):
    return float(model(torch.ones(2, 3)).pow(2).mean())


def bad_cases():
    model = net()
    d = ls.random_direction(model, seed=0)
    return (
        model,
        d,
        [
            (
                lambda: ls.loss_surface_1d(model, loss, d, [0.0, float("nan")]),
                ValueError,
                "alphas must be finite, got nan at index 1",
            ),
            (
                lambda: ls.loss_surface_1d(model, loss, d, [0.0, np.inf]),
                ValueError,
                "alphas must be finite, got inf at index 1",
            ),
            (
                lambda: ls.loss_surface_1d(model, loss, d, ["a", "b"]),
                TypeError,
                "alphas must be a 1-D array of numbers, got list",
            ),
            (
                lambda: ls.loss_surface_1d(model, loss, d, [[0.0]]),
                ValueError,
                r"alphas must be 1-D, got shape \(1, 1\)",
            ),
            (
                lambda: ls.loss_surface_1d(model, "mse", d, [0.0]),
                TypeError,
                "loss must be callable, got str",
            ),
            (
                lambda: ls.loss_surface_1d(model, loss, [p.numpy() for p in d], [0.0]),
                TypeError,
                r"direction\[0\] must be a torch.Tensor, got ndarray",
            ),
            (
                lambda: ls.loss_surface_1d(model, loss, d[:-1], [0.0]),
                ValueError,
                "direction has 3 tensors, the model has 4 parameters",
            ),
            (
                lambda: ls.loss_surface_2d(model, loss, d, d, [0.0], [np.nan]),
                ValueError,
                "betas must be finite, got nan at index 0",
            ),
            (
                lambda: ls.loss_surface_2d(model, None, d, d, [0.0]),
                TypeError,
                "loss must be callable, got NoneType",
            ),
            (
                lambda: ls.random_direction(model, seed=1.5),
                TypeError,
                "seed must be an int, got float",
            ),
            (
                lambda: ls.random_direction(None),
                TypeError,
                "model must be a torch.nn.Module, got NoneType",
            ),
        ],
    )


@pytest.mark.parametrize("index", range(11))
def test_landscape_rejects_and_leaves_the_model(index):
    model, _, cases = bad_cases()
    before = [p.detach().clone() for p in model.parameters()]
    call, error, fragment = cases[index]
    with pytest.raises(error, match=fragment):
        call()
    for a, b in zip(before, model.parameters()):
        assert torch.equal(a, b)


@pytest.fixture(scope="module")
def kls():
    pytest.importorskip("tensorflow")
    from godeep.keras import landscape as kls

    return kls


def keras_net():
    import keras

    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)]
    )
    return model


def keras_loss(model):
    return float(np.mean(np.asarray(model(np.ones((2, 3), np.float32))) ** 2))


KERAS_BAD = [
    (
        lambda k, m, d: k.loss_surface_1d(m, keras_loss, d, [0.0, np.nan]),
        ValueError,
        "alphas must be finite, got nan at index 1",
    ),
    (
        lambda k, m, d: k.loss_surface_2d(m, keras_loss, d, d, [0.0], [np.inf]),
        ValueError,
        "betas must be finite, got inf",
    ),
    (
        lambda k, m, d: k.loss_surface_1d(m, 3, d, [0.0]),
        TypeError,
        "loss must be callable, got int",
    ),
    (lambda k, m, d: k.random_direction(m, seed=-1), ValueError, "seed must be >= 0, got -1"),
    (lambda k, m, d: k.random_direction(m, seed="0"), TypeError, "seed must be an int, got str"),
]


@pytest.mark.parametrize("call, error, fragment", KERAS_BAD)
def test_keras_landscape_rejects_and_leaves_the_model(kls, call, error, fragment):
    model = keras_net()
    d = kls.random_direction(model, seed=0)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(error, match=fragment):
        call(kls, model, d)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
