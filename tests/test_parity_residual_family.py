"""godeep.keras.residual's residual family after ResNet against the PyTorch twins: stochastic
depth's semantics, and the same numbers from highway layers, DenseNets, grouped ResNets,
normalizer-free ResNets and AGC on copied weights (NCHW -> NHWC, kernels (out, in, kh, kw) ->
(kh, kw, in, out), Linear weights transposed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from godeep import clipping, residual

kr = pytest.importorskip("godeep.keras.residual")
import keras  # noqa: E402  (after godeep.keras: quiet TensorFlow)

from godeep.keras import clipping as kclipping  # noqa: E402


def _nhwc(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def _kernel(weight: torch.Tensor) -> np.ndarray:
    w = weight.detach().numpy()
    return w.transpose(2, 3, 1, 0) if w.ndim == 4 else w.T


def _bn(bn: torch.nn.BatchNorm2d) -> list[np.ndarray]:
    return [t.detach().numpy() for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var)]


def _copy_densenet(tk, pt) -> None:
    """Copy a two-block torch DenseNet's weights into its Keras twin (ImageNet stem: with norm0)."""
    f = pt.features
    tk.get_layer("conv0").set_weights([_kernel(f.conv0.weight)])
    if hasattr(f, "norm0"):
        tk.get_layer("norm0").set_weights(_bn(f.norm0))
    for b in (1, 2):
        kblock = tk.get_layer(f"denseblock{b}")
        for layer, tlayer in zip(kblock.dense_layers, getattr(f, f"denseblock{b}").values()):
            for name in ("norm1", "norm2"):
                getattr(layer, name).set_weights(_bn(getattr(tlayer, name)))
            for name in ("conv1", "conv2"):
                getattr(layer, name).set_weights([_kernel(getattr(tlayer, name).weight)])
    trans = tk.get_layer("transition1")
    trans.norm.set_weights(_bn(f.transition1.norm))
    trans.conv.set_weights([_kernel(f.transition1.conv.weight)])
    tk.get_layer("norm5").set_weights(_bn(f.norm5))
    tk.get_layer("classifier").set_weights(
        [_kernel(pt.classifier.weight), pt.classifier.bias.detach().numpy()]
    )


# ---------------------------------------------------------------- stochastic depth


def test_keras_stochastic_depth_semantics():
    x = np.ones((20000, 3), "float32")
    y = np.asarray(kr.stochastic_depth(x, 0.3, "row", seed=0))
    dropped = (y == 0).all(1)
    assert np.all(dropped | np.isclose(y, 1 / 0.7).all(1))
    assert abs(dropped.mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / len(y))
    assert np.array_equal(np.asarray(kr.stochastic_depth(x, 0.3, "row", seed=0)), y)  # same seed
    batch = np.asarray(kr.stochastic_depth(x[:8], 0.5, "batch", seed=1))
    assert np.all(batch == batch.flat[0]) and batch.flat[0] in (0.0, 2.0)
    assert np.array_equal(np.asarray(kr.stochastic_depth(x, 0.9, "row", training=False)), x)
    assert np.all(np.asarray(kr.stochastic_depth(x[:4], 1.0, "batch")) == 0)
    with pytest.raises(ValueError, match="mode has to be either 'batch' or 'row'"):
        kr.stochastic_depth(x, 0.5, "rows")
    layer = kr.StochasticDepth(0.5, "row")
    assert np.array_equal(np.asarray(layer(x[:6], training=False)), x[:6])
    trained = np.asarray(layer(x[:4000], training=True))
    assert 0.4 < (trained == 0).all(1).mean() < 0.6


# ---------------------------------------------------------------- highway


def test_keras_highway_matches_pytorch():
    torch.manual_seed(0)
    pt = residual.highway_net(5, 6, depth=3, num_classes=2, gate_bias=-2.0)
    tk = kr.highway_net(5, 6, depth=3, num_classes=2, gate_bias=-2.0)
    assert kr.count_parameters(tk) == residual.count_parameters(pt)
    tk.layers[0].set_weights([_kernel(pt[0].weight), pt[0].bias.detach().numpy()])
    for i in range(3):
        t, k = pt[2 + i], tk.layers[1 + i]
        k.transform.set_weights([_kernel(t.transform.weight), t.transform.bias.detach().numpy()])
        k.gate.set_weights([_kernel(t.gate.weight), t.gate.bias.detach().numpy()])
    tk.layers[-1].set_weights([_kernel(pt[-1].weight), pt[-1].bias.detach().numpy()])
    x = np.random.default_rng(0).standard_normal((4, 5)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(tk(x)), pt(torch.as_tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6
    )
    # the gate starts from the same bias in both
    assert np.allclose(np.asarray(tk.layers[1].gate.bias), -2.0)


# ---------------------------------------------------------------- DenseNet


def test_keras_densenet121_counts_and_small_densenet_matches_pytorch():
    assert kr.count_parameters(kr.densenet121(input_size=None)) == 7_978_856
    torch.manual_seed(0)
    kwargs = dict(growth_rate=4, block_config=(2, 3), num_init_features=8, num_classes=3)
    pt = residual.DenseNet(**kwargs).eval()
    for m in pt.modules():  # non-trivial statistics, so that eval mode is tested
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    tk = kr.DenseNet(**kwargs, input_size=32)
    assert kr.count_parameters(tk) == residual.count_parameters(pt)
    _copy_densenet(tk, pt)
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(tk(_nhwc(x), training=False)),
        pt(torch.as_tensor(x)).detach().numpy(),
        rtol=1e-4,
        atol=1e-5,
    )


