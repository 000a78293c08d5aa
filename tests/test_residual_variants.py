"""godeep.residual: the shortcut variants (He et al. 2016b, Table 1 / Fig. 2) and the activation
orders of Fig. 4 (PreActBasicBlock), and their Keras twins."""

import functools
import inspect

import numpy as np
import pytest
import torch

import godeep
from godeep import residual as r

pytest_plugins = ["fixtures_bn"]

X = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def _net(**kwargs):
    godeep.seed_everything(0)
    return r.cifar_resnet(14, in_channels=1, widths=(4, 8, 16), **kwargs)


@pytest.mark.parametrize("variant", list(r.SHORTCUT_VARIANTS))
def test_every_variant_builds_and_runs(variant):
    model = _net(variant=variant)
    assert model(X).shape == (5, 10)
    assert len(model.blocks) == 6


def test_identity_variant_is_the_default_network():
    default, identity = _net(), _net(variant="identity")
    assert default.state_dict().keys() == identity.state_dict().keys()
    for a, b in zip(default.state_dict().values(), identity.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(identity(X), default(X), rtol=0, atol=0)


def test_parameter_counts():
    base = r.count_parameters(_net())
    widths, n = (4, 8, 16), 2
    gates = n * sum(c * c + c for c in widths)  # a 1x1 conv with bias per block
    for v in ("identity", "constant_scaling", "constant_scaling_both", "dropout_shortcut"):
        assert r.count_parameters(_net(variant=v)) == base
    assert r.count_parameters(_net(variant="exclusive_gating")) == base + gates
    assert r.count_parameters(_net(variant="shortcut_gating")) == base + gates
    # 1x1 conv shortcut = option C: a 1x1 conv + BN on every block
    assert r.count_parameters(_net(variant="conv_shortcut")) == r.count_parameters(
        _net(shortcut="C")
    )
    proj = sum(
        cin * cout + 2 * cout for cin, cout in [(4, 4), (4, 4), (4, 8), (8, 8), (8, 16), (16, 16)]
    )
    assert r.count_parameters(_net(variant="conv_shortcut")) == base + proj
    # full pre-activation: bn1 sees the block's input (fewer channels where the stage widens) + final BN
    assert (
        r.count_parameters(_net(activation="full_preact"))
        == base - 2 * (8 - 4) - 2 * (16 - 8) + 2 * 16
    )
    for order in ("original", "bn_after_add", "relu_before_add", "relu_preact"):
        assert r.count_parameters(_net(activation=order)) == base


def test_cifar_110_counts():
    base = r.count_parameters(r.cifar_resnet(110))
    assert r.count_parameters(r.cifar_resnet(110, variant="constant_scaling")) == base
    assert r.count_parameters(r.cifar_resnet(110, variant="exclusive_gating")) == base + 18 * sum(
        c * c + c for c in (16, 32, 64)
    )


@pytest.mark.parametrize(
    "variant, transform",
    [
        ("identity", lambda s: s),
        ("constant_scaling", lambda s: 0.5 * s),
        ("constant_scaling_both", lambda s: 0.5 * s),
        ("dropout_shortcut", lambda s: 0.5 * s),  # eval mode: the expectation of the mask
    ],
)
def test_zero_branch_passes_the_shortcut_transform_exactly(variant, transform):
    model = _net(variant=variant, zero_init_residual=True).eval()
    block = model.layer1[0]
    x = torch.relu(torch.randn(3, 4, 8, 8))
    torch.testing.assert_close(block(x), torch.relu(transform(x)), rtol=0, atol=0)


@pytest.mark.parametrize(
    "variant, bias",
    [("exclusive_gating", -6.0), ("shortcut_gating", 0.0), ("shortcut_gating", -2.5)],
)
def test_zero_branch_gates(variant, bias):
    model = _net(variant=variant, variant_options={"bias": bias}, zero_init_residual=True)
    block = model.layer2[1]
    assert torch.all(block.merge.gate.bias == bias)
    x = torch.relu(torch.randn(3, 8, 4, 4))
    g = torch.sigmoid(torch.nn.functional.conv2d(x, block.merge.gate.weight, block.merge.gate.bias))
    torch.testing.assert_close(block(x), torch.relu((1 - g) * x), rtol=1e-6, atol=1e-7)


def test_exclusive_gate_weighs_both_paths():
    gate = r.ExclusiveGating(3, bias=0.0)
    with torch.no_grad():
        gate.gate.weight.zero_()  # g = sigmoid(0) = 1/2
    f, s = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(gate(f, s, s), 0.5 * f + 0.5 * s)
    only = r.ShortcutGating(3, bias=0.0)
    with torch.no_grad():
        only.gate.weight.zero_()
    torch.testing.assert_close(only(f, s, s), f + 0.5 * s)


def test_dropout_shortcut_masks_without_rescaling():
    drop = r.DropoutShortcut(0.5)
    torch.manual_seed(0)
    f, s = torch.zeros(4000), torch.full((4000,), 3.0)
    out = drop.train()(f, s, s)
    assert set(out.unique().tolist()) == {0.0, 3.0}  # kept as is or dropped, never 6
    assert abs(out.mean().item() - 1.5) < 0.1
    torch.testing.assert_close(drop.eval()(f, s, s), torch.full((4000,), 1.5))


def test_constant_scaling_signal_over_blocks_is_lambda_power():
    """With zero branches, 54 blocks of h(x) = 0.5 x scale the signal and its gradient by 0.5^54."""
    godeep.seed_everything(0)
    stack = torch.nn.Sequential(
        *[r.BasicBlock(4, 4, merge=r.ConstantScaling(0.5)) for _ in range(54)]
    )
    r.zero_init_residual_(stack)
    x = torch.relu(torch.randn(2, 4, 5, 5, dtype=torch.float64)).requires_grad_()
    stack.double()
    y = stack(x)
    torch.testing.assert_close(y, 0.5**54 * x)
    (g,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(g, torch.full_like(x, 0.5**54) * (x > 0))


def test_conv_variant_uses_projection_everywhere_and_merge_errors():
    model = _net(variant="conv_shortcut")
    assert all(isinstance(b.downsample, torch.nn.Sequential) for b in model.blocks)
    with pytest.raises(ValueError, match="variant must be one of"):
        _net(variant="highway")
    with pytest.raises(ValueError, match="plain"):
        _net(variant="constant_scaling", plain=True)
    with pytest.raises(ValueError, match="not both"):
        _net(variant="constant_scaling", merge=r.Add)
    with pytest.raises(ValueError, match="needs a variant"):
        _net(variant_options={"bias": 1.0})
    with pytest.raises(TypeError):
        _net(variant="exclusive_gating", variant_options={"sharpness": 1.0})
    with pytest.raises(TypeError, match="bias"):
        _net(variant="shortcut_gating", variant_options={"bias": "low"})
    with pytest.raises(ValueError, match="p must be"):
        r.DropoutShortcut(1.0)


# --------------------------------------------------------------------------------------------
# Activation orders (Fig. 4)
# --------------------------------------------------------------------------------------------


def test_original_order_equals_basic_block():
    godeep.seed_everything(0)
    basic = r.BasicBlock(4, 8, 2, r.ZeroPadShortcut(4, 8, 2))
    godeep.seed_everything(0)
    pre = r.PreActBasicBlock(4, 8, 2, r.ZeroPadShortcut(4, 8, 2), order="original")
    assert basic.state_dict().keys() == pre.state_dict().keys()
    pre.load_state_dict(basic.state_dict())
    x = torch.randn(3, 4, 6, 6)
    torch.testing.assert_close(pre(x), basic(x), rtol=0, atol=0)
    torch.testing.assert_close(_net(activation="original")(X), _net()(X), rtol=0, atol=0)


def _manual(block, x):
    """Each order of Fig. 4, written out from the block's own layers."""
    relu, bn1, bn2, c1, c2 = torch.relu, block.bn1, block.bn2, block.conv1, block.conv2
    s = x
    return {
        "original": lambda: relu(s + bn2(c2(relu(bn1(c1(x)))))),
        "bn_after_add": lambda: relu(bn2(s + c2(relu(bn1(c1(x)))))),
        "relu_before_add": lambda: s + relu(bn2(c2(relu(bn1(c1(x)))))),
        "relu_preact": lambda: s + bn2(c2(relu(bn1(c1(relu(x)))))),
        "full_preact": lambda: s + c2(relu(bn2(c1(relu(bn1(x)))))),
    }[block.order]()


@pytest.mark.parametrize("order", list(r.ACTIVATION_ORDERS))
def test_preact_block_structure(order):
    godeep.seed_everything(0)
    block = r.PreActBasicBlock(6, 6, order=order)
    with torch.no_grad():
        for bn in (block.bn1, block.bn2):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.3, 0.3)
    x = torch.randn(4, 6, 5, 5)
    torch.testing.assert_close(block(x), _manual(block, x))
    # zeroing the last BN of the branch silences it: the block is its after-addition function alone
    r.zero_init_residual_(block)
    with torch.no_grad():
        block.last_bn.bias.zero_()
    after = {"original": torch.relu, "bn_after_add": lambda y: torch.relu(block.bn2(y))}.get(
        order, lambda y: y
    )
    torch.testing.assert_close(block(x), after(x))


def test_full_preact_network_structure():
    model = _net(activation="full_preact")
    assert all(isinstance(b, r.PreActBasicBlock) and b.order == "full_preact" for b in model.blocks)
    assert model.layer2[0].bn1.num_features == 4  # pre-activation of the block's input
    assert isinstance(model.post[0], torch.nn.BatchNorm2d) and isinstance(
        model.post[1], torch.nn.ReLU
    )
    assert isinstance(_net(activation="relu_preact").post, torch.nn.ReLU)
    assert isinstance(_net().post, torch.nn.Identity)
    # the clean path: with zero branches, the last block's output is the (subsampled, padded) stem output
    model = _net(activation="full_preact", zero_init_residual=True)
    seen = {}
    model.relu.register_forward_hook(lambda m, i, o: seen.__setitem__("stem", o))
    model.layer3.register_forward_hook(lambda m, i, o: seen.__setitem__("top", o))
    model(X)
    expected = r.ZeroPadShortcut(8, 16, 2)(r.ZeroPadShortcut(4, 8, 2)(seen["stem"]))
    torch.testing.assert_close(seen["top"], expected)
    # drop_block and the variants work on pre-activation blocks too
    assert r.drop_block(model, 1)(X).shape == (5, 10)
    assert _net(activation="full_preact", variant="constant_scaling")(X).shape == (5, 10)


def test_activation_errors():
    with pytest.raises(ValueError, match="activation must be one of"):
        _net(activation="post")
    with pytest.raises(ValueError, match="not both"):
        _net(
            activation="full_preact", block=functools.partial(r.PreActBasicBlock, order="original")
        )
    with pytest.raises(ValueError, match="order must be one of"):
        r.PreActBasicBlock(4, 4, order="pre")


# --------------------------------------------------------------------------------------------
# Keras twins: every shortcut variant, every activation order
# --------------------------------------------------------------------------------------------


def test_keras_variants_are_the_same_records():
    kr = pytest.importorskip("godeep.keras.residual")
    assert list(kr.SHORTCUT_VARIANTS) == list(r.SHORTCUT_VARIANTS)
    for name, spec in r.SHORTCUT_VARIANTS.items():
        k = kr.SHORTCUT_VARIANTS[name]
        assert (k.shortcut, k.figure) == (spec.shortcut, spec.figure), name
        assert list(inspect.signature(k.merge).parameters) == list(
            inspect.signature(spec.merge).parameters
        ), name
        assert type(k.merge(4)).__name__ == type(spec.merge(4)).__name__, name


@pytest.mark.parametrize(
    "variant, training",
    [
        (v, t)
        for v in r.SHORTCUT_VARIANTS
        for t in (False, True)
        if not (v == "dropout_shortcut" and t)
    ],
)
def test_keras_variant_matches_pytorch(variant, training, randomize_bn):
    """Forward on copied weights; the gates' 1x1 convs are copied too (their bias moved off its
    initial value so a missed copy would show). Dropout's mask is random: compared in eval mode
    only (training: :func:`test_keras_dropout_shortcut_mask`)."""
    kr = pytest.importorskip("godeep.keras.residual")
    pt = randomize_bn(_net(variant=variant))
    with torch.no_grad():
        for m in pt.modules():
            if isinstance(m, torch.nn.Conv2d) and m.bias is not None:
                m.bias.uniform_(-1.0, 1.0)
    tk = kr.cifar_resnet(14, in_channels=1, widths=(4, 8, 16), input_size=8, variant=variant)
    kr.copy_from_torch(tk, pt)
    assert kr.count_parameters(tk) == r.count_parameters(pt)
    x = np.random.default_rng(0).standard_normal((6, 1, 8, 8)).astype("float32")
    pt.train(training)
    expected = pt(torch.as_tensor(x)).detach().numpy()
    got = np.asarray(tk(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), training=training))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_keras_dropout_shortcut_mask():
    """Training: each element is ``f`` or ``f + s`` (no 1/(1-p) rescaling), kept with rate
    ``1 - p``; inference: ``f + (1 - p) s``, as in PyTorch."""
    kr = pytest.importorskip("godeep.keras.residual")
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    f, s = np.zeros((200, 50), "float32"), np.full((200, 50), 2.0, "float32")
    layer = kr.DropoutShortcut(0.3)
    out = np.asarray(layer(f, s, s, training=True))
    assert set(np.unique(out)) == {0.0, 2.0}
    assert abs((out == 2.0).mean() - 0.7) < 0.02  # 10,000 draws: 4 standard errors
    np.testing.assert_allclose(np.asarray(layer(f, s, s, training=False)), 0.7 * s)
    torch_eval = r.DropoutShortcut(0.3).eval()(
        torch.as_tensor(f), torch.as_tensor(s), torch.as_tensor(s)
    )
    np.testing.assert_allclose(np.asarray(layer(f, s, s)), torch_eval.numpy())


