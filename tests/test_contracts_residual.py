"""Contracts of godeep.residual and godeep.keras.residual: bad arguments and inputs raise clear
errors naming the argument, before any layer is built or any framework kernel runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from godeep import residual as r

BAD = [
    (lambda: r.ResNet(r.BasicBlock, (2, 0, 2, 2)), ValueError, r"layers\[1\] must be >= 1, got 0"),
    (lambda: r.ResNet(r.BasicBlock, (2, 2, 2, -1)), ValueError, r"layers\[3\] must be >= 1, got -1"),
    (lambda: r.ResNet(r.Bottleneck, (3, 4.0, 6, 3)), TypeError, r"layers\[1\] must be an int, got float"),
    (lambda: r.ResNet(r.BasicBlock, (2, 2, 2)), ValueError, "layers must list the blocks of 4 stages"),
    (lambda: r.ResNet(r.BasicBlock, 2), ValueError, "layers must list the blocks of 4 stages, got 2"),
    (lambda: r.cifar_resnet(20, variant="exclusive_gating", variant_options={"bogus": 1}), TypeError,
     r"variant_options of 'exclusive_gating' has unknown key\(s\) \['bogus'\]; valid keys: \['bias'\]"),
    (lambda: r.cifar_resnet(8, variant="constant_scaling", variant_options={"scale": 0.5}), TypeError,
     r"valid keys: \['shortcut', 'branch'\]"),
    (lambda: r.cifar_resnet(8, variant="identity", variant_options={"p": 0.5}), TypeError, r"valid keys: \[\]"),
    (lambda: r.cifar_resnet(8, variant="dropout_shortcut", variant_options=[("p", 0.5)]), TypeError,
     "variant_options of 'dropout_shortcut' must be a dict, got list"),
    (lambda: r.cifar_resnet(8, widths=(16.5, 32, 64)), TypeError, r"widths\[0\] must be an int, got float"),
    (lambda: r.cifar_resnet(8, widths=(16, 0, 64)), ValueError, r"widths\[1\] must be >= 1, got 0"),
    (lambda: r.mnist_residual_convnet(widths=(1, 2, 3)), ValueError, r"widths must give the channels of 2 stages, got \(1, 2, 3\)"),
    (lambda: r.mnist_residual_convnet(widths=(8, 2.5)), TypeError, r"widths\[1\] must be an int, got float"),
    (lambda: r.mnist_residual_convnet(hidden=0), ValueError, "hidden must be >= 1, got 0"),
    (lambda: r.mnist_residual_convnet(in_channels=None), TypeError, "in_channels must be an int, got NoneType"),
    (lambda: r.mnist_residual_convnet(num_classes=0), ValueError, "num_classes must be >= 1, got 0"),
    (lambda: r.mnist_residual_convnet(image_size=30), ValueError, "image_size must be a multiple of 4"),
    (lambda: r.mnist_residual_convnet(residual="yes"), TypeError, "residual must be a bool, got str"),
    (lambda: r.dense_resnet(4, 0), ValueError, "blocks must be >= 1, got 0"),
    (lambda: r.dense_resnet(4, -1), ValueError, "blocks must be >= 1, got -1"),
    (lambda: r.cifar_resnet(8)(torch.zeros(1, 3, 16, 16, dtype=torch.long)), TypeError,
     r"x must have the model's dtype torch.float32, got torch.int64"),
    (lambda: r.cifar_resnet(8)(torch.zeros(1, 3, 16, 16, dtype=torch.float64)), TypeError,
     r"x must have the model's dtype torch.float32, got torch.float64: convert it with x.to\(torch.float32\)"),
    (lambda: r.cifar_resnet(8)(np.zeros((1, 3, 16, 16), np.float32)), TypeError, "x must be a torch.Tensor, got ndarray"),
    (lambda: r.cifar_resnet(8)(torch.zeros(1, 16, 16, 3)), ValueError, r"expected a batch of images \(N, 3, H, W\), got shape \(1, 16, 16, 3\)"),
    (lambda: r.resnet18(num_classes=10)(torch.zeros(1, 3, 32, 32, dtype=torch.float64)), TypeError, "x must have the model's dtype torch.float32"),
    (lambda: r.resnet18(num_classes=10)(torch.zeros(3, 32, 32)), ValueError, r"expected a batch of images \(N, 3, H, W\)"),
    (lambda: r.BasicBlock(0, 4), ValueError, "inplanes must be >= 1, got 0"),
    (lambda: r.BasicBlock(4, 4, stride=0), ValueError, "stride must be >= 1, got 0"),
    (lambda: r.Bottleneck(4, 2.0), TypeError, "planes must be an int, got float"),
    (lambda: r.PreActBasicBlock(4, -4), ValueError, "planes must be >= 1, got -4"),
    (lambda: r.ZeroPadShortcut(4, 8, 0), ValueError, "stride must be >= 1, got 0"),
    (lambda: r.ConvResidualBlock(4, kernel_size=3.0), TypeError, "kernel_size must be an int, got float"),
    (lambda: r.ConvResidualBlock(4, kernel_size=-1), ValueError, "kernel_size must be >= 1, got -1"),
    (lambda: r.ConstantScaling(float("nan")), ValueError, "shortcut must be a finite number, got nan"),
    (lambda: r.ExclusiveGating(4, bias=float("inf")), ValueError, "bias must be a finite number, got inf"),
    (lambda: r.count_macs(r.cifar_resnet(8), None), TypeError, "input_shape must be a sequence of ints, got NoneType"),
    (lambda: r.count_macs(r.cifar_resnet(8), (32, 32)), ValueError, r"input_shape must have 3 items, got 2: \(32, 32\)"),
    (lambda: r.count_macs(None, (3, 32, 32)), TypeError, "model must be a torch.nn.Module, got NoneType"),
    (lambda: r.zero_init_residual_(None), TypeError, "model must be a torch.nn.Module, got NoneType"),
    (lambda: r.count_parameters("resnet"), TypeError, "model must be a torch.nn.Module, got str"),
    (lambda: r.cifar_depths(0), ValueError, "n_max must be >= 1, got 0"),
    (lambda: r.cifar_depths(2.5), TypeError, "n_max must be an int, got float"),
    (lambda: r.cifar_resnet(8, zero_init_residual=1), TypeError, "zero_init_residual must be a bool, got int"),
    (lambda: r.ResNet(r.BasicBlock, (1, 1, 1, 1), zero_init_residual="yes"), TypeError, "zero_init_residual must be a bool, got str"),
]


@pytest.mark.parametrize("call, error, fragment", BAD)
def test_residual_rejects(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


def test_float64_model_takes_float64_input():
    model = r.cifar_resnet(8).double().eval()
    assert model(torch.zeros(2, 3, 8, 8, dtype=torch.float64)).dtype == torch.float64


def test_autocast_input_of_another_dtype_runs_as_torch():
    model = r.cifar_resnet(8).eval()
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
        out = model(x.bfloat16())  # torch casts inside autocast; so does the check
    with torch.no_grad():
        ref = model(x)
    torch.testing.assert_close(out.float(), ref, rtol=0.1, atol=0.1)


def test_valid_variant_options_still_work():
    model = r.cifar_resnet(8, variant="exclusive_gating", variant_options={"bias": -3.0})
    assert all(float(b.merge.gate.bias[0].detach()) == -3.0 for b in model.blocks)


def test_torchvision_layouts_build_as_before():
    assert r.count_parameters(r.ResNet(r.BasicBlock, [2, 2, 2, 2])) == 11_689_512


# ------------------------------------------------------------------ Keras twin


@pytest.fixture(scope="module")
def kr():
    pytest.importorskip("tensorflow")
    from godeep.keras import residual as kr

    return kr


KERAS_BAD = [
    (lambda k: k.cifar_resnet(8, widths=(16.5, 32, 64)), TypeError, r"widths\[0\] must be an int, got float"),
    (lambda k: k.cifar_resnet(8, widths=(16, 32, -64)), ValueError, r"widths\[2\] must be >= 1, got -64"),
    (lambda k: k.cifar_resnet(8, variant="constant_scaling", variant_options={"bogus": 1}), TypeError,
     r"variant_options of 'constant_scaling' has unknown key\(s\) \['bogus'\]; valid keys: \['shortcut', 'branch'\]"),
    (lambda k: k.cifar_resnet(8, variant="identity", variant_options={"bias": 1}), TypeError, r"valid keys: \[\]"),
    (lambda k: k.mnist_residual_convnet(widths=(1, 2, 3)), ValueError, r"widths must give the channels of 2 stages, got \(1, 2, 3\)"),
    (lambda k: k.mnist_residual_convnet(widths=(8.0, 4)), TypeError, r"widths\[0\] must be an int, got float"),
    (lambda k: k.mnist_residual_convnet(hidden=-1), ValueError, "hidden must be >= 1, got -1"),
    (lambda k: k.mnist_residual_convnet(num_classes=1.0), TypeError, "num_classes must be an int, got float"),
    (lambda k: k.dense_resnet(4, 0), ValueError, "blocks must be >= 1, got 0"),
    (lambda k: k.BasicBlock(0, 4), ValueError, "inplanes must be >= 1, got 0"),
    (lambda k: k.Bottleneck(4, 4, stride=0), ValueError, "stride must be >= 1, got 0"),
    (lambda k: k.PreActBasicBlock(4, 4.0), TypeError, "planes must be an int, got float"),
    (lambda k: k.ZeroPadShortcut(4, 8, -2), ValueError, "stride must be >= 1, got -2"),
    (lambda k: k.ConstantScaling(branch=float("nan")), ValueError, "branch must be a finite number, got nan"),
    (lambda k: k.cifar_resnet(8, zero_init_residual=0), TypeError, "zero_init_residual must be a bool, got int"),
]


@pytest.mark.parametrize("call, error, fragment", KERAS_BAD)
def test_keras_residual_rejects(kr, call, error, fragment):
    with pytest.raises(error, match=fragment):
        call(kr)


@pytest.mark.parametrize("dtype", ["int64", "uint8", "float64"])
def test_keras_cifar_resnet_casts_input_as_keras(kr, dtype):
    """Keras layers cast integer and float64 input to their float32 compute dtype: followed."""
    model = kr.cifar_resnet(8)
    x = (np.arange(2 * 8 * 8 * 3).reshape(2, 8, 8, 3) % 5)
    ours = model(x.astype(dtype))
    assert ours.dtype == "float32"
    np.testing.assert_allclose(np.asarray(ours), np.asarray(model(x.astype("float32"))), rtol=1e-6)
