"""godeep.residual (PyTorch): the CIFAR ResNets, torchvision's ImageNet ResNets, the blocks."""

import pytest
import torch
from torch import nn

import godeep
from godeep import residual
from godeep.residual import (
    BasicBlock,
    Bottleneck,
    ZeroPadShortcut,
    cifar_resnet,
    count_macs,
    count_parameters,
    drop_block,
)

# ---------------------------------------------------------------------------------------------
# CIFAR ResNets
# ---------------------------------------------------------------------------------------------

#: exact parameter counts (shortcut "A"); the paper's Table 6 rounds them to 0.27M ... 1.7M
CIFAR_PARAMS = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962}
PAPER_PARAMS = {20: "0.27M", 32: "0.46M", 44: "0.66M", 56: "0.85M", 110: "1.7M"}


def _paper_rounding(n: int) -> str:
    millions = n / 1e6
    return f"{millions:.2f}M" if millions < 1 else f"{millions:.1f}M"


@pytest.mark.parametrize("depth", sorted(CIFAR_PARAMS))
def test_cifar_resnet_parameter_counts(depth):
    model = cifar_resnet(depth)
    assert count_parameters(model) == CIFAR_PARAMS[depth]
    assert _paper_rounding(count_parameters(model)) == PAPER_PARAMS[depth]  # the paper's Table 6
    # the plain net has the same parameters: option A adds none
    assert count_parameters(cifar_resnet(depth, plain=True)) == CIFAR_PARAMS[depth]


def test_cifar_resnet_parameter_count_by_formula():
    # stem 3*3*3*16 + BN(16); per stage s with n blocks of width w: 2 convs 3x3 + 2 BNs, the first
    # conv of stages 2 and 3 reading w/2 channels; fc 64*10 + 10
    def formula(n, widths=(16, 32, 64), c_in=3, classes=10, shortcut="A"):
        total = 9 * c_in * widths[0] + 2 * widths[0]
        prev = widths[0]
        for w in widths:
            for b in range(n):
                total += 9 * prev * w + 9 * w * w + 4 * w
                if shortcut == "B" and prev != w:
                    total += prev * w + 2 * w
                prev = w
        return total + widths[-1] * classes + classes

    for depth in (8, 20, 56):
        n = (depth - 2) // 6
        assert count_parameters(cifar_resnet(depth)) == formula(n)
        assert count_parameters(cifar_resnet(depth, shortcut="B")) == formula(n, shortcut="B")
    assert count_parameters(cifar_resnet(20, in_channels=1, widths=(8, 16, 32), num_classes=4)) == formula(
        3, widths=(8, 16, 32), c_in=1, classes=4
    )


