"""The residual family after ResNet (issue 21's package pieces), in PyTorch: stochastic depth
with torchvision.ops.stochastic_depth's semantics, highway layers, DenseNet-121 and the wide /
grouped ResNets with torchvision's keys and counts, normalizer-free blocks and AGC.

torchvision is not importable here: the expected keys and counts are written from its source
(torchvision/models/{densenet,resnet}.py, torchvision/ops/stochastic_depth.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from godeep import clipping, residual
from godeep.core.residual import nf_expected_stds, nonlinearity_gain

# ---------------------------------------------------------------- stochastic depth


@pytest.mark.parametrize(
    "p, mode, message",
    [
        (-0.1, "row", "drop probability has to be between 0 and 1, but got -0.1"),
        (1.5, "batch", "drop probability has to be between 0 and 1, but got 1.5"),
        (0.5, "rows", "mode has to be either 'batch' or 'row', but got rows"),
    ],
)
def test_stochastic_depth_refuses_bad_arguments_with_torchvisions_messages(p, mode, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        residual.stochastic_depth(torch.ones(2, 3), p, mode)
    with pytest.raises(ValueError):
        residual.StochasticDepth(p, mode)


def test_stochastic_depth_is_the_identity_outside_training_and_at_p0():
    x = torch.randn(8, 4)
    assert residual.stochastic_depth(x, 0.7, "row", training=False) is x
    assert residual.stochastic_depth(x, 0.0, "batch") is x
    module = residual.StochasticDepth(0.7, "row").eval()
    assert torch.equal(module(x), x)


def test_stochastic_depth_p1_drops_everything():
    x = torch.randn(5, 3, 2, 2)
    for mode in ("row", "batch"):
        assert torch.equal(residual.stochastic_depth(x, 1.0, mode), torch.zeros_like(x))


def test_row_mode_drops_whole_rows_at_rate_p_and_keeps_the_mean():
    torch.manual_seed(0)
    p, x = 0.3, torch.ones(20000, 3, 2)
    y = residual.stochastic_depth(x, p, "row")
    per_row = y.reshape(len(y), -1)
    # each row is all zeros or all 1 / (1 - p)
    assert torch.all(
        (per_row == 0).all(1) | torch.isclose(per_row, torch.tensor(1 / (1 - p))).all(1)
    )
    dropped = (per_row == 0).all(1).float().mean().item()
    assert abs(dropped - p) < 4 * math.sqrt(p * (1 - p) / len(y))
    assert abs(y.mean().item() - 1.0) < 0.02


def test_batch_mode_drops_all_or_nothing():
    torch.manual_seed(1)
    x = torch.ones(16, 4)
    outcomes = set()
    for _ in range(200):
        y = residual.stochastic_depth(x, 0.5, "batch")
        assert torch.all(y == y.flatten()[0])
        outcomes.add(float(y.flatten()[0]))
    assert outcomes == {0.0, 2.0}


def test_stochastic_depth_same_seed_same_mask_and_gradient_through_survivors():
    x = torch.randn(64, 8, requires_grad=True)
    torch.manual_seed(3)
    a = residual.stochastic_depth(x, 0.4, "row")
    torch.manual_seed(3)
    b = residual.stochastic_depth(x, 0.4, "row")
    assert torch.equal(a, b)
    a.sum().backward()
    kept = (a != 0).all(1)
    assert torch.allclose(x.grad[kept], torch.full_like(x.grad[kept], 1 / 0.6))
    assert torch.all(x.grad[~kept] == 0)


# ---------------------------------------------------------------- highway


def test_highway_closed_gate_is_the_identity_and_open_gate_the_transform():
    torch.manual_seed(0)
    x = torch.randn(10, 6)
    closed = residual.Highway(6, gate_bias=-30.0)
    assert torch.allclose(closed(x), x, atol=1e-6)
    opened = residual.Highway(6, gate_bias=30.0)
    assert torch.allclose(opened(x), torch.relu(opened.transform(x)), atol=1e-6)
    # the default gate (bias -1) mostly carries: T < 0.5 on average
    assert residual.Highway(6).transform_gate(x).mean() < 0.5


def test_highway_refuses_a_wrong_width_and_counts_parameters():
    layer = residual.Highway(4)
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        layer(torch.randn(2, 5))
    net = residual.highway_net(8, 4, depth=3, num_classes=2)
    assert residual.count_parameters(net) == (8 * 4 + 4) + 3 * 2 * (4 * 4 + 4) + (4 * 2 + 2)


# ---------------------------------------------------------------- DenseNet-121


def _densenet121_keys() -> list[str]:
    """torchvision's DenseNet-121 state_dict keys, from torchvision/models/densenet.py."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = ["features.conv0.weight", *(f"features.norm0.{k}" for k in bn)]
    for b, layers in enumerate((6, 12, 24, 16), start=1):
        for l in range(1, layers + 1):
            stem = f"features.denseblock{b}.denselayer{l}"
            keys += [f"{stem}.norm1.{k}" for k in bn] + [f"{stem}.conv1.weight"]
            keys += [f"{stem}.norm2.{k}" for k in bn] + [f"{stem}.conv2.weight"]
        if b < 4:
            keys += [f"features.transition{b}.norm.{k}" for k in bn]
            keys += [f"features.transition{b}.conv.weight"]
    return keys + [f"features.norm5.{k}" for k in bn] + ["classifier.weight", "classifier.bias"]


