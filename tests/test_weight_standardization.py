"""Weight standardization (godeep.weight_standardization and its Keras twin): against F.batch_norm
on the weight, autograd through the formula written out, and across frameworks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from godeep.weight_standardization import WSConv2d, weight_standardization


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: on a shared machine, torch's thread pool costs more than it saves here."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _w(shape, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=torch.float64) * 0.3 + 0.1).to(dtype)


@pytest.mark.parametrize("shape", [(8, 3, 3, 3), (6, 10), (4, 2, 1, 5)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_equals_batch_norm_of_the_weight(shape, dtype):
    """torch's own normalization of the weight viewed as (1, out, fan_in) (timm's StdConv2d)."""
    w = _w(shape, dtype=dtype)
    ref = F.batch_norm(
        w.reshape(1, shape[0], -1), None, None, training=True, momentum=0.0, eps=1e-5
    ).reshape(shape)
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(weight_standardization(w, 1e-5), ref, rtol=tol, atol=tol)


def test_each_output_channel_has_zero_mean_unit_variance_and_forgets_scale_and_shift():
    w = _w((8, 4, 3, 3))
    ws = weight_standardization(w, eps=0.0)
    flat = ws.reshape(8, -1)
    torch.testing.assert_close(
        flat.mean(1), torch.zeros(8, dtype=torch.float64), atol=1e-12, rtol=0
    )
    torch.testing.assert_close(flat.var(1, unbiased=False), torch.ones(8, dtype=torch.float64))
    a = torch.linspace(0.5, 4.0, 8, dtype=torch.float64).reshape(8, 1, 1, 1)
    torch.testing.assert_close(weight_standardization(a * w - 3.0, eps=0.0), ws)


def _explicit(w, eps):
    """The same equation written another way: centred, divided by the root mean square of the centred."""
    out = w.shape[0]
    flat = w.reshape(out, -1)
    centred = flat - flat.sum(1, keepdim=True) / flat.shape[1]
    return (
        centred * (centred.square().sum(1, keepdim=True) / flat.shape[1] + eps).rsqrt()
    ).reshape(w.shape)


def test_gradients_flow_through_the_standardization():
    w1 = _w((5, 3, 3, 3), seed=1).requires_grad_(True)
    w2 = w1.detach().clone().requires_grad_(True)
    g = _w((5, 3, 3, 3), seed=2)
    (weight_standardization(w1, 1e-4) * g).sum().backward()
    (_explicit(w2, 1e-4) * g).sum().backward()
    torch.testing.assert_close(w1.grad, w2.grad, rtol=1e-10, atol=1e-12)
    # the Jacobian projects out, per output channel, the constant direction and (eps = 0) W_hat itself
    w3 = w1.detach().clone().requires_grad_(True)
    ws = weight_standardization(w3, 0.0)
    (ws * g).sum().backward()
    grad, ws = w3.grad.reshape(5, -1), ws.detach().reshape(5, -1)
    assert grad.abs().max() > 0.1
    torch.testing.assert_close(grad.sum(1), torch.zeros(5, dtype=torch.float64), atol=1e-10, rtol=0)
    torch.testing.assert_close(
        (grad * ws).sum(1), torch.zeros(5, dtype=torch.float64), atol=1e-10, rtol=0
    )


@pytest.mark.parametrize("bias", [True, False])
def test_wsconv2d_is_a_conv_with_the_standardized_weight(bias):
    torch.manual_seed(0)
    conv = WSConv2d(3, 6, 3, stride=2, padding=1, bias=bias, eps=1e-5)
    plain = torch.nn.Conv2d(3, 6, 3, stride=2, padding=1, bias=bias)
    assert list(conv.state_dict()) == list(plain.state_dict())
    x = _w((2, 3, 9, 9), seed=3, dtype=torch.float32)
    y = conv(x)
    ref = F.conv2d(x, weight_standardization(conv.weight, 1e-5), conv.bias, stride=2, padding=1)
    torch.testing.assert_close(y, ref, rtol=0, atol=0)
    y.square().sum().backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().max() > 0
    # with eps = 0, scaling the raw weight changes nothing (eps = 1e-5 is 4e-4 of these weights' variance)
    exact = WSConv2d(3, 6, 3, stride=2, padding=1, bias=bias, eps=0.0)
    exact.load_state_dict(conv.state_dict())
    y0 = exact(x)
    with torch.no_grad():
        exact.weight.mul_(10.0)
    torch.testing.assert_close(exact(x), y0, rtol=1e-5, atol=1e-5)


def test_bad_input():
    with pytest.raises(TypeError, match="weight"):
        weight_standardization(np.ones((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        weight_standardization(torch.ones(4))
    with pytest.raises(TypeError, match="floating"):
        weight_standardization(torch.ones(2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="eps"):
        weight_standardization(torch.ones(2, 3), eps=-1)
    with pytest.raises(ValueError, match="eps"):
        WSConv2d(3, 4, 3, eps=float("nan"))


# ------------------------------------------------------------------------------ Keras


@pytest.fixture(scope="module")
def K():
    pytest.importorskip("keras")
    import keras

    from godeep.keras import tf, weight_standardization as kws

    return keras, tf, kws


def test_keras_weight_standardization_equals_torch(K):
    keras, tf, kws = K
    w = _w((8, 3, 3, 3))
    ours = kws.weight_standardization(tf.constant(w.permute(2, 3, 1, 0).numpy()), 1e-5).numpy()
    np.testing.assert_allclose(
        ours, weight_standardization(w, 1e-5).permute(2, 3, 1, 0).numpy(), rtol=1e-12, atol=1e-12
    )
    dense = _w((6, 10))
    np.testing.assert_allclose(
        kws.weight_standardization(tf.constant(dense.T.numpy())).numpy(),
        weight_standardization(dense).T.numpy(),
        rtol=1e-12,
        atol=1e-12,
    )


def test_keras_wsconv2d_matches_torch_forward_and_gradient(K):
    keras, tf, kws = K
    torch.manual_seed(1)
    tconv = WSConv2d(3, 5, 3, stride=1, padding=1, eps=1e-5)
    kconv = kws.WSConv2D(5, 3, padding="same", eps=1e-5)
    x = _w((2, 3, 8, 8), seed=4, dtype=torch.float32)
    kconv.build((None, 8, 8, 3))
    kconv.set_weights(
        [tconv.weight.detach().permute(2, 3, 1, 0).numpy(), tconv.bias.detach().numpy()]
    )
    xk = tf.constant(x.permute(0, 2, 3, 1).numpy())
    g = _w((2, 5, 8, 8), seed=5, dtype=torch.float32)
    with tf.GradientTape() as tape:
        yk = kconv(xk)
        loss = tf.reduce_sum(yk * tf.constant(g.permute(0, 2, 3, 1).numpy()))
    dk = tape.gradient(loss, kconv.kernel)
    yt = tconv(x)
    (yt * g).sum().backward()
    np.testing.assert_allclose(
        yk.numpy(), yt.detach().permute(0, 2, 3, 1).numpy(), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        dk.numpy(), tconv.weight.grad.permute(2, 3, 1, 0).numpy(), rtol=1e-4, atol=1e-4
    )
    # a plain Conv2D with the same kernel computes something else
    plain = keras.layers.Conv2D(5, 3, padding="same")
    plain.build((None, 8, 8, 3))
    plain.set_weights(kconv.get_weights())
    assert np.abs(plain(xk).numpy() - yk.numpy()).max() > 0.1


def test_keras_bad_input(K):
    keras, tf, kws = K
    with pytest.raises(TypeError, match="weight"):
        kws.weight_standardization([1.0, 2.0])
    with pytest.raises(ValueError, match="shape"):
        kws.weight_standardization(tf.ones(3))
    with pytest.raises(ValueError, match="eps"):
        kws.WSConv2D(4, 3, eps=-1.0)
