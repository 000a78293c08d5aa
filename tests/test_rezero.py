"""ReZero / SkipInit: the learnable branch scale of godeep.resmlp and its Keras twin."""

import numpy as np
import pytest
import torch

import godeep
from godeep import resmlp


def test_branch_scale_default_adds_no_parameter():
    plain_count = sum(p.numel() for p in resmlp.residual_mlp(5, 8, 3, 2).parameters())
    scaled = resmlp.residual_mlp(5, 8, 3, 2, branch_scale=0.0)
    assert sum(p.numel() for p in scaled.parameters()) == plain_count + 3  # one alpha per block
    assert all(b.alpha is None for b in resmlp.blocks(resmlp.residual_mlp(5, 8, 3, 2)).values())


def test_zero_branch_scale_makes_every_block_the_identity():
    godeep.seed_everything(0)
    model = resmlp.residual_mlp(5, 8, 4, 3, branch_scale=0.0)
    x = torch.randn(7, 5)
    # x_L = x_0 = W_in x: the net is the linear map W_out W_in at initialization
    expected = model.out(model.inp(x))
    torch.testing.assert_close(model(x), expected)


def test_branch_scale_multiplies_the_branch():
    godeep.seed_everything(1)
    model = resmlp.residual_mlp(5, 8, 1, 3, branch_scale=0.5)
    block = model.block1
    x = torch.randn(4, 8)
    torch.testing.assert_close(block(x), x + 0.5 * block.fc(torch.relu(x)))


def test_zero_branch_scale_gets_a_gradient_and_learns():
    godeep.seed_everything(0)
    model = resmlp.residual_mlp(5, 8, 3, 2, branch_scale=0.0)
    x, y = torch.randn(16, 5), torch.randint(0, 2, (16,))
    torch.nn.functional.cross_entropy(model(x), y).backward()
    alphas = [b.alpha for b in resmlp.blocks(model).values()]
    # dL/dalpha = <dL/dx_l, F(x)>: nonzero although alpha = 0; the branch weights get none yet
    assert all(a.grad is not None and float(a.grad.abs()) > 0 for a in alphas)
    assert float(model.block1.fc.weight.grad.abs().max()) == 0.0


def test_branch_scale_rejects_bad_input():
    with pytest.raises(ValueError, match="plain=False"):
        resmlp.residual_mlp(5, 8, 3, 2, plain=True, branch_scale=0.0)
    with pytest.raises(TypeError, match="branch_scale"):
        resmlp.residual_mlp(5, 8, 3, 2, branch_scale="zero")
    with pytest.raises(TypeError, match="branch_scale"):
        resmlp.residual_mlp(5, 8, 3, 2, branch_scale=True)
    with pytest.raises(ValueError, match="finite"):
        resmlp.residual_mlp(5, 8, 3, 2, branch_scale=float("nan"))


kresmlp = pytest.importorskip("godeep.keras.resmlp")
from godeep.keras import models as kmodels  # noqa: E402


@pytest.mark.parametrize("scale", [0.0, 0.3])
def test_keras_branch_scale_matches_pytorch(scale):
    godeep.seed_everything(0)
    torch_net = resmlp.residual_mlp(6, 8, 3, 4, branch_scale=scale, init=0.3)
    keras_net = kresmlp.residual_mlp(6, 8, 3, 4, branch_scale=scale)
    kmodels.copy_from_torch(keras_net, torch_net)
    for l in (1, 2, 3):
        assert float(keras_net.get_layer(f"block{l}.scale").alpha.numpy()) == pytest.approx(scale)
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    expected = torch_net(torch.as_tensor(x)).detach().numpy()
    np.testing.assert_allclose(np.asarray(keras_net(x)), expected, rtol=1e-5, atol=1e-5)


def test_keras_branch_scale_structure_and_errors():
    model = kresmlp.residual_mlp(6, 8, 2, 4, branch_scale=0.0)
    names = [layer.name for layer in model.layers]
    assert "block1.scale" in names and "block2.scale" in names
    assert (
        len(model.trainable_weights) == len(kresmlp.residual_mlp(6, 8, 2, 4).trainable_weights) + 2
    )
    assert kresmlp.stream_layers(model) == ["block1.add", "block2.add"]
    with pytest.raises(ValueError, match="plain=False"):
        kresmlp.residual_mlp(6, 8, 2, 4, plain=True, branch_scale=0.0)


def test_zero_init_residual_starts_every_block_as_the_identity_and_learns():
    godeep.seed_everything(0)
    model = resmlp.residual_mlp(5, 8, 4, 3, zero_init_residual=True, init=0.5)
    for block in resmlp.blocks(model).values():
        assert not block.fc.weight.any() and not block.fc.bias.any()
    x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
    torch.testing.assert_close(model(x), model.out(model.inp(x)))
    torch.nn.functional.cross_entropy(model(x), y).backward()
    # unlike ReZero's alpha = 0, a zero weight matrix gets a gradient at once: relu(x)^T dE/dx_l
    assert all(float(b.fc.weight.grad.abs().max()) > 0 for b in resmlp.blocks(model).values())
    # the other layers keep their initialization
    assert float(model.inp.weight.detach().std()) == pytest.approx(0.5, rel=0.3)


def test_zero_init_residual_rejects_bad_input():
    with pytest.raises(ValueError, match="plain=False"):
        resmlp.residual_mlp(5, 8, 3, 2, plain=True, zero_init_residual=True)
    with pytest.raises(TypeError, match="zero_init_residual"):
        resmlp.residual_mlp(5, 8, 3, 2, zero_init_residual=1)
    with pytest.raises(ValueError, match="plain=False"):
        kresmlp.residual_mlp(5, 8, 3, 2, plain=True, zero_init_residual=True)


def test_keras_zero_init_residual_matches_pytorch():
    godeep.seed_everything(0)
    torch_net = resmlp.residual_mlp(6, 8, 3, 4, zero_init_residual=True, init=0.3)
    keras_net = kresmlp.residual_mlp(6, 8, 3, 4, zero_init_residual=True)
    for l in (1, 2, 3):
        kernel, bias = keras_net.get_layer(f"block{l}.fc").get_weights()
        assert not kernel.any() and not bias.any()
    kmodels.copy_from_torch(keras_net, torch_net)
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    np.testing.assert_allclose(
        np.asarray(keras_net(x)),
        torch_net(torch.as_tensor(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-5,
    )
