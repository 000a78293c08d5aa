"""godeep.init and godeep.keras.init: formulas against torch.nn.init and keras.initializers."""

import math

import numpy as np
import pytest
import torch

from godeep import init

# ------------------------------------------------------------------------- fans and gains

TORCH_SHAPES = [(10, 20), (64, 3, 5, 5), (7, 4, 3), (2, 6, 3, 3, 3), (1, 1)]


@pytest.mark.parametrize("shape", TORCH_SHAPES)
def test_fans_match_torch(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.fans(shape) == expected
    assert init.fans(torch.empty(shape)) == expected  # a tensor works as well
    assert init.fans(torch.Size(shape)) == expected


def test_conv_fans_are_channels_times_kernel():
    c_out, c_in, kh, kw = 32, 16, 3, 5
    assert init.fans((c_out, c_in, kh, kw)) == (c_in * kh * kw, c_out * kh * kw)


@pytest.mark.parametrize("bad", [(5,), (), torch.empty(3)])
def test_fans_need_two_dimensions(bad):
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.fans(bad)


@pytest.mark.parametrize(
    "bad, error",
    [((3, 0), ValueError), ((3.0, 2), TypeError), (5, TypeError), ((True, 2), TypeError)],
)
def test_fans_bad_shapes(bad, error):
    with pytest.raises(error, match="shape|dimension"):
        init.fans(bad)


@pytest.mark.parametrize(
    "nonlinearity, param",
    [
        ("linear", None),
        ("conv2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("selu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("leaky_relu", math.sqrt(5)),
        ("leaky_relu", 0),
    ],
)
def test_gain_matches_torch(nonlinearity, param):
    assert init.gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-12
    )


def test_gain_values():
    assert init.gain("tanh") == pytest.approx(5 / 3)
    assert init.gain("relu") == pytest.approx(math.sqrt(2))
    assert init.gain("leaky_relu", 0.1) == pytest.approx(math.sqrt(2 / 1.01))


def test_gain_errors():
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        init.gain("gelu")
    with pytest.raises(ValueError, match="negative slope"):
        init.gain("leaky_relu", "0.1")
    with pytest.raises(ValueError, match="negative slope"):
        init.gain("leaky_relu", True)


def test_std_formulas():
    n_out, n_in = 300, 100
    assert init.xavier_std((n_out, n_in)) == pytest.approx(math.sqrt(2 / (n_in + n_out)))
    assert init.xavier_std((n_out, n_in), gain=2.0) == pytest.approx(
        2 * math.sqrt(2 / (n_in + n_out))
    )
    assert init.kaiming_std((n_out, n_in)) == pytest.approx(math.sqrt(2 / n_in))
    assert init.kaiming_std((n_out, n_in), mode="fan_out") == pytest.approx(math.sqrt(2 / n_out))
    assert init.kaiming_std((n_out, n_in), nonlinearity="linear") == pytest.approx(
        math.sqrt(1 / n_in)
    )
    # PyTorch's nn.Linear default: kaiming_uniform_ with a = sqrt(5) -> Var = 1 / (3 fan_in)
    std = init.kaiming_std((n_out, n_in), nonlinearity="leaky_relu", a=math.sqrt(5))
    assert std**2 == pytest.approx(1 / (3 * n_in))
    assert init.uniform_bound(std) == pytest.approx(1 / math.sqrt(n_in))


def test_std_errors():
    with pytest.raises(ValueError, match="mode must be one of"):
        init.kaiming_std((3, 4), mode="fan_avg")
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        init.kaiming_std((3, 4), nonlinearity="swish")
    with pytest.raises(ValueError, match="gain must be"):
        init.xavier_std((3, 4), gain=-1.0)


# ------------------------------------------------------------------------- in-place initializers

SHAPE = (512, 256, 3, 3)  # ~1.2 million entries: the empirical std is within 0.3%


def _torch_twin(name):
    return {
        "xavier_normal_": torch.nn.init.xavier_normal_,
        "xavier_uniform_": torch.nn.init.xavier_uniform_,
        "kaiming_normal_": torch.nn.init.kaiming_normal_,
        "kaiming_uniform_": torch.nn.init.kaiming_uniform_,
    }[name]


CASES = [
    ("xavier_normal_", {}),
    ("xavier_normal_", {"gain": 5 / 3}),
    ("xavier_uniform_", {}),
    ("kaiming_normal_", {}),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_uniform_", {}),
    ("kaiming_uniform_", {"a": math.sqrt(5)}),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "tanh"}),
]


