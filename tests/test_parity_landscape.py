"""godeep.keras.landscape: filter normalization along Keras' last (output) axis; the same loss
surfaces as godeep.landscape along the same direction, once the direction is converted to Keras'
layout; the weights are restored; bad input is refused with a clear error.

Conventions: a PyTorch filter is a slice along the first axis of (out, in) / (out, in, kh, kw),
a Keras filter one along the last axis of (in, out) / (kh, kw, in, out); images NCHW vs NHWC.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import godeep
from godeep import landscape, residual

kl = pytest.importorskip("godeep.keras.landscape")
import keras  # noqa: E402  (after godeep.keras: quiet TensorFlow)
from fixtures_bn import randomize_bn  # noqa: E402  (the plugin's function: used in a helper, not a test)

from godeep.keras import residual as kr  # noqa: E402

tf = kl.tf


def small_keras_net(dtype="float64"):
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1), dtype=dtype),
            keras.layers.Conv2D(4, 3, dtype=dtype),
            keras.layers.BatchNormalization(dtype=dtype),
            keras.layers.ReLU(dtype=dtype),
            keras.layers.Flatten(dtype=dtype),
            keras.layers.Dense(3, dtype=dtype),
        ]
    )


def test_keras_filter_normalization_per_filter_along_the_last_axis():
    model = small_keras_net()
    raw = kl.random_direction(model, seed=1)
    d = kl.filter_normalize(raw, model)
    # the direction covers the trainable weights only: BN's moving mean and variance are not in it
    assert len(d) == len(model.trainable_weights) == len(model.weights) - 2
    for p, dp, r in zip(model.trainable_weights, d, raw):
        theta, dp, r = p.numpy(), np.asarray(dp), np.asarray(r)
        assert dp.shape == theta.shape and dp.dtype == theta.dtype
        if theta.ndim == 1:
            assert np.abs(dp).max() == 0.0  # biases, BN gamma and beta: zero direction
            continue
        for j in range(theta.shape[-1]):  # every filter: ||d_j|| == ||theta_j||
            assert np.linalg.norm(dp[..., j]) == pytest.approx(
                np.linalg.norm(theta[..., j]), rel=1e-10
            )
            cos = np.dot(dp[..., j].ravel(), r[..., j].ravel()) / (
                np.linalg.norm(dp[..., j]) * np.linalg.norm(r[..., j])
            )
            assert cos == pytest.approx(1.0, abs=1e-12)  # a rescaling, not a new direction
    # scaling along the first axis instead would not give these norms (the axes are not interchangeable)
    kernel = model.trainable_weights[0].numpy()
    assert not np.allclose(
        np.linalg.norm(np.asarray(d[0])[0].ravel()), np.linalg.norm(kernel[0].ravel())
    )


def test_keras_filter_normalization_options_and_random_direction():
    model = small_keras_net()
    raw = kl.random_direction(model, seed=2)
    assert [tuple(t.shape) for t in raw] == [tuple(p.shape) for p in model.trainable_weights]
    assert all(t.dtype == p.dtype for t, p in zip(raw, model.trainable_weights))
    again = kl.random_direction(model, seed=2)
    assert all(np.array_equal(a, b) for a, b in zip(raw, again))
    assert not np.array_equal(raw[0], kl.random_direction(model, seed=3)[0])
    d = kl.filter_normalize(raw, model, ignore_1d=False)
    bias = model.trainable_weights[1].numpy()
    assert np.linalg.norm(d[1]) == pytest.approx(
        np.linalg.norm(bias) if np.any(bias) else 0.0, abs=1e-12
    )
    gamma = model.layers[1].gamma.numpy()  # BN gamma = ones: a scaled 1-D direction
    index = [id(w) for w in model.trainable_weights].index(id(model.layers[1].gamma))
    assert np.linalg.norm(d[index]) == pytest.approx(np.linalg.norm(gamma), rel=1e-10)
    # numpy arrays are accepted too
    np.testing.assert_allclose(
        kl.filter_normalize([np.asarray(t) for t in raw], model)[0],
        kl.filter_normalize(raw, model)[0],
    )


def test_keras_landscape_errors():
    model = small_keras_net()
    raw = kl.random_direction(model, seed=0)
    with pytest.raises(ValueError, match="trainable weights"):
        kl.filter_normalize(raw[:-1], model)
    with pytest.raises(ValueError, match="shape"):
        kl.filter_normalize([tf.transpose(t) if len(t.shape) == 2 else t for t in raw], model)
    with pytest.raises(TypeError, match="list"):
        kl.filter_normalize(raw[0], model)
    with pytest.raises(TypeError, match="Keras model"):
        kl.random_direction(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="build"):
        kl.random_direction(keras.Sequential([keras.layers.Dense(2)]))
    loss = lambda m: 0.0  # noqa: E731
    with pytest.raises(ValueError, match="1-D"):
        kl.loss_surface_1d(model, loss, raw, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="betas"):
        kl.loss_surface_2d(model, loss, raw, raw, [0.0], np.zeros((1, 1)))
    with pytest.raises(ValueError, match="d2 has"):
        kl.loss_surface_2d(model, loss, raw, raw[:2], [0.0])
    with pytest.raises(ValueError, match="direction has"):
        kl.loss_surface_1d(model, loss, raw + raw[:1], [0.0])


def test_keras_surfaces_match_direct_evaluation_and_restore_weights():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(3,), dtype="float64"),
            keras.layers.Dense(1, use_bias=False, dtype="float64"),
        ]
    )
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((20, 3)), rng.standard_normal((20, 1))
    loss = lambda m: float(tf.reduce_mean((m(x) - y) ** 2))  # noqa: E731
    before = model.get_weights()[0].copy()
    d1 = kl.filter_normalize(kl.random_direction(model, 0), model)
    d2 = kl.filter_normalize(kl.random_direction(model, 1), model)
    alphas = np.linspace(-1, 1, 5)
    line = kl.loss_surface_1d(model, loss, d1, alphas)
    for a, value in zip(alphas, line):  # L(theta + a d) by hand
        w = before + a * np.asarray(d1[0])
        assert value == pytest.approx(float(np.mean((x @ w - y) ** 2)), rel=1e-12)
    assert line[2] == pytest.approx(loss(model))
    grid = kl.loss_surface_2d(model, loss, d1, d2, alphas, alphas[:3])
    assert grid.shape == (5, 3)
    w = before + alphas[4] * np.asarray(d1[0]) + alphas[1] * np.asarray(d2[0])
    assert grid[4, 1] == pytest.approx(float(np.mean((x @ w - y) ** 2)), rel=1e-12)
    np.testing.assert_allclose(grid[:, 2], line)  # beta = 0 column is the 1-D line
    np.testing.assert_array_equal(model.get_weights()[0], before)  # restored exactly


def test_keras_surface_moves_every_weight_of_every_dtype_to_its_own_point():
    """The surface moves all weights in one packed vector per dtype: every weight, of either
    dtype and of any shape, must land on ``theta + a d1 + b d2`` computed weight by weight."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(3,), dtype="float32"),
            keras.layers.Dense(4, dtype="float32"),
            keras.layers.Dense(2, dtype="float64"),
            keras.layers.Dense(2, use_bias=False, dtype="float32"),
        ]
    )
    before = [p.numpy().copy() for p in model.trainable_weights]
    d1 = kl.random_direction(model, 0)
    d2 = kl.random_direction(model, 1)
    alphas, betas = [0.25, -1.5], [0.75, 2.0, -0.5]
    seen = []

    def loss(m):
        seen.append([p.numpy().copy() for p in m.trainable_weights])
        return 0.0

    kl.loss_surface_2d(model, loss, d1, d2, alphas, betas)
    assert len(seen) == len(alphas) * len(betas)
    points = [(a, b) for a in alphas for b in betas]
    for (a, b), weights in zip(points, seen):
        for w, t, u, v in zip(weights, before, d1, d2):
            assert w.dtype == t.dtype
            dt = t.dtype.type  # the move is computed in the weight's own dtype
            np.testing.assert_array_equal(w, t + dt(a) * np.asarray(u) + dt(b) * np.asarray(v))
    for p, t in zip(model.trainable_weights, before):
        np.testing.assert_array_equal(p.numpy(), t)  # restored exactly


