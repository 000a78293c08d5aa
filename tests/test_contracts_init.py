"""Contracts of godeep.init and godeep.keras.init: bad inputs raise clear errors; edge cases
(zero-element tensors, upper-case modes, 1-D shapes) as torch.nn.init and Keras handle them."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from godeep import init

BAD = [
    (
        lambda: init.fans((3,)),
        ValueError,
        r"fans need a weight with at least 2 dimensions \(out, in, \*kernel\), got shape \(3,\)",
    ),
    (
        lambda: init.fans((3, 0)),
        ValueError,
        r"every dimension of the weight must be >= 1, got shape \(3, 0\)",
    ),
    (lambda: init.fans((3, 2.0)), TypeError, "shape must contain ints"),
    (
        lambda: init.fans(None),
        TypeError,
        "shape must be a sequence of ints or a tensor, got NoneType",
    ),
    (
        lambda: init.kaiming_std((3, 4), mode="fan_avg"),
        ValueError,
        r"mode must be one of \('fan_in', 'fan_out'\), got 'fan_avg'",
    ),
    (lambda: init.kaiming_std((3, 4), mode=None), ValueError, "mode must be one of .*got None"),
    (
        lambda: init.kaiming_std((3, 4), nonlinearity="gelu"),
        ValueError,
        "nonlinearity must be one of",
    ),
    (
        lambda: init.gain("leaky_relu", float("inf")),
        ValueError,
        "param .* must be a finite number, got inf",
    ),
    (
        lambda: init.xavier_std((3, 4), gain=-1.0),
        ValueError,
        "gain must be a finite number >= 0, got -1.0",
    ),
    (lambda: init.kaiming_normal_(torch.empty(5)), ValueError, "at least 2 dimensions"),
    (lambda: init.xavier_uniform_(torch.empty(5)), ValueError, "at least 2 dimensions"),
    (
        lambda: init.kaiming_uniform_(torch.zeros(3, 3, dtype=torch.long)),
        TypeError,
        "tensor must have a floating-point dtype, got torch.int64",
    ),
    (
        lambda: init.xavier_normal_(np.zeros((3, 3))),
        TypeError,
        "tensor must be a torch.Tensor, got ndarray",
    ),
]


@pytest.mark.parametrize("call, error, fragment", BAD)
def test_init_rejects(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


@pytest.mark.parametrize(
    "name", ["xavier_normal_", "xavier_uniform_", "kaiming_normal_", "kaiming_uniform_"]
)
@pytest.mark.parametrize("shape", [(0, 3), (4, 0, 3, 3), (0, 0)])
def test_zero_element_tensors_are_left_alone_as_torch(name, shape):
    ours, theirs = torch.empty(shape), torch.empty(shape)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = getattr(init, name)(ours)
    assert out is ours and out.shape == shape
    assert [str(w.message) for w in caught] == ["Initializing zero-element tensors is a no-op"]
    if name.startswith("xavier") and shape == (0, 0):  # the documented difference
        with pytest.raises(ZeroDivisionError):
            getattr(torch.nn.init, name)(theirs)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert getattr(torch.nn.init, name)(theirs).shape == shape


def test_kaiming_zero_element_warns_exactly_as_torch():
    messages = []
    for fn in (init.kaiming_normal_, torch.nn.init.kaiming_normal_):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fn(torch.empty(0, 3))
        messages.append([(w.category, str(w.message)) for w in caught])
    assert (
        messages[0]
        == messages[1]
        == [(UserWarning, "Initializing zero-element tensors is a no-op")]
    )


@pytest.mark.parametrize("mode", ["FAN_OUT", "Fan_In", "fan_out"])
@pytest.mark.parametrize("name", ["kaiming_normal_", "kaiming_uniform_"])
def test_mode_is_case_insensitive_as_torch(mode, name):
    ours = getattr(init, name)(
        torch.empty(64, 16, 3, 3), mode=mode, generator=torch.Generator().manual_seed(0)
    )
    torch.manual_seed(0)
    theirs = getattr(torch.nn.init, name)(torch.empty(64, 16, 3, 3), mode=mode)
    assert abs(ours.std().item() / theirs.std().item() - 1) < 0.05
    fan = 16 * 9 if mode.lower() == "fan_in" else 64 * 9
    assert init.kaiming_std((64, 16, 3, 3), mode=mode) == pytest.approx(math.sqrt(2 / fan))


# ------------------------------------------------------------------ Keras twin


@pytest.fixture(scope="module")
def kinit():
    pytest.importorskip("tensorflow")
    from godeep.keras import init as kinit

    return kinit


@pytest.mark.parametrize("shape", [(7,), (), (1,), (300,)])
def test_keras_fans_of_short_shapes_as_keras(kinit, shape):
    from keras.src.initializers.random_initializers import compute_fans

    assert kinit.fans(shape) == compute_fans(shape)


@pytest.mark.parametrize(
    "cls, theirs", [("XavierUniform", "GlorotUniform"), ("KaimingUniform", "HeUniform")]
)
@pytest.mark.parametrize("shape", [(4000,), ()])
def test_keras_initializers_on_short_shapes_as_keras(kinit, cls, theirs, shape):
    import keras

    kwargs = {"nonlinearity": "relu"} if cls.startswith("Kaiming") else {}
    ours = np.asarray(getattr(kinit, cls)(seed=0, **kwargs)(shape))
    ref = np.asarray(getattr(keras.initializers, theirs)(seed=0)(shape))
    assert ours.shape == ref.shape == shape
    if shape:  # same bound: the extremes of 4000 uniform draws agree within 1%
        assert abs(np.abs(ours).max() / np.abs(ref).max() - 1) < 0.01


@pytest.mark.parametrize(
    "cls", ["XavierNormal", "XavierUniform", "KaimingNormal", "KaimingUniform"]
)
@pytest.mark.parametrize("shape", [(0, 3), (3, 3, 0, 8)])
def test_keras_initializers_on_zero_sized_shapes_as_keras(kinit, cls, shape):
    import keras

    ours = getattr(kinit, cls)(seed=0)(shape)
    assert tuple(ours.shape) == tuple(keras.initializers.HeNormal(seed=0)(shape).shape) == shape


def test_keras_mode_is_case_insensitive(kinit):
    assert kinit.kaiming_std((3, 3, 16, 64), mode="FAN_OUT") == kinit.kaiming_std(
        (3, 3, 16, 64), mode="fan_out"
    )
    kinit.KaimingNormal(mode="Fan_Out", seed=0)((4, 4))


KERAS_BAD = [
    (lambda k: k.KaimingNormal(mode="fan_avg"), ValueError, "mode must be one of"),
    (lambda k: k.XavierNormal(gain="1"), ValueError, "gain must be a finite number >= 0, got '1'"),
    (
        lambda k: k.XavierNormal(seed=1.5),
        ValueError,
        "seed must be None or a non-negative int, got 1.5",
    ),
    (lambda k: k.XavierNormal()((2.5, 3)), TypeError, "shape must contain ints"),
    (
        lambda k: k.XavierNormal()(None),
        TypeError,
        "shape must be a sequence of ints or a tensor, got NoneType",
    ),
    (lambda k: k.fans((0, 3)), ValueError, "every dimension of the kernel must be >= 1"),
    (lambda k: k.xavier_normal_(np.zeros((3, 3))), TypeError, "variable must be a keras.Variable"),
]


@pytest.mark.parametrize("call, error, fragment", KERAS_BAD)
def test_keras_init_rejects(kinit, call, error, fragment):
    with pytest.raises(error, match=fragment):
        call(kinit)
