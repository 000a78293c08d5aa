"""Contracts of godeep.models and godeep.keras.models: sizes checked before any layer is built."""

from __future__ import annotations

import pytest

from godeep import models

BAD = [
    (dict(in_channels=0), ValueError, "in_channels must be >= 1, got 0"),
    (dict(classes=0), ValueError, "classes must be >= 1, got 0"),
    (dict(hidden=0), ValueError, "hidden must be >= 1, got 0"),
    (dict(hidden=64.0), TypeError, "hidden must be an int, got float"),
    (dict(image_size=8.5), TypeError, "image_size must be an int, got float"),
    (dict(image_size=5), ValueError, "image_size must be >= 6, got 5"),
    (dict(channels=(32.5, 64)), TypeError, r"channels\[0\] must be an int, got float"),
    (dict(channels=(0, 4)), ValueError, r"channels\[0\] must be >= 1, got 0"),
    (dict(channels=(8, 8, 8)), ValueError, r"channels must be two sizes, got \(8, 8, 8\)"),
    (dict(channels=None), ValueError, "channels must be two sizes, got None"),
    (dict(dtype="float16"), ValueError, "dtype must be 'float32' or 'float64'"),
    (dict(norm="batchnorm"), ValueError, "norm must be None or one of"),
]

MLP_BAD = [
    (dict(bias="no"), TypeError, "bias must be a bool, got str"),
    (dict(width=0), ValueError, "width must be >= 1, got 0"),
    (dict(depth=-1), ValueError, "depth must be >= 0, got -1"),
    (dict(activation="gelu"), ValueError, "activation must be one of"),
]


def mlp_kwargs(changes):
    kwargs = dict(in_features=4, width=8, depth=2, out_features=3)
    kwargs.update(changes)
    return kwargs


@pytest.mark.parametrize("kwargs, error, fragment", BAD)
def test_convnet_rejects(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        models.convnet(**kwargs)


@pytest.mark.parametrize("changes, error, fragment", MLP_BAD)
def test_mlp_rejects(changes, error, fragment):
    with pytest.raises(error, match=fragment):
        models.mlp(**mlp_kwargs(changes))


@pytest.fixture(scope="module")
def kmodels():
    pytest.importorskip("tensorflow")
    from godeep.keras import models as kmodels

    return kmodels


@pytest.mark.parametrize("kwargs, error, fragment", BAD)
def test_keras_convnet_rejects(kmodels, kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        kmodels.convnet(**kwargs)


@pytest.mark.parametrize("changes, error, fragment", MLP_BAD)
def test_keras_mlp_rejects(kmodels, changes, error, fragment):
    with pytest.raises(error, match=fragment):
        kmodels.mlp(**mlp_kwargs(changes))


def test_keras_mlp_dtype_as_torch(kmodels):
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64', got 'float16'"):
        kmodels.mlp(**mlp_kwargs(dict(dtype="float16")))
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'"):
        models.mlp(**mlp_kwargs(dict(dtype="float16")))