@pytest.mark.parametrize("depth", [7, 9, 21, 0, 2])
def test_cifar_resnet_rejects_depth_not_6n_plus_2(depth):
    with pytest.raises(ValueError, match="6n\\+2"):
        cifar_resnet(depth)


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        (dict(depth=20.0), TypeError, "depth"),
        (dict(depth=20, shortcut="D"), ValueError, "shortcut"),
        (dict(depth=20, widths=(16, 32)), ValueError, "widths"),
        (dict(depth=20, num_classes=0), ValueError, "num_classes"),
        (dict(depth=20, plain=True, zero_init_residual=True), ValueError, "plain"),
        (dict(depth=20, plain=1), TypeError, "plain"),
    ],
)
def test_cifar_resnet_bad_arguments(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        cifar_resnet(**kwargs)


def test_cifar_resnet_wrong_input_shape_is_explained():
    model = cifar_resnet(8, in_channels=1)
    with pytest.raises(ValueError, match="N, 1, H, W"):
        model(torch.zeros(2, 3, 8, 8))


@pytest.mark.parametrize("shape, channels", [((2, 3, 32, 32), 3), ((2, 1, 8, 8), 1), ((1, 1, 5, 5), 1)])
def test_cifar_resnet_output_shape(shape, channels):
    model = cifar_resnet(20, in_channels=channels).eval()
    assert model(torch.randn(*shape)).shape == (shape[0], 10)


def test_cifar_resnet_structure_stages_and_blocks():
    model = cifar_resnet(32)
    n = 5
    assert [len(s) for s in model.stages] == [n, n, n]
    assert len(model.blocks) == 3 * n
    assert all(isinstance(b, BasicBlock) for b in model.blocks)
    # weight layers: stem conv + 2 per block + fc = 6n + 2
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(convs) + len(linears) == 32
    # stride-2 blocks open stages 2 and 3 with option-A (parameter-free) shortcuts
    firsts = [s[0] for s in model.stages]
    assert [b.stride for b in firsts] == [1, 2, 2]
    assert firsts[0].downsample is None
    assert all(isinstance(b.downsample, ZeroPadShortcut) for b in firsts[1:])
    assert all(b.shortcut for b in model.blocks)
    # feature-map sizes 32, 16, 8 and widths 16, 32, 64
    x = model.relu(model.bn1(model.conv1(torch.zeros(1, 3, 32, 32))))
    sizes = []
    for stage in model.stages:
        x = stage(x)
        sizes.append(tuple(x.shape[1:]))
    assert sizes == [(16, 32, 32), (32, 16, 16), (64, 8, 8)]


def test_plain_net_has_no_shortcuts_and_same_weights_layout():
    plain, res = cifar_resnet(20, plain=True), cifar_resnet(20)
    assert not any(b.shortcut for b in plain.blocks)
    assert all(b.downsample is None for b in plain.blocks)
    assert list(plain.state_dict()) == list(res.state_dict())


def test_plain_and_residual_blocks_differ_exactly_by_the_shortcut():
    godeep.seed_everything(0)
    res = cifar_resnet(8).eval()
    plain = cifar_resnet(8, plain=True).eval()
    plain.load_state_dict(res.state_dict())
    x = torch.relu(torch.randn(4, 16, 8, 8))
    block_r, block_p = res.layer1[0], plain.layer1[0]
    f = block_r.residual(x)
    assert torch.allclose(block_r(x), torch.relu(f + x))
    assert torch.allclose(block_p(x), torch.relu(f))


def test_shortcut_options_b_and_c():
    b = cifar_resnet(20, shortcut="B")
    c = cifar_resnet(20, shortcut="C")
    n_proj_b = sum(blk.downsample is not None for blk in b.blocks)
    n_proj_c = sum(blk.downsample is not None for blk in c.blocks)
    assert n_proj_b == 2 and n_proj_c == 9
    # C: a projection on each block: 1x1 convs + BN
    extra = count_parameters(c) - count_parameters(cifar_resnet(20))
    assert extra == sum(w_in * w + 2 * w for w_in, w in [(16, 16)] * 3 + [(16, 32)] + [(32, 32)] * 2 + [(32, 64)] + [(64, 64)] * 2)


def test_option_a_shortcut_is_subsample_plus_zero_channels():
    s = ZeroPadShortcut(2, 5, stride=2)
    x = torch.randn(3, 2, 6, 6)
    y = s(x)
    assert y.shape == (3, 5, 3, 3)
    assert torch.equal(y[:, :2], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, 2:]) == 0
    assert sum(p.numel() for p in s.parameters()) == 0
    with pytest.raises(ValueError, match="reduce"):
        ZeroPadShortcut(4, 2)


def test_block_with_mismatched_identity_shortcut_is_explained():
    block = BasicBlock(16, 32, stride=2, downsample=None)
    with pytest.raises(ValueError, match="shortcut shape"):
        block(torch.zeros(1, 16, 8, 8))


@pytest.mark.parametrize("train_mode", [True, False])
def test_zero_initialized_residual_branch_is_exactly_identity(train_mode):
    godeep.seed_everything(1)
    model = cifar_resnet(20, zero_init_residual=True)
    model.train(train_mode)
    x = torch.relu(torch.randn(4, 16, 8, 8))  # block inputs follow a ReLU: non-negative
    for block in model.layer1:
        assert float(block.bn2.weight.detach().abs().max()) == 0.0
        assert torch.equal(block(x), x)
    # a negative input comes out as relu(x): the identity after the final activation
    z = torch.randn(4, 16, 8, 8)
    assert torch.equal(model.layer1[0](z), torch.relu(z))


@pytest.mark.parametrize("factory, cls", [(residual.resnet18, BasicBlock), (residual.resnet50, Bottleneck)])
def test_zero_init_residual_imagenet_blocks_are_identity(factory, cls):
    godeep.seed_everything(0)
    model = factory(zero_init_residual=True)
    block = model.layer3[1]
    assert isinstance(block, cls)
    channels = block.conv1.in_channels
    x = torch.relu(torch.randn(2, channels, 7, 7))
    assert torch.equal(block(x), x)


def test_zero_init_residual_network_output_equals_stem_path():
    # with every branch at zero, a whole stage of identity blocks is the identity
    godeep.seed_everything(0)
    model = cifar_resnet(14, zero_init_residual=True).eval()
    x = torch.relu(torch.randn(2, 16, 8, 8))
    assert torch.equal(model.layer1(x), x)


def test_merge_extension_point():
    class Half(nn.Module):
        def forward(self, f, s, x):
            return f + 0.5 * s

    godeep.seed_everything(0)
    model = cifar_resnet(8, merge=Half).eval()
    assert all(isinstance(b.merge, Half) for b in model.blocks)
    block = model.layer1[0]
    x = torch.relu(torch.randn(2, 16, 8, 8))
    assert torch.allclose(block(x), torch.relu(block.residual(x) + 0.5 * x))
    with pytest.raises(ValueError, match="plain"):
        cifar_resnet(8, plain=True, merge=Half)