def test_keras_surface_leaves_bn_statistics_alone_and_restores_on_error():
    model = small_keras_net()
    bn = model.layers[1]
    bn.moving_mean.assign(np.linspace(-0.3, 0.3, 4))
    bn.moving_variance.assign(np.linspace(0.5, 2.0, 4))
    before = [w.copy() for w in model.get_weights()]
    x = np.random.default_rng(0).standard_normal((5, 8, 8, 1))
    d = kl.filter_normalize(kl.random_direction(model, 0), model, ignore_1d=False)
    seen = []

    def loss(m):
        seen.append([w.numpy().copy() for w in (bn.moving_mean, bn.moving_variance)])
        return float(tf.reduce_mean(m(x, training=False) ** 2))

    kl.loss_surface_2d(model, loss, d, d, [-0.5, 0.5])
    for mean, var in seen:  # BN statistics are not moved by the direction
        np.testing.assert_array_equal(
            mean, before[4]
        )  # weights: kernel, bias, gamma, beta, mean, var, ...
        np.testing.assert_array_equal(var, before[5])
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)

    calls = []

    def failing(m):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("loss failed")
        return 0.0

    with pytest.raises(RuntimeError, match="loss failed"):
        kl.loss_surface_1d(model, failing, d, [0.5, 1.0, 1.5])
    for a, b in zip(
        model.get_weights(), before
    ):  # theta restored even though loss raised mid-surface
        np.testing.assert_array_equal(a, b)