@pytest.mark.parametrize("name, kwargs", CASES)
def test_initializers_match_torch_statistics(name, kwargs):
    ours = getattr(init, name)(
        torch.empty(SHAPE), **kwargs, generator=torch.Generator().manual_seed(0)
    )
    theirs = _torch_twin(name)(
        torch.empty(SHAPE), **kwargs, generator=torch.Generator().manual_seed(1)
    )
    assert abs(ours.std().item() / theirs.std().item() - 1) < 0.01
    assert abs(ours.mean().item()) < 0.01 * ours.std().item()
    if "uniform" in name:  # same support
        assert ours.abs().max().item() == pytest.approx(theirs.abs().max().item(), rel=1e-3)


@pytest.mark.parametrize("name, kwargs", CASES)
def test_initializers_give_the_formula_std(name, kwargs):
    w = getattr(init, name)(torch.empty(SHAPE), **kwargs)
    if name.startswith("xavier"):
        expected = init.xavier_std(SHAPE, kwargs.get("gain", 1.0))
    else:
        expected = init.kaiming_std(
            SHAPE,
            kwargs.get("mode", "fan_in"),
            kwargs.get("nonlinearity", "leaky_relu"),
            kwargs.get("a", 0.0),
        )
    assert abs(w.std().item() / expected - 1) < 0.01


def test_same_generator_same_numbers_as_torch():
    """Same formula, same generator state, same primitive: bit-identical to torch.nn.init."""
    for name in ("xavier_normal_", "xavier_uniform_", "kaiming_normal_", "kaiming_uniform_"):
        ours = getattr(init, name)(torch.empty(64, 32), generator=torch.Generator().manual_seed(3))
        theirs = _torch_twin(name)(torch.empty(64, 32), generator=torch.Generator().manual_seed(3))
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=0)


def test_in_place_and_no_grad():
    w = torch.nn.Parameter(torch.zeros(20, 10))
    out = init.kaiming_normal_(w)
    assert out is w and w.abs().sum() > 0 and w.requires_grad and w.grad_fn is None


