"""godeep.keras.residual: the same networks as godeep.residual, computing the same numbers.

Conventions converted by copy_from_torch: NCHW -> NHWC, conv kernels (out, in, kh, kw) ->
(kh, kw, in, out), Linear weight -> Dense kernel (transposed); BN epsilon 1e-5, momentum 0.9.
"""

import numpy as np
import pytest
import torch

import godeep
from godeep import residual

kr = pytest.importorskip("godeep.keras.residual")
pytest_plugins = ["fixtures_bn"]
import keras  # noqa: E402  (after godeep.keras: quiet TensorFlow)


def _nhwc(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("depth", [20, 56, 110])
def test_keras_cifar_resnet_parameter_counts_match(depth):
    model = kr.cifar_resnet(depth)
    assert kr.count_parameters(model) == residual.count_parameters(residual.cifar_resnet(depth))
    # Keras' count_params() adds BN's moving mean and variance: 2 per BN channel
    bn_channels = sum(m.num_features for m in residual.cifar_resnet(depth).modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert model.count_params() == kr.count_parameters(model) + 2 * bn_channels


@pytest.mark.parametrize("shortcut", ["B", "C"])
def test_keras_cifar_resnet_projection_counts_match(shortcut):
    model = kr.cifar_resnet(14, shortcut=shortcut, in_channels=1, widths=(4, 8, 16))
    assert kr.count_parameters(model) == residual.count_parameters(
        residual.cifar_resnet(14, shortcut=shortcut, in_channels=1, widths=(4, 8, 16))
    )


def test_keras_cifar_resnet_structure_and_errors():
    model = kr.cifar_resnet(20, plain=True, in_channels=1)
    assert [len(s) for s in kr.stages(model)] == [3, 3, 3]
    assert not any(b.shortcut for b in kr.blocks(model))
    assert model(np.zeros((2, 8, 8, 1), "float32")).shape == (2, 10)
    with pytest.raises(ValueError, match="6n\\+2"):
        kr.cifar_resnet(21)
    with pytest.raises(ValueError, match="shortcut"):
        kr.cifar_resnet(20, shortcut="Z")
    with pytest.raises(ValueError, match="plain"):
        kr.cifar_resnet(20, plain=True, zero_init_residual=True)


@pytest.mark.parametrize("kwargs", [dict(depth=8), dict(depth=14, shortcut="B"), dict(depth=8, plain=True), dict(depth=8, shortcut="C")])
@pytest.mark.parametrize("training", [False, True])
def test_keras_cifar_resnet_forward_matches_pytorch(kwargs, training, randomize_bn):
    godeep.seed_everything(0)
    pt = randomize_bn(residual.cifar_resnet(in_channels=1, widths=(4, 8, 16), **kwargs))
    tk = kr.cifar_resnet(in_channels=1, widths=(4, 8, 16), input_size=8, **kwargs)
    kr.copy_from_torch(tk, pt)
    x = np.random.default_rng(0).standard_normal((6, 1, 8, 8)).astype("float32")
    pt.train(training)
    expected = pt(torch.as_tensor(x)).detach().numpy()
    got = np.asarray(tk(_nhwc(x), training=training))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_keras_resnet18_forward_matches_pytorch():
    godeep.seed_everything(0)
    pt = residual.resnet18(num_classes=5).eval()
    tk = kr.resnet18(num_classes=5, input_size=32)
    kr.copy_from_torch(tk, pt)
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype("float32")
    np.testing.assert_allclose(np.asarray(tk(_nhwc(x), training=False)), pt(torch.as_tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-4)


def test_keras_resnet50_bottleneck_forward_matches_pytorch():
    godeep.seed_everything(0)
    pt = residual.resnet50(num_classes=3).eval()
    tk = kr.resnet50(num_classes=3, input_size=32)
    kr.copy_from_torch(tk, pt)
    assert kr.count_parameters(tk) == residual.count_parameters(pt)
    x = np.random.default_rng(2).standard_normal((1, 3, 32, 32)).astype("float32")
    np.testing.assert_allclose(np.asarray(tk(_nhwc(x), training=False)), pt(torch.as_tensor(x)).detach().numpy(),
                               rtol=1e-3, atol=1e-4)


def test_keras_imagenet_counts_and_keras_applications_difference():
    ours = kr.resnet50()
    assert kr.count_parameters(ours) == 25_557_032
    app = keras.applications.ResNet50(weights=None)  # offline: no weights are downloaded
    conv_biases = sum(layer.filters for layer in app.layers if isinstance(layer, keras.layers.Conv2D) and layer.use_bias)
    assert conv_biases == 26_560
    assert app.count_params() == 25_636_712
    # same architecture up to the conv biases: trainable counts differ by exactly those
    app_trainable = int(sum(np.prod(w.shape) for w in app.trainable_weights))
    assert app_trainable - kr.count_parameters(ours) == conv_biases
    # and the totals by the same amount (both count BN moving statistics)
    assert app.count_params() - ours.count_params() == conv_biases
    for depth, expected in ((18, 11_689_512), (34, 21_797_672)):
        assert kr.count_parameters(getattr(kr, f"resnet{depth}")()) == expected


def test_keras_zero_init_residual_block_is_identity():
    godeep.seed_everything(0)
    model = kr.cifar_resnet(14, zero_init_residual=True, input_size=8)
    x = np.maximum(np.random.default_rng(0).standard_normal((3, 8, 8, 16)), 0).astype("float32")
    for block in kr.stages(model)[0]:
        np.testing.assert_array_equal(np.asarray(block(x, training=True)), x)
        np.testing.assert_array_equal(np.asarray(block(x, training=False)), x)


def test_keras_option_a_shortcut():
    s = kr.ZeroPadShortcut(2, 5, stride=2)
    x = np.random.default_rng(0).standard_normal((3, 6, 6, 2)).astype("float32")
    y = np.asarray(s(x))
    assert y.shape == (3, 3, 3, 5)
    np.testing.assert_array_equal(y[..., :2], x[:, ::2, ::2, :])
    assert not np.any(y[..., 2:])


def test_keras_drop_block():
    godeep.seed_everything(0)
    model = kr.cifar_resnet(14, in_channels=1, input_size=8)
    lesioned = kr.drop_block(model, 1)
    assert len(kr.blocks(lesioned)) == len(kr.blocks(model)) - 1
    assert lesioned(np.zeros((1, 8, 8, 1), "float32")).shape == (1, 10)
    with pytest.raises(ValueError, match="shape"):
        kr.drop_block(model, 2)


@pytest.mark.parametrize("training", [False, True])
def test_keras_dense_residual_block_matches_pytorch(training):
    godeep.seed_everything(0)
    pt = residual.DenseResidualBlock(12)
    with torch.no_grad():
        pt.bn1.running_mean.uniform_(-0.5, 0.5)
        pt.bn2.running_var.uniform_(0.5, 2.0)
        pt.bn2.weight.uniform_(0.5, 1.5)
    tk = kr.DenseResidualBlock(12)
    tk.build((None, 12))
    kr.copy_dense_from_torch(tk, pt)
    x = np.random.default_rng(0).standard_normal((7, 12)).astype("float32")
    pt.train(training)
    np.testing.assert_allclose(np.asarray(tk(x, training=training)), pt(torch.as_tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_keras_blog_residual_block_is_the_dense_block():
    inputs = keras.Input(shape=(16,))
    model = keras.Model(inputs, kr.residual_block(inputs, 16))
    assert model.count_params() == 2 * (16 * 16 + 16) + 2 * 4 * 16  # BN: gamma, beta, moving mean, variance
    assert kr.count_parameters(model) == residual.count_parameters(residual.DenseResidualBlock(16))
    with pytest.raises(ValueError, match="units"):
        kr.residual_block(keras.Input(shape=(8,)), 16)


def test_keras_dense_resnet_zero_init_identity():
    stack = kr.dense_resnet(16, 4, zero_init_residual=True)
    x = np.random.default_rng(0).uniform(size=(8, 16)).astype("float32")
    np.testing.assert_array_equal(np.asarray(stack(x, training=True)), x)


def test_keras_mnist_residual_convnet_counts_and_forward():
    model = kr.mnist_residual_convnet()
    assert model.count_params() == residual.count_parameters(residual.mnist_residual_convnet()) == 513_994
    godeep.seed_everything(0)
    pt = residual.mnist_residual_convnet(image_size=8)
    tk = kr.mnist_residual_convnet(image_size=8)
    for name in ("conv1", "conv2"):
        src = getattr(pt, name)
        tk.get_layer(name).set_weights([src.weight.detach().numpy().transpose(2, 3, 1, 0), src.bias.detach().numpy()])
    for block in ("block1", "block2"):
        for conv in ("conv1", "conv2"):
            src = getattr(getattr(pt, block), conv)
            getattr(tk.get_layer(block), conv).set_weights([src.weight.detach().numpy().transpose(2, 3, 1, 0), src.bias.detach().numpy()])
    # Flatten: PyTorch flattens (C, H, W), Keras (H, W, C): permute fc1's input rows
    w = pt.fc1.weight.detach().numpy().reshape(128, 64, 2, 2).transpose(2, 3, 1, 0).reshape(-1, 128)
    tk.get_layer("fc1").set_weights([w, pt.fc1.bias.detach().numpy()])
    tk.get_layer("fc2").set_weights([pt.fc2.weight.detach().numpy().T, pt.fc2.bias.detach().numpy()])
    x = np.random.default_rng(0).standard_normal((3, 1, 8, 8)).astype("float32")
    np.testing.assert_allclose(np.asarray(tk(_nhwc(x))), pt(torch.as_tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make, shape", [(lambda m, **k: m.cifar_resnet(20, **k), (3, 32, 32)),
                                         (lambda m, **k: m.cifar_resnet(8, variant="exclusive_gating", **k), (3, 16, 16)),
                                         (lambda m, **k: m.resnet18(**k), (3, 64, 64))])
def test_keras_count_macs_matches_pytorch(make, shape):
    """Same count of convolution and dense multiply-adds; Keras takes the shape channels last."""
    got = kr.count_macs(make(kr, input_size=None), shape[1:] + shape[:1])
    assert got == residual.count_macs(make(residual), shape) > 0
    with pytest.raises(ValueError):
        kr.count_macs(kr.cifar_resnet(8), (32, 32))


def test_keras_zero_init_residual_and_block_listing_match_pytorch():
    pt, tk = residual.cifar_resnet(14, in_channels=1), kr.cifar_resnet(14, in_channels=1, input_size=8)
    assert [len(s) for s in residual.stages(pt)] == [len(s) for s in kr.stages(tk)] == [2, 2, 2]
    assert len(residual.blocks(pt)) == len(kr.residual_blocks(tk)) == 6
    assert kr.zero_init_residual_(tk) is tk
    assert all(not np.any(b.last_bn.gamma.numpy()) for b in kr.residual_blocks(tk))
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 1)).astype("float32")
    # every block now outputs relu(its shortcut): the stem's (non-negative) output passes unchanged
    stem = keras.Sequential(tk.layers[:4])
    h = np.asarray(stem(x, training=False))
    np.testing.assert_allclose(np.asarray(kr.residual_blocks(tk)[0](h, training=False)), h, atol=1e-6)