def test_keras_constant_scaling_layer_and_errors():
    kr = pytest.importorskip("godeep.keras.residual")
    f, s = np.ones((2, 3), "float32"), np.full((2, 3), 4.0, "float32")
    np.testing.assert_allclose(
        np.asarray(kr.ConstantScaling(0.5, 0.25)(f, s, s)), 0.25 * f + 0.5 * s
    )
    with pytest.raises(ValueError, match="variant must be one of"):
        kr.cifar_resnet(8, variant="gating")
    with pytest.raises(ValueError, match="not both"):
        kr.cifar_resnet(8, variant="constant_scaling", merge=kr.Add)


@pytest.mark.parametrize("order", list(r.ACTIVATION_ORDERS))
@pytest.mark.parametrize("training", [False, True])
def test_keras_preact_matches_pytorch(order, training, randomize_bn):
    kr = pytest.importorskip("godeep.keras.residual")
    pt = randomize_bn(_net(activation=order))
    tk = kr.cifar_resnet(14, in_channels=1, widths=(4, 8, 16), input_size=8, activation=order)
    kr.copy_from_torch(tk, pt)
    assert kr.count_parameters(tk) == r.count_parameters(pt)
    x = np.random.default_rng(1).standard_normal((6, 1, 8, 8)).astype("float32")
    pt.train(training)
    expected = pt(torch.as_tensor(x)).detach().numpy()
    got = np.asarray(tk(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), training=training))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_keras_preact_zero_init_and_errors():
    kr = pytest.importorskip("godeep.keras.residual")
    for order in ("full_preact", "bn_after_add"):  # bn_after_add: the BN to zero is bn1
        model = kr.cifar_resnet(
            8, in_channels=1, widths=(4, 8, 16), activation=order, zero_init_residual=True
        )
        block = kr.residual_blocks(model)[0]
        assert not np.any(block.last_bn.gamma.numpy()) and block.last_bn is (
            block.bn1 if order == "bn_after_add" else block.bn2
        )
        if order == "full_preact":  # y = x + F(x) with F = 0: the identity, in training mode too
            x = np.random.default_rng(0).standard_normal((2, 5, 5, 4)).astype("float32")
            np.testing.assert_allclose(np.asarray(block(x, training=True)), x, atol=1e-6)
    with pytest.raises(ValueError, match="order must be one of"):
        kr.PreActBasicBlock(4, 4, order="pre")
    with pytest.raises(ValueError, match="activation must be one of"):
        kr.cifar_resnet(8, activation="post")