@pytest.mark.parametrize("dense", [True, False])
def test_keras_densenet_cifar_and_its_chain_control_match_pytorch(dense):
    assert kr.count_parameters(kr.densenet_cifar()) == 769_162
    torch.manual_seed(0)
    kwargs = dict(block_config=(2, 3), growth_rate=4, num_classes=3, in_channels=1, dense=dense)
    pt = residual.densenet_cifar(**kwargs).eval()
    tk = kr.densenet_cifar(**kwargs, input_size=8)
    assert kr.count_parameters(tk) == residual.count_parameters(pt)
    _copy_densenet(tk, pt)
    x = np.random.default_rng(3).standard_normal((4, 1, 8, 8)).astype("float32")
    # training mode (batch statistics): the numbers a training step sees
    np.testing.assert_allclose(
        np.asarray(tk(_nhwc(x), training=True)),
        pt.train()(torch.as_tensor(x)).detach().numpy(),
        rtol=1e-4,
        atol=1e-4,
    )


# ---------------------------------------------------------------- grouped ResNets


def test_keras_resnext_and_wide_resnet_match_pytorch():
    torch.manual_seed(0)
    pt = residual.resnext50_32x4d(num_classes=3).eval()
    tk = kr.resnext50_32x4d(num_classes=3, input_size=32)
    kr.copy_from_torch(tk, pt)
    assert kr.count_parameters(tk) == residual.count_parameters(pt)
    x = np.random.default_rng(2).standard_normal((1, 3, 32, 32)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(tk(_nhwc(x), training=False)),
        pt(torch.as_tensor(x)).detach().numpy(),
        rtol=1e-3,
        atol=1e-4,
    )
    assert kr.count_parameters(kr.wide_resnet50_2(input_size=None)) == 68_883_240
    # a grouped net's weights do not fit a plain ResNet-50 (the 3x3 kernels' shapes differ)
    with pytest.raises(ValueError):
        kr.copy_from_torch(kr.resnet50(num_classes=3, input_size=32), pt)


# ---------------------------------------------------------------- normalizer-free


def test_keras_nf_resnet_matches_pytorch_and_standardizes_like_it():
    torch.manual_seed(0)
    pt = residual.nf_cifar_resnet(8, num_classes=4, alpha=0.3)
    with torch.no_grad():  # a non-zero classifier and gains, so that everything is compared
        pt.fc.weight.normal_()
        for m in pt.modules():
            if isinstance(m, residual.ScaledWSConv2d):
                m.gain.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    tk = kr.nf_cifar_resnet(8, num_classes=4, alpha=0.3, input_size=16)
    assert kr.count_parameters(tk) == residual.count_parameters(pt)

    def copy(k, t):
        k.set_weights([_kernel(t.weight), t.bias.detach().numpy(), t.gain.detach().numpy()])

    copy(tk.get_layer("stem"), pt.stem)
    for i, tb in enumerate(pt.blocks):
        kb = tk.get_layer(f"block{i}")
        assert kb.beta == pytest.approx(tb.beta) and kb.transition == tb.transition
        copy(kb.conv1, tb.conv1)
        copy(kb.conv2, tb.conv2)
        if tb.shortcut is not None:
            copy(kb.shortcut, tb.shortcut)
    tk.get_layer("fc").set_weights([_kernel(pt.fc.weight), pt.fc.bias.detach().numpy()])
    np.testing.assert_allclose(
        np.asarray(tk.get_layer("stem").standardized_kernel()),
        _kernel(pt.stem.standardized_weight()),
        rtol=1e-5,
        atol=1e-6,
    )
    x = np.random.default_rng(3).standard_normal((2, 3, 16, 16)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(tk(_nhwc(x))), pt(torch.as_tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5
    )


# ---------------------------------------------------------------- AGC


def test_keras_agc_matches_pytorch_on_transposed_layouts():
    rng = np.random.default_rng(4)
    w = rng.standard_normal((6, 3, 3, 3)).astype("float32")  # (out, in, kh, kw)
    g = (rng.standard_normal(w.shape) * rng.uniform(0.001, 1.0, (6, 1, 1, 1))).astype("float32")
    b, gb = rng.standard_normal(6).astype("float32"), rng.standard_normal(6).astype("float32")
    expected = clipping.adaptive_clip(
        [torch.as_tensor(g), torch.as_tensor(gb)], [torch.as_tensor(w), torch.as_tensor(b)], 0.05
    )
    t = keras.ops.convert_to_tensor
    got = kclipping.adaptive_clip(
        [t(_kernel(torch.as_tensor(g))), t(gb)], [t(_kernel(torch.as_tensor(w))), t(b)], 0.05
    )
    np.testing.assert_allclose(np.asarray(got[0]), _kernel(expected[0]), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(got[1]), expected[1].numpy(), rtol=1e-5, atol=1e-7)
    # some units were clipped and some were not, so both branches are compared
    ratio = np.linalg.norm(g.reshape(6, -1), axis=1) / np.linalg.norm(w.reshape(6, -1), axis=1)
    assert (ratio > 0.05).any() and (ratio < 0.05).any()
    assert keras.ops.shape(kclipping.unitwise_norm(t(_kernel(torch.as_tensor(w))))) == (1, 1, 1, 6)


def test_keras_nf_resnets_of_one_depth_are_one_architecture_for_fit():
    """Two NF nets of the same depth share fit's traced step (their final activation is one
    function, not a new lambda per net); changing a block's alpha makes another architecture."""
    from godeep.keras.train._reuse import architecture

    a, b = (kr.nf_cifar_resnet(8, in_channels=1, input_size=8) for _ in range(2))
    assert architecture(a) == architecture(b)
    b.get_layer("block0").alpha = 1.0
    assert architecture(a) != architecture(b)