def _torch_and_keras_resnet(plain: bool):
    godeep.seed_everything(0)
    pt = randomize_bn(residual.cifar_resnet(8, plain=plain, in_channels=1, widths=(4, 8, 16)))
    pt.eval()
    tk = kr.copy_from_torch(
        kr.cifar_resnet(8, plain=plain, in_channels=1, widths=(4, 8, 16), input_size=8), pt
    )
    return pt, tk


@pytest.mark.parametrize("plain", [False, True])
def test_keras_surfaces_match_pytorch_along_the_same_direction(plain):
    pt, tk = _torch_and_keras_resnet(plain)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 1, 8, 8)).astype("float32")
    y = rng.integers(0, 10, 32)
    x_nhwc = tf.constant(x.transpose(0, 2, 3, 1))
    torch_loss = lambda m: float(
        F.cross_entropy(m(torch.as_tensor(x)), torch.as_tensor(y)).detach()
    )  # noqa: E731
    keras_loss = lambda m: float(
        tf.reduce_mean(  # noqa: E731
            keras.losses.sparse_categorical_crossentropy(
                y, m(x_nhwc, training=False), from_logits=True
            )
        )
    )
    assert keras_loss(tk) == pytest.approx(torch_loss(pt), rel=1e-5)

    raw = landscape.random_direction(pt, seed=1)
    delta = landscape.filter_normalize(raw, pt)
    delta_k = kl.direction_from_torch(delta, pt, tk, kr.copy_from_torch)
    # filter normalization commutes with the layout conversion: Keras normalizes along the last axis
    # exactly the filters that PyTorch normalizes along the first
    renormalized = kl.filter_normalize(kl.direction_from_torch(raw, pt, tk, kr.copy_from_torch), tk)
    for a, b in zip(renormalized, delta_k):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-5, atol=1e-7)

    alphas = np.linspace(-1, 1, 9)
    expected = landscape.loss_surface_1d(pt, torch_loss, delta, alphas)
    got = kl.loss_surface_1d(tk, keras_loss, delta_k, alphas)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert np.ptp(expected) > 0.1  # the slice is not flat: the comparison means something

    eta = landscape.filter_normalize(landscape.random_direction(pt, seed=2), pt)
    eta_k = kl.direction_from_torch(eta, pt, tk, kr.copy_from_torch)
    steps = [-0.5, 0.0, 0.5]
    np.testing.assert_allclose(
        kl.loss_surface_2d(tk, keras_loss, delta_k, eta_k, steps),
        landscape.loss_surface_2d(pt, torch_loss, delta, eta, steps),
        rtol=1e-5,
    )


def test_direction_from_torch_restores_keras_weights_and_checks_input():
    pt, tk = _torch_and_keras_resnet(plain=False)
    before = [w.copy() for w in tk.get_weights()]
    delta = landscape.random_direction(pt, seed=0)
    converted = kl.direction_from_torch(delta, pt, tk, kr.copy_from_torch)
    assert [c.shape for c in converted] == [tuple(w.shape) for w in tk.trainable_weights]
    # the first conv: (out, in, kh, kw) -> (kh, kw, in, out); the classifier: (out, in) -> (in, out)
    np.testing.assert_array_equal(converted[0], delta[0].numpy().transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(converted[-2], delta[-2].numpy().T)
    for a, b in zip(tk.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="parameters"):
        kl.direction_from_torch(delta[:-1], pt, tk, kr.copy_from_torch)
    with pytest.raises(ValueError, match="shape"):
        kl.direction_from_torch(
            [d.T if d.dim() == 2 else d for d in delta], pt, tk, kr.copy_from_torch
        )
    with pytest.raises(TypeError, match="list"):
        kl.direction_from_torch(delta[0], pt, tk, kr.copy_from_torch)

    def copy_convs_only(keras_model, torch_model):  # forgets the classifier
        keras_model.get_layer("conv1").set_weights(
            [torch_model.conv1.weight.detach().numpy().transpose(2, 3, 1, 0)]
        )

    with pytest.raises(ValueError, match="did not set"):
        kl.direction_from_torch(delta, pt, tk, copy_convs_only)
    for a, b in zip(tk.get_weights(), before):  # restored after the failure too
        np.testing.assert_array_equal(a, b)
