"""RMSNorm (godeep.rmsnorm and its Keras twin) against torch.nn.functional.rms_norm,
torch.nn.RMSNorm and keras.layers.RMSNormalization."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from godeep.rmsnorm import RMSNorm, default_eps, rms_norm


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: on a shared machine, torch's thread pool costs more than it saves here."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _x(shape, dtype=torch.float32, seed=0, scale=3.0):
    return (
        torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        * scale
    ).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("eps", [None, 1e-3])
@pytest.mark.parametrize("shape", [(5,), (3, 5)])
def test_rms_norm_equals_torch(dtype, eps, shape):
    x = _x((4, 3, 5), dtype)
    w = _x(shape, dtype, seed=1, scale=1.0)
    assert torch.equal(rms_norm(x, shape, w, eps), F.rms_norm(x, shape, w, eps))
    assert torch.equal(rms_norm(x, shape, None, eps), F.rms_norm(x, shape, None, eps))


def test_eps_none_is_the_machine_epsilon_of_the_computation_type():
    assert (
        default_eps(torch.float32)
        == default_eps(torch.float16)
        == default_eps(torch.bfloat16)
        == torch.finfo(torch.float32).eps
    )
    assert default_eps(torch.float64) == torch.finfo(torch.float64).eps
    tiny = _x((2, 8), scale=1e-4)  # mean square 1e-8, below float32's eps (1.2e-7): eps matters
    for dtype in (torch.float32, torch.float64):
        x = tiny.to(dtype)
        assert torch.equal(rms_norm(x, (8,)), rms_norm(x, (8,), eps=default_eps(dtype)))
        assert torch.equal(rms_norm(x, (8,)), F.rms_norm(x, (8,)))
    assert not torch.allclose(rms_norm(tiny, (8,)), rms_norm(tiny, (8,), eps=1e-12), rtol=1e-2)


def test_rms_norm_rescales_but_does_not_recenter():
    x = _x((6, 16), torch.float64) + 2.0
    y = rms_norm(x, (16,), eps=0.0)
    torch.testing.assert_close(y.pow(2).mean(-1), torch.ones(6, dtype=torch.float64))
    torch.testing.assert_close(rms_norm(7.5 * x, (16,), eps=0.0), y)  # scale invariant
    assert (rms_norm(x - 2.0, (16,), eps=0.0) - y).abs().max() > 0.1  # not shift invariant
    assert y.mean(-1).abs().min() > 0.3  # the mean is kept (LayerNorm would remove it)


def test_module_matches_torch_rmsnorm():
    torch.manual_seed(0)
    theirs = torch.nn.RMSNorm((3, 5), eps=1e-4)
    with torch.no_grad():
        theirs.weight.copy_(_x((3, 5), seed=2, scale=1.0))
    ours = RMSNorm((3, 5), eps=1e-4)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    ours.load_state_dict(theirs.state_dict())
    x1 = _x((4, 3, 5)).requires_grad_(True)
    x2 = x1.detach().clone().requires_grad_(True)
    y1, y2 = ours(x1), theirs(x2)
    torch.testing.assert_close(y1, y2, rtol=0, atol=0)
    g = _x((4, 3, 5), seed=3)
    y1.backward(g)
    y2.backward(g)
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad, rtol=1e-5, atol=1e-6)
    plain, tplain = (
        RMSNorm(5, elementwise_affine=False),
        torch.nn.RMSNorm(5, elementwise_affine=False),
    )
    assert list(plain.state_dict()) == list(tplain.state_dict()) == [] and plain.weight is None
    assert torch.equal(plain(x1[..., :]), tplain(x1))
    assert (RMSNorm(5).normalized_shape, RMSNorm(5).eps) == (tplain.normalized_shape, tplain.eps)


def test_bad_input():
    x = _x((2, 5))
    with pytest.raises(ValueError, match="normalized_shape"):
        rms_norm(x, (4,))
    with pytest.raises(TypeError, match="input"):
        rms_norm(x.numpy(), (5,))
    with pytest.raises(TypeError, match="floating"):
        rms_norm(torch.ones(2, 5, dtype=torch.int64), (5,))
    with pytest.raises(ValueError, match="weight"):
        rms_norm(x, (5,), torch.ones(4))
    with pytest.raises(ValueError, match="eps"):
        rms_norm(x, (5,), eps=-1.0)
    with pytest.raises(ValueError, match="normalized_shape"):
        RMSNorm(0)
    with pytest.raises(TypeError, match="elementwise_affine"):
        RMSNorm(5, elementwise_affine=1)


# ------------------------------------------------------------------------------ Keras


@pytest.fixture(scope="module")
def K():
    pytest.importorskip("keras")
    import keras

    from godeep.keras import rmsnorm, tf

    return keras, tf, rmsnorm


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("eps", [None, 1e-3])
def test_keras_rms_norm_equals_torch(K, dtype, eps):
    keras, tf, krms = K
    x = _x((4, 3, 5), getattr(torch, dtype))
    w = _x((3, 5), getattr(torch, dtype), seed=1, scale=1.0)
    ours = krms.rms_norm(tf.constant(x.numpy()), (3, 5), tf.constant(w.numpy()), eps).numpy()
    np.testing.assert_allclose(
        ours,
        F.rms_norm(x, (3, 5), w, eps).numpy(),
        rtol=1e-6 if dtype == "float32" else 1e-12,
        atol=1e-6 if dtype == "float32" else 1e-12,
    )
    assert krms.default_eps(dtype) == default_eps(getattr(torch, dtype))


def test_keras_layer_matches_keras_rmsnormalization_and_torch_gradients(K):
    keras, tf, krms = K
    x = _x((4, 6, 5))
    gamma = _x((5,), seed=4, scale=1.0).numpy()
    ours, theirs = krms.RMSNorm(epsilon=1e-6), keras.layers.RMSNormalization(epsilon=1e-6)
    ours.build((None, 6, 5))
    theirs.build((None, 6, 5))
    ours.set_weights([gamma])
    theirs.set_weights([gamma])
    assert [w.name for w in ours.weights] == ["gamma"]
    xt = tf.constant(x.numpy())
    np.testing.assert_allclose(ours(xt).numpy(), theirs(xt).numpy(), rtol=1e-5, atol=1e-6)
    # gradients against torch.nn.RMSNorm with the same weight
    g = _x((4, 6, 5), seed=5)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(ours(xt) * tf.constant(g.numpy()))
    dx, dgamma = tape.gradient(loss, [xt, ours.gamma])
    tmod = torch.nn.RMSNorm(5, eps=1e-6)
    with torch.no_grad():
        tmod.weight.copy_(torch.as_tensor(gamma))
    xx = x.clone().requires_grad_(True)
    (tmod(xx) * g).sum().backward()
    np.testing.assert_allclose(dx.numpy(), xx.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dgamma.numpy(), tmod.weight.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_keras_layer_normalized_shape_and_bad_input(K):
    keras, tf, krms = K
    x = tf.constant(_x((2, 3, 5)).numpy())
    layer = krms.RMSNorm((3, 5), epsilon=1e-5)
    np.testing.assert_allclose(
        layer(x).numpy(),
        F.rms_norm(torch.as_tensor(x.numpy()), (3, 5), eps=1e-5).numpy(),
        rtol=1e-6,
        atol=1e-6,
    )
    assert krms.RMSNorm(scale=False)(x).shape == x.shape
    with pytest.raises(ValueError, match="normalized_shape"):
        krms.RMSNorm((4,))(x)
    with pytest.raises(TypeError, match="floating"):
        krms.rms_norm(tf.ones((2, 5), dtype=tf.int32), (5,))
    with pytest.raises(ValueError, match="epsilon"):
        krms.RMSNorm(epsilon=-1.0)