def test_does_not_call_torch_nn_init(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("godeep.init must not call torch.nn.init")

    for name in (
        "xavier_normal_",
        "xavier_uniform_",
        "kaiming_normal_",
        "kaiming_uniform_",
        "_calculate_fan_in_and_fan_out",
        "calculate_gain",
    ):
        monkeypatch.setattr(torch.nn.init, name, forbidden)
    for name in ("xavier_normal_", "xavier_uniform_", "kaiming_normal_", "kaiming_uniform_"):
        getattr(init, name)(torch.empty(8, 4))


def test_initializer_errors():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.kaiming_uniform_(torch.empty(5))
    with pytest.raises(TypeError, match="floating-point"):
        init.xavier_normal_(torch.zeros(3, 3, dtype=torch.int64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        init.xavier_uniform_(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal_(torch.empty(3, 3), mode="fan_avg")


def test_works_with_models_mlp():
    from godeep import models

    torch.manual_seed(0)
    model = models.mlp(256, 256, 3, 10, "relu", init=init.kaiming_normal_)
    for layer in (model.fc2, model.fc3):
        assert abs(layer.weight.std().item() / math.sqrt(2 / 256) - 1) < 0.02
        assert torch.all(layer.bias == 0)


def test_our_kaiming_uniform_with_a_sqrt5_is_pytorchs_default_layer_init():
    """Our docstring's claim: ``nn.Linear`` / ``nn.Conv2d`` reset their weights as our
    ``kaiming_uniform_(a=sqrt(5))``, whose variance is ``1 / (3 fan_in)``. Same seed, same draws."""
    for make in (lambda: torch.nn.Linear(500, 400), lambda: torch.nn.Conv2d(64, 128, 3)):
        torch.manual_seed(0)
        layer = make()
        torch.manual_seed(0)
        ours = init.kaiming_uniform_(torch.empty_like(layer.weight), a=math.sqrt(5))
        torch.testing.assert_close(ours, layer.weight.detach(), rtol=0, atol=1e-7)
        fan_in, _ = init.fans(layer.weight)
        assert init.kaiming_std(
            layer.weight, "fan_in", "leaky_relu", math.sqrt(5)
        ) ** 2 == pytest.approx(1 / (3 * fan_in))


# ------------------------------------------------------------------------- Keras twin


@pytest.fixture(scope="module")
def kinit():
    from godeep.keras import init as kinit

    return kinit


KERAS_SHAPES = [
    ((20, 10), (10, 20)),
    ((5, 5, 3, 64), (64, 3, 5, 5)),
    ((3, 4, 7), (7, 4, 3)),
    ((1, 1), (1, 1)),
]


@pytest.mark.parametrize("keras_shape, torch_shape", KERAS_SHAPES)
def test_keras_fans_match_keras_and_torch_layout(kinit, keras_shape, torch_shape):
    from keras.src.initializers.random_initializers import compute_fans

    assert kinit.fans(keras_shape) == compute_fans(keras_shape)
    assert kinit.fans(keras_shape) == init.fans(torch_shape)  # same layer, the other layout


def test_keras_dense_and_conv_fans(kinit):
    assert kinit.fans((64, 10)) == (64, 10)  # Dense(10) on 64 inputs: (in, out)
    assert kinit.fans((3, 3, 16, 32)) == (16 * 9, 32 * 9)  # Conv2D(32, 3) on 16 channels


def test_keras_fans_errors(kinit):
    assert kinit.fans((7,)) == (7, 7) and kinit.fans(()) == (1, 1)  # as Keras' compute_fans
    with pytest.raises(ValueError, match=">= 1"):
        kinit.fans((0, 3))
    with pytest.raises(TypeError, match="ints"):
        kinit.fans((2.5, 3))


KERAS_CASES = [
    ("XavierNormal", {}, "GlorotNormal"),
    ("XavierUniform", {}, "GlorotUniform"),
    ("KaimingNormal", {}, "HeNormal"),
    ("KaimingUniform", {}, "HeUniform"),
]


@pytest.mark.parametrize("ours, kwargs, theirs", KERAS_CASES)
@pytest.mark.parametrize("shape", [(600, 400), (3, 3, 128, 256)])
def test_keras_initializers_match_keras_statistics(kinit, ours, kwargs, theirs, shape):
    import keras

    a = np.asarray(getattr(kinit, ours)(**kwargs, seed=0)(shape))
    b = np.asarray(getattr(keras.initializers, theirs)(seed=1)(shape))
    assert abs(a.std() / b.std() - 1) < 0.01
    std = kinit.xavier_std(shape) if ours.startswith("Xavier") else kinit.kaiming_std(shape)
    assert abs(a.std() / std - 1) < 0.01
    if theirs.endswith("Normal"):  # Keras truncates at 2 sigma (before rescaling); we do not
        assert np.abs(b).max() <= 2 * std / kinit.KERAS_TRUNCATION_STD * (1 + 1e-6)
        assert np.abs(a).max() > 3 * std


def test_keras_truncation_constant(kinit):
    """Std of N(0, 1) truncated to [-2, 2]: sqrt(1 - 4 phi(2) / (2 Phi(2) - 1))."""
    from scipy.stats import norm, truncnorm

    z = 2 * norm.cdf(2) - 1
    assert kinit.KERAS_TRUNCATION_STD == pytest.approx(
        math.sqrt(1 - 2 * 2 * norm.pdf(2) / z), rel=1e-10
    )
    assert kinit.KERAS_TRUNCATION_STD == pytest.approx(truncnorm(-2, 2).std(), rel=1e-10)


def test_keras_seeding_reproducible_and_distinct_per_call(kinit):
    first = kinit.KaimingNormal(seed=7)
    a, b = np.asarray(first((50, 40))), np.asarray(first((50, 40)))
    assert not np.allclose(a, b)  # one instance, two layers: different weights
    again = kinit.KaimingNormal(seed=7)
    np.testing.assert_array_equal(np.asarray(again((50, 40))), a)  # same seed, same sequence
    assert not np.allclose(np.asarray(kinit.KaimingNormal(seed=8)((50, 40))), a)


def test_keras_instance_shared_by_layers_gives_distinct_kernels(kinit):
    import keras

    shared = kinit.XavierUniform(seed=0)
    model = keras.Sequential(
        [
            keras.Input((30,)),
            keras.layers.Dense(30, kernel_initializer=shared),
            keras.layers.Dense(30, kernel_initializer=shared),
        ]
    )
    k1, k2 = (layer.kernel.numpy() for layer in model.layers)
    assert not np.allclose(k1, k2)


def test_keras_with_models_mlp_and_seed_everything(kinit):
    import godeep
    from godeep.keras import models as kmodels

    def kernels():
        godeep.seed_everything(3)
        model = kmodels.mlp(64, 64, 3, 10, "relu", init=kinit.KaimingNormal())
        return [layer.kernel.numpy() for layer in kmodels.weight_layers(model).values()]

    first, second = kernels(), kernels()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)  # reproducible
    assert not np.allclose(first[1], first[2])  # and not the same draw in every layer
    for k in first[1:3]:
        assert abs(k.std() / math.sqrt(2 / 64) - 1) < 0.05


def test_keras_dtype_and_config_round_trip(kinit):
    import keras

    init64 = kinit.KaimingUniform(a=math.sqrt(5), mode="fan_out", nonlinearity="leaky_relu", seed=2)
    assert np.asarray(init64((4, 3), dtype="float64")).dtype == np.float64
    config = keras.initializers.serialize(init64)
    clone = keras.initializers.deserialize(config)
    assert isinstance(clone, kinit.KaimingUniform) and clone.get_config() == init64.get_config()
    np.testing.assert_array_equal(
        np.asarray(clone((6, 5))),
        np.asarray(kinit.KaimingUniform(a=math.sqrt(5), mode="fan_out", seed=2)((6, 5))),
    )


def test_keras_errors(kinit):
    with pytest.raises(ValueError, match="mode must be one of"):
        kinit.KaimingNormal(mode="fan_avg")
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        kinit.KaimingUniform(nonlinearity="gelu")
    with pytest.raises(ValueError, match="gain must be"):
        kinit.XavierNormal(gain=float("nan"))
    with pytest.raises(ValueError, match="seed"):
        kinit.XavierNormal(seed=-1)
    assert tuple(kinit.XavierNormal()((5,)).shape) == (5,)  # 1-D shapes as Keras' initializers
    with pytest.raises(TypeError, match="keras.Variable"):
        kinit.xavier_normal_(np.zeros((3, 3)))


def test_keras_in_place(kinit):
    import keras

    layer = keras.layers.Dense(200, kernel_initializer="zeros")
    layer.build((None, 300))
    out = kinit.kaiming_normal_(layer.kernel, seed=0)
    assert out is layer.kernel
    assert abs(np.std(layer.kernel.numpy()) / math.sqrt(2 / 300) - 1) < 0.03


def test_parity_same_layer_same_std_in_both_layouts(kinit):
    """A Conv2D(C_out, K) on C_in channels gets the same std in both frameworks' layouts."""
    torch_shape, keras_shape = (64, 16, 3, 5), (3, 5, 16, 64)
    assert kinit.xavier_std(keras_shape) == init.xavier_std(torch_shape)
    for mode in ("fan_in", "fan_out"):
        assert kinit.kaiming_std(keras_shape, mode) == init.kaiming_std(torch_shape, mode)
    # and the Keras default for Dense, glorot_uniform, is our XavierUniform
    import keras

    dense = keras.layers.Dense(300)
    dense.build((None, 500))
    assert abs(np.std(dense.kernel.numpy()) / kinit.xavier_std((500, 300)) - 1) < 0.02


@pytest.mark.parametrize("name", ["XavierUniform", "KaimingNormal"])
def test_parity_mlp_weights_in_both_frameworks(kinit, name):
    """The same MLP built in both frameworks with the twin initializers: same per-layer std and bound."""
    import godeep
    from godeep import models
    from godeep.keras import models as kmodels

    torch_fn = {"XavierUniform": init.xavier_uniform_, "KaimingNormal": init.kaiming_normal_}[name]
    godeep.seed_everything(0)
    tmodel = models.mlp(300, 200, 2, 10, "relu", init=torch_fn)
    kmodel = kmodels.mlp(300, 200, 2, 10, "relu", init=getattr(kinit, name)())
    for (tname, tlayer), (kname, klayer) in zip(
        models.weight_layers(tmodel).items(), kmodels.weight_layers(kmodel).items()
    ):
        assert tname == kname
        w, k = tlayer.weight.detach().numpy(), klayer.kernel.numpy()
        assert w.shape == k.T.shape
        expected = (
            init.xavier_std(w.shape)
            if name.startswith("Xavier")
            else init.kaiming_std(w.shape, nonlinearity="leaky_relu")
        )
        assert expected == pytest.approx(
            kinit.xavier_std(k.shape)
            if name.startswith("Xavier")
            else kinit.kaiming_std(k.shape, nonlinearity="leaky_relu")
        )
        tol = 0.1 if w.size < 5000 else 0.03
        assert abs(w.std() / expected - 1) < tol and abs(k.std() / expected - 1) < tol