def test_densenet121_has_torchvisions_keys_shapes_and_count():
    model = residual.densenet121()
    state = model.state_dict()
    assert list(state) == _densenet121_keys()
    assert residual.count_parameters(model) == 7_978_856
    # channels grow by k = 32 per layer; transitions halve them: 64 + 6*32 = 256 -> 128, ...
    assert state["features.denseblock1.denselayer6.conv1.weight"].shape == (128, 224, 1, 1)
    assert state["features.transition1.conv.weight"].shape == (128, 256, 1, 1)
    assert state["features.transition3.conv.weight"].shape == (512, 1024, 1, 1)
    assert state["classifier.weight"].shape == (1000, 1024)
    model.load_state_dict(residual.densenet121().state_dict(), strict=True)


def test_densenet_block_concatenates_and_the_input_gets_a_direct_gradient_from_every_layer():
    torch.manual_seed(0)
    block = residual.DenseBlock(3, in_channels=4, growth_rate=2).eval()
    x = torch.randn(1, 4, 5, 5, requires_grad=True)
    y = block(x)
    assert y.shape == (1, 4 + 3 * 2, 5, 5)
    assert torch.equal(y[:, :4], x)  # the input passes through unchanged
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        residual.densenet121()(torch.randn(1, 1, 32, 32))


def test_densenet_cifar_is_the_papers_densenet_bc_and_its_chain_control_keeps_every_shape():
    model = residual.densenet_cifar()  # DenseNet-BC (L=100, k=12): "0.8M" in the paper
    assert residual.count_parameters(model) == 769_162
    state = model.state_dict()
    assert state["features.conv0.weight"].shape == (24, 3, 3, 3)  # stem: 2k channels
    assert "features.norm0.weight" not in state
    # 24 + 16 * 12 = 216 channels -> compression 0.5 -> 108
    assert state["features.transition1.conv.weight"].shape == (108, 216, 1, 1)
    chain = residual.densenet_cifar(dense=False)
    assert {k: v.shape for k, v in chain.state_dict().items()} == {
        k: v.shape for k, v in state.items()
    }
    with pytest.raises(ValueError, match="stem"):
        residual.DenseNet(stem="mnist")
    with pytest.raises(TypeError, match="dense"):
        residual.densenet_cifar(dense=1)


def test_a_chain_block_feeds_each_layer_only_the_previous_output():
    torch.manual_seed(0)
    dense = residual.DenseBlock(3, in_channels=4, growth_rate=2).eval()
    chain = residual.DenseBlock(3, in_channels=4, growth_rate=2, dense=False).eval()
    chain.load_state_dict(dense.state_dict())
    x = torch.randn(2, 4, 5, 5, requires_grad=True)
    y = chain(x)
    assert y.shape == (2, 4 + 3 * 2, 5, 5)
    assert torch.equal(y[:, :8], torch.zeros(2, 8, 5, 5))  # only the last map passes on
    # the same as running the layers one after the other on zero-padded inputs
    h, width = x, 4
    for layer in chain.values():
        h = layer([torch.zeros(2, width - h.shape[1], 5, 5), h])
        width += 2
    torch.testing.assert_close(y[:, 8:], h)
    # same weights, dense connections: the last layer sees more than its predecessor's output
    assert not torch.allclose(dense(x)[:, 8:], y[:, 8:])


# ---------------------------------------------------------------- wide and grouped ResNets


def test_wide_and_grouped_resnets_have_torchvisions_counts_keys_and_widths():
    base = residual.resnet50().state_dict()
    wide = residual.wide_resnet50_2()
    resnext = residual.resnext50_32x4d()
    assert residual.count_parameters(wide) == 68_883_240
    assert residual.count_parameters(resnext) == 25_028_904
    assert list(wide.state_dict()) == list(base) == list(resnext.state_dict())
    # layer1's 3x3 conv: 64 channels in ResNet-50, 128 in the wide one, 128 in 32 groups of 4
    assert base["layer1.0.conv2.weight"].shape == (64, 64, 3, 3)
    assert wide.state_dict()["layer1.0.conv2.weight"].shape == (128, 128, 3, 3)
    assert resnext.state_dict()["layer1.0.conv2.weight"].shape == (128, 4, 3, 3)
    assert resnext.layer4[0].conv2.groups == 32
    # the blocks' outputs are unchanged: 4 * planes
    assert wide.state_dict()["layer4.2.conv3.weight"].shape == (2048, 1024, 1, 1)