def test_shortcut_registry_extension_point():
    residual.SHORTCUTS["test-identity-projection"] = lambda i, o, s: residual._projection(i, o, s)
    try:
        model = cifar_resnet(8, shortcut="test-identity-projection")
        assert all(b.downsample is not None for b in model.blocks)
    finally:
        del residual.SHORTCUTS["test-identity-projection"]


def test_drop_block_replaces_one_block_by_identity():
    godeep.seed_everything(0)
    model = cifar_resnet(20).eval()
    lesioned = drop_block(model, 1)
    assert len(lesioned.blocks) == 8 and len(model.blocks) == 9
    assert isinstance(lesioned.layer1[1], nn.Identity)
    x = torch.randn(2, 3, 16, 16)
    h = model.relu(model.bn1(model.conv1(x)))
    expected = model.fc(torch.flatten(model.avgpool(model.layer3(model.layer2(model.layer1[2](model.layer1[0](h))))), 1))
    assert torch.allclose(lesioned(x), expected, atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        drop_block(model, 3)  # the stride-2 block opening stage 2
    with pytest.raises(IndexError):
        drop_block(model, 9)


# ---------------------------------------------------------------------------------------------
# ImageNet ResNets: torchvision's architecture without torchvision
# ---------------------------------------------------------------------------------------------

#: torchvision.models.resnetNN(): parameter counts (documented by torchvision's weights tables)
TORCHVISION_PARAMS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}


def _torchvision_keys(depth):
    """The state_dict keys torchvision's ResNet has, spelled out from its resnet.py."""
    bottleneck = depth >= 50
    layers = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}[depth]
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    keys = ["conv1.weight"] + [f"bn1.{k}" for k in bn]
    for stage, blocks in enumerate(layers, start=1):
        for b in range(blocks):
            prefix = f"layer{stage}.{b}"
            for i in (1, 2, 3) if bottleneck else (1, 2):
                keys.append(f"{prefix}.conv{i}.weight")
                keys += [f"{prefix}.bn{i}.{k}" for k in bn]
            if b == 0 and (stage > 1 or bottleneck):
                keys.append(f"{prefix}.downsample.0.weight")
                keys += [f"{prefix}.downsample.1.{k}" for k in bn]
    return keys + ["fc.weight", "fc.bias"]


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_imagenet_resnets_match_torchvision(depth):
    model = getattr(residual, f"resnet{depth}")()
    assert count_parameters(model) == TORCHVISION_PARAMS[depth]
    sd = model.state_dict()
    assert sorted(sd) == sorted(_torchvision_keys(depth))
    # key order matters for nothing, but it is torchvision's too
    assert list(sd) == _torchvision_keys(depth)


def test_resnet18_state_dict_shapes_spot_checks():
    sd = residual.resnet18().state_dict()
    assert sd["conv1.weight"].shape == (64, 3, 7, 7)
    assert sd["layer2.0.conv1.weight"].shape == (128, 64, 3, 3)
    assert sd["layer2.0.downsample.0.weight"].shape == (128, 64, 1, 1)
    assert sd["fc.weight"].shape == (1000, 512)
    sd50 = residual.resnet50().state_dict()
    assert sd50["layer1.0.conv3.weight"].shape == (256, 64, 1, 1)
    assert sd50["layer1.0.downsample.0.weight"].shape == (256, 64, 1, 1)
    assert sd50["layer4.2.conv2.weight"].shape == (512, 512, 3, 3)
    assert sd50["fc.weight"].shape == (1000, 2048)


def test_resnet50_stride_on_the_3x3_conv_v1_5():
    block = residual.resnet50().layer2[0]
    assert block.conv1.stride == (1, 1) and block.conv2.stride == (2, 2)
    assert block.downsample[0].stride == (2, 2)


def test_imagenet_resnet_forward_and_num_classes():
    model = residual.resnet18(num_classes=7).eval()
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 7)
    assert count_parameters(model) == TORCHVISION_PARAMS[18] - 993 * 513


def test_count_macs_matches_paper_table_1_within_v1_5_difference():
    # He et al. 2016, Table 1: 1.8, 3.6, 3.8, 7.6, 11.3 x 10^9 FLOPs (multiply-adds) at 224x224
    paper = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}
    for depth in (18, 34):
        macs = count_macs(getattr(residual, f"resnet{depth}")(), (3, 224, 224))
        assert round(macs / 1e9, 1) in (paper[depth], paper[depth] + 0.1)
    macs50 = count_macs(residual.resnet50(), (3, 224, 224))
    # torchvision's v1.5 runs the stride-2 3x3 convs at the higher resolution: 4.1 vs 3.8 GMACs
    assert 4.0e9 < macs50 < 4.2e9


