"""Contracts of godeep.train and godeep.keras.train: bad data and arguments raise clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from godeep import data, models, train


def tiny(n_train=8, n_test=4):
    rng = np.random.default_rng(0)
    return data.Dataset(
        rng.normal(size=(n_train, 5)),
        rng.integers(0, 3, n_train),
        rng.normal(size=(n_test, 5)),
        rng.integers(0, 3, n_test),
        "tiny",
        3,
    )


EMPTY = tiny(0, 4)


def torch_model():
    torch.manual_seed(0)
    return models.mlp(5, 4, 1, 3)


FIT_BAD = [
    (
        dict(data=EMPTY),
        ValueError,
        "data.x_train is empty: fit needs at least one training example",
    ),
    (dict(data=EMPTY, steps=3), ValueError, "data.x_train is empty"),
    (
        dict(data=None),
        TypeError,
        r"data must be a godeep.data.Dataset \(x_train, y_train, x_test, y_test\), got NoneType",
    ),
    (
        dict(data=(np.zeros((2, 5)), np.zeros(2))),
        TypeError,
        "data must be a godeep.data.Dataset .*got tuple",
    ),
    (dict(momentum=-0.5), ValueError, r"momentum must be in \[0.0, inf\), got -0.5"),
    (dict(momentum="0.9"), TypeError, "momentum must be a number, got str"),
    (dict(seed=-1), ValueError, "seed must be >= 0, got -1"),
    (dict(seed=1.5), TypeError, "seed must be an int, got float"),
    (dict(epochs=0), ValueError, "epochs must be a positive int, got 0"),
    (dict(steps=0), ValueError, "steps must be None or a positive int, got 0"),
    (dict(batch_size=0), ValueError, "batch_size must be a positive int, got 0"),
    (dict(lr=float("nan")), ValueError, "lr must be a positive number, got nan"),
    (
        dict(optimizer="rmsprop"),
        ValueError,
        r"optimizer must be one of \('sgd', 'adam'\), got 'rmsprop'",
    ),
    (
        dict(loss="hinge"),
        ValueError,
        r"loss must be one of \('cross_entropy', 'mse'\), got 'hinge'",
    ),
    (dict(eval_epochs=1), TypeError, "eval_epochs must be a bool, got int"),
]


def fit_kwargs(changes):
    kwargs = dict(data=tiny(), epochs=1, lr=0.1, batch_size=4)
    kwargs.update(changes)
    return kwargs


@pytest.mark.parametrize("changes, error, fragment", FIT_BAD)
def test_fit_rejects(changes, error, fragment):
    with pytest.raises(error, match=fragment):
        train.fit(torch_model(), **fit_kwargs(changes))


def test_fit_rejects_bad_models():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got NoneType"):
        train.fit(None, tiny())
    with pytest.raises(ValueError, match=r"model \(ReLU\) has no parameters"):
        train.fit(torch.nn.ReLU(), tiny())


EVAL_BAD = [
    (
        dict(x=np.zeros((0, 5)), y=np.zeros(0, int)),
        ValueError,
        "x is empty: evaluate needs at least one example",
    ),
    (
        dict(x=np.zeros((3, 5)), y=np.zeros(2, int)),
        ValueError,
        "x has 3 examples but y has 2 labels",
    ),
    (dict(x=None, y=np.zeros(2, int)), TypeError, "x must be an array of examples, got NoneType"),
    (dict(loss="l1"), ValueError, r"loss must be one of \('cross_entropy', 'mse'\), got 'l1'"),
    (dict(batch_size=0), ValueError, "batch_size must be >= 1, got 0"),
    (dict(batch_size=2.0), TypeError, "batch_size must be an int, got float"),
]


def eval_kwargs(changes):
    kwargs = dict(x=np.zeros((3, 5), np.float32), y=np.zeros(3, int))
    kwargs.update(changes)
    return kwargs


@pytest.mark.parametrize("changes, error, fragment", EVAL_BAD)
def test_evaluate_rejects(changes, error, fragment):
    with pytest.raises(error, match=fragment):
        train.evaluate(torch_model(), **eval_kwargs(changes))


def test_fit_with_an_empty_test_split_still_trains():
    history = train.fit(torch_model(), tiny(8, 0), epochs=2, lr=0.1, batch_size=4)
    assert len(history.step_loss) == 4 and len(history.train_loss) == 2 and history.test_loss == []


# ------------------------------------------------------------------ Keras twin


@pytest.fixture(scope="module")
def keras_parts():
    pytest.importorskip("tensorflow")
    from godeep.keras import models as kmodels, train as ktrain

    return kmodels, ktrain


@pytest.mark.parametrize("changes, error, fragment", FIT_BAD)
def test_keras_fit_rejects(keras_parts, changes, error, fragment):
    kmodels, ktrain = keras_parts
    with pytest.raises(error, match=fragment):
        ktrain.fit(kmodels.mlp(5, 4, 1, 3), **fit_kwargs(changes))


def test_keras_fit_rejects_bad_models(keras_parts):
    import keras

    _, ktrain = keras_parts
    with pytest.raises(TypeError, match="model must be a keras.Model, got NoneType"):
        ktrain.fit(None, tiny())
    with pytest.raises(ValueError, match="has no trainable weights"):
        ktrain.fit(keras.Sequential([keras.Input((5,)), keras.layers.ReLU()]), tiny())


@pytest.mark.parametrize("changes, error, fragment", EVAL_BAD)
def test_keras_evaluate_rejects(keras_parts, changes, error, fragment):
    kmodels, ktrain = keras_parts
    with pytest.raises(error, match=fragment):
        ktrain.evaluate(kmodels.mlp(5, 4, 1, 3), **eval_kwargs(changes))


@pytest.mark.parametrize(
    "call, error, fragment",
    [
        (lambda: train.epoch_plan(0, 32, 1, None), ValueError, "n must be >= 1, got 0"),
        (lambda: train.epoch_plan(10, 0, 1, None), ValueError, "batch_size must be >= 1, got 0"),
        (lambda: list(train.batches(10, 0, 1, 0)), ValueError, "batch_size must be >= 1, got 0"),
        (lambda: list(train.batches(-1, 4, 1, 0)), ValueError, "n must be >= 0, got -1"),
    ],
)
def test_batch_plans_reject(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()