def test_grouped_width_needs_bottlenecks_and_a_channel_per_group():
    with pytest.raises(ValueError, match="Bottleneck"):
        residual.ResNet(residual.BasicBlock, [1, 1, 1, 1], groups=2)
    with pytest.raises(ValueError, match="fewer than one channel per group"):
        residual.Bottleneck(8, 1, groups=4, base_width=1)


# ---------------------------------------------------------------- normalizer-free


def test_relu_gain_closed_form_agrees_with_quadrature():
    closed = nonlinearity_gain("relu")
    assert closed == pytest.approx(math.sqrt(2 / (1 - 1 / math.pi)))
    assert nonlinearity_gain(lambda z: np.maximum(z, 0.0)) == pytest.approx(closed, rel=1e-3)
    assert nonlinearity_gain("identity") == 1.0
    with pytest.raises(TypeError):
        nonlinearity_gain("no such activation")


def test_nf_expected_stds_accumulate_alpha_squared_and_restart_at_transitions():
    betas = nf_expected_stds([2, 2], 0.5)
    assert betas == pytest.approx([1.0, math.sqrt(1.25), math.sqrt(1.5), math.sqrt(1.25)])


def test_scaled_ws_weight_is_zero_mean_with_norm_gain_per_unit():
    torch.manual_seed(0)
    conv = residual.ScaledWSConv2d(5, 7, 3)
    with torch.no_grad():
        conv.weight.mul_(9.0).add_(3.0)  # any scale and offset of the raw weight
        conv.gain.copy_(torch.linspace(0.5, 2.0, 7))
    w = conv.standardized_weight()
    assert torch.allclose(w.mean(dim=(1, 2, 3)), torch.zeros(7), atol=1e-6)
    assert torch.allclose(w.flatten(1).norm(dim=1), conv.gain, rtol=1e-4)


def test_nf_resnet_stream_variance_tracks_the_expected_beta_at_init():
    """The point of Eq. (1): without any normalization, the residual stream's variance at each
    block follows beta^2 (averaged over 3 seeds: within 15% at every block of an NF-ResNet-20 on
    32x32 inputs; on 16x16 ones the zero padding of stage 3's 4x4 maps, where a quarter of a 3x3
    window's inputs can be padding, lowers it ~19% there)."""
    ratios = []
    for seed in range(3):
        torch.manual_seed(seed)
        model = residual.nf_cifar_resnet(20)
        h = model.stem(torch.randn(32, 3, 32, 32))
        with torch.no_grad():
            seen = []
            for block in model.blocks:
                seen.append(h.var().item() / block.beta**2)
                h = block(h)
        ratios.append(seen)
    mean = np.mean(ratios, axis=0)
    assert np.all(np.abs(mean - 1) < 0.15), mean


# ---------------------------------------------------------------- adaptive gradient clipping


def test_agc_clips_exactly_the_units_above_the_ratio():
    w = torch.tensor([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]])  # unit norms 5, 0 (-> eps), 1
    g = torch.tensor([[0.3, 0.4], [0.1, 0.0], [0.001, 0.0]])  # unit norms 0.5, 0.1, 0.001
    clipped = clipping.adaptive_clip([g], [w], clipping=0.01, eps=1e-3)[0]
    # unit 0: 0.5 / 5 = 0.1 > 0.01 -> norm 0.01 * 5; unit 1: max norm 0.01 * 1e-3; unit 2 kept
    assert clipped[0].norm().item() == pytest.approx(0.05)
    assert clipped[1].norm().item() == pytest.approx(1e-5)
    assert torch.equal(clipped[2], g[2])
    # directions are kept
    assert torch.allclose(clipped[0] / clipped[0].norm(), g[0] / g[0].norm())


def test_agc_in_place_matches_functional_and_vectors_are_one_unit():
    torch.manual_seed(0)
    layer = torch.nn.Conv2d(3, 4, 3)
    layer(torch.randn(2, 3, 5, 5)).pow(2).sum().mul(1e3).backward()
    params = list(layer.parameters())
    expected = clipping.adaptive_clip([p.grad for p in params], params, 0.02)
    clipping.adaptive_clip_grad_(params, 0.02)
    for p, e in zip(params, expected):
        assert torch.equal(p.grad, e)
    assert clipping.unitwise_norm(layer.weight).shape == (4, 1, 1, 1)
    assert clipping.unitwise_norm(layer.bias).shape == ()
    with pytest.raises(ValueError, match="gradients for"):
        clipping.adaptive_clip([torch.ones(2)], [torch.ones(2), torch.ones(2)])