def test_count_macs_by_hand_small_net():
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, bias=False), nn.Flatten(), nn.Linear(3 * 4 * 4, 5))
    assert count_macs(net, (2, 4, 4)) == 3 * 4 * 4 * (3 * 3 * 2) + 48 * 5


def test_bottleneck_shapes_and_parameters():
    down = nn.Sequential(nn.Conv2d(64, 256, 1, bias=False), nn.BatchNorm2d(256))
    block = Bottleneck(64, 64, downsample=down)
    assert block(torch.zeros(2, 64, 8, 8)).shape == (2, 256, 8, 8)
    # 1x1 64->64, 3x3 64->64, 1x1 64->256, three BNs, projection 64->256 + BN
    expected = 64 * 64 + 9 * 64 * 64 + 64 * 256 + 2 * (64 + 64 + 256) + 64 * 256 + 2 * 256
    assert count_parameters(block) == expected


def test_inplace_add_of_torchvision_style_is_not_needed_and_ours_is_out_of_place():
    # our blocks add out of place, so a hook that keeps the residual branch's output sees it unchanged
    godeep.seed_everything(0)
    block = BasicBlock(4, 4).train()
    seen = {}
    block.bn2.register_forward_hook(lambda m, i, o: seen.setdefault("f", o))
    x = torch.relu(torch.randn(2, 4, 5, 5))
    y = block(x)
    assert torch.allclose(y, torch.relu(seen["f"] + x))
    y.sum().backward()
    assert block.conv1.weight.grad is not None


def test_resnet34_shortcut_options_parameter_counts():
    counts = {k: count_parameters(residual.ResNet(BasicBlock, (3, 4, 6, 3), shortcut=k)) for k in "ABC"}
    assert counts["B"] == TORCHVISION_PARAMS[34]
    # B - A: the three projections (1x1 conv + BN) where the shape changes
    assert counts["B"] - counts["A"] == sum(c_in * c + 2 * c for c_in, c in ((64, 128), (128, 256), (256, 512)))
    assert counts["A"] < counts["B"] < counts["C"]
    with pytest.raises(ValueError, match="shortcut"):
        residual.ResNet(BasicBlock, (2, 2, 2, 2), shortcut="Z")


# ---------------------------------------------------------------------------------------------
# The source documents' examples
# ---------------------------------------------------------------------------------------------


def test_dense_residual_block_matches_the_article_and_is_out_of_place():
    godeep.seed_everything(0)
    block = residual.DenseResidualBlock(20).train()
    x = torch.randn(5, 20)
    f = block.bn2(block.fc2(torch.relu(block.bn1(block.fc1(x)))))
    assert torch.allclose(block(x), torch.relu(f + x))
    # the article's parameter count: two Linear(20, 20) with biases, two BN(20)
    assert count_parameters(block) == 2 * (20 * 20 + 20) + 2 * 2 * 20
    plain = residual.DenseResidualBlock(20, shortcut=False)
    plain.load_state_dict(block.state_dict())
    assert torch.allclose(plain(x), torch.relu(f))
    with pytest.raises(ValueError, match="N, 20"):
        block(torch.zeros(5, 3))


def test_dense_resnet_zero_init_is_identity_on_nonnegative_inputs():
    godeep.seed_everything(0)
    stack = residual.dense_resnet(16, 5, zero_init_residual=True)
    x = torch.rand(8, 16)
    assert torch.equal(stack(x), x)
    assert [n for n, _ in stack.named_children()] == [f"block{i}" for i in range(1, 6)]
    with pytest.raises(ValueError, match="silence"):
        residual.dense_resnet(16, 2, plain=True, zero_init_residual=True)


def test_mnist_residual_convnet_parameter_count_matches_the_tutorial_summary():
    # the article's Keras summary: conv 320, residual blocks 18,496 and 73,856, conv 18,496
    model = residual.mnist_residual_convnet()
    assert count_parameters(model.conv1) == 320
    assert count_parameters(model.block1) == 18_496
    assert count_parameters(model.conv2) == 18_496
    assert count_parameters(model.block2) == 2 * (9 * 64 * 64 + 64)
    assert count_parameters(model) == 513_994
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    small = residual.mnist_residual_convnet(image_size=8)
    assert small(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    plain = residual.mnist_residual_convnet(image_size=8, residual=False)
    assert not plain.block1.shortcut and count_parameters(plain) == count_parameters(small)
    with pytest.raises(ValueError, match="multiple of 4"):
        residual.mnist_residual_convnet(image_size=10)
