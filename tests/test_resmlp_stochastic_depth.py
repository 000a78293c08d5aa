"""Stochastic depth in godeep.resmlp.residual_mlp and its Keras twin (section 5.9): the linear
decay rule of Huang et al. (2016), training against eval behaviour, the drop rates actually
drawn, argument checks, and parity of the two twins in inference mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import godeep
from godeep import resmlp
from godeep.core.resmlp import drop_rates

X = np.random.default_rng(0).normal(size=(4000, 6)).astype(np.float32)


def test_linear_decay_rule():
    assert drop_rates(0.5, 4) == [0.125, 0.25, 0.375, 0.5]
    survival = 1 - np.array(drop_rates(0.5, 54))
    assert survival.sum() == pytest.approx((3 * 54 - 1) / 4)  # 40.25 of ResNet-110's 54 blocks
    assert drop_rates(0.0, 3) == [0.0, 0.0, 0.0]


def test_blocks_get_the_rule_and_no_drop_without_it():
    net = resmlp.residual_mlp(6, 8, 4, 3, stochastic_depth_prob=0.5, stochastic_depth_mode="batch")
    drops = [b.drop for b in resmlp.blocks(net).values()]
    assert [d.p for d in drops] == [0.125, 0.25, 0.375, 0.5]
    assert {d.mode for d in drops} == {"batch"}
    plain_default = resmlp.residual_mlp(6, 8, 4, 3)
    assert all(b.drop is None for b in resmlp.blocks(plain_default).values())


def test_eval_mode_is_the_net_without_stochastic_depth():
    godeep.seed_everything(0)
    net = resmlp.residual_mlp(6, 8, 5, 3, batch_norm=True, stochastic_depth_prob=0.8)
    reference = resmlp.residual_mlp(6, 8, 5, 3, batch_norm=True)
    reference.load_state_dict(net.state_dict())  # no extra parameters or buffers
    net.eval(), reference.eval()
    x = torch.as_tensor(X[:16])
    torch.testing.assert_close(net(x), reference(x), rtol=0, atol=0)
    net.train()
    assert not torch.equal(net(x), reference(x))  # in training, branches are dropped


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_drawn_drop_rates_match_the_rule(mode):
    godeep.seed_everything(0)
    net = resmlp.residual_mlp(6, 8, 4, 3, stochastic_depth_prob=0.6, stochastic_depth_mode=mode)
    dropped = {i: [] for i in range(4)}
    hooks = [
        b.drop.register_forward_hook(
            lambda m, inp, out, i=i: dropped[i].extend((out == 0).all(dim=1).tolist())
        )
        for i, b in enumerate(resmlp.blocks(net).values())
    ]
    x = torch.as_tensor(X)
    with torch.no_grad():
        if mode == "row":
            net(x)
        else:  # one draw per batch: many small batches
            for chunk in x.split(2):
                net(chunk)
    for h in hooks:
        h.remove()
    for i, rate in enumerate(drop_rates(0.6, 4)):
        flags = np.array(dropped[i])
        if mode == "batch":  # the whole batch goes together
            flags = flags.reshape(-1, 2)
            assert np.all(flags.all(1) | ~flags.any(1))
            flags = flags[:, 0]
        assert abs(flags.mean() - rate) < 0.04, (i, flags.mean(), rate)


def test_a_branch_dropped_always_leaves_the_shortcut():
    net = resmlp.residual_mlp(6, 8, 1, 3, stochastic_depth_prob=1.0).train()
    x = torch.as_tensor(X[:8])
    torch.testing.assert_close(net(x), net.out(net.inp(x)))


BAD = [
    (dict(stochastic_depth_prob=1.5), ValueError, r"stochastic_depth_prob must be in \[0, 1\]"),
    (dict(stochastic_depth_prob=-0.1), ValueError, r"stochastic_depth_prob must be in \[0, 1\]"),
    (dict(stochastic_depth_prob=True), TypeError, "stochastic_depth_prob must be a number"),
    (dict(stochastic_depth_prob="0.5"), TypeError, "stochastic_depth_prob must be a number"),
    (dict(stochastic_depth_mode="layer"), ValueError, "stochastic_depth_mode must be 'row' or"),
    (
        dict(stochastic_depth_prob=0.5, plain=True),
        ValueError,
        "stochastic depth drops residual branches: it needs plain=False",
    ),
]


@pytest.mark.parametrize("changes, error, fragment", BAD)
def test_bad_arguments(changes, error, fragment):
    with pytest.raises(error, match=fragment):
        resmlp.residual_mlp(6, 8, 2, 3, **changes)


# ------------------------------------------------------------------ Keras twin


@pytest.fixture
def kresmlp():
    return pytest.importorskip("godeep.keras.resmlp")


@pytest.mark.parametrize("changes, error, fragment", BAD)
def test_keras_bad_arguments(kresmlp, changes, error, fragment):
    with pytest.raises(error, match=fragment):
        kresmlp.residual_mlp(6, 8, 2, 3, **changes)


def test_keras_inference_matches_pytorch_and_training_drops(kresmlp):
    from godeep.keras import models as kmodels
    from godeep.keras.residual import StochasticDepth

    godeep.seed_everything(0)
    pt = resmlp.residual_mlp(6, 8, 4, 3, batch_norm=True, stochastic_depth_prob=0.5).eval()
    km = kmodels.copy_from_torch(
        kresmlp.residual_mlp(6, 8, 4, 3, batch_norm=True, stochastic_depth_prob=0.5), pt
    )
    drops = [layer for layer in km.layers if isinstance(layer, StochasticDepth)]
    assert [layer.name for layer in drops] == [f"block{l}.drop" for l in range(1, 5)]
    assert [layer.p for layer in drops] == drop_rates(0.5, 4)
    x = X[:16]
    with torch.no_grad():
        expected = pt(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(km(x, training=False).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(km(x, training=True).numpy(), km(x, training=False).numpy())


def test_keras_drop_rates_and_seeded_drops(kresmlp):
    godeep.seed_everything(0)
    km = kresmlp.residual_mlp(6, 8, 1, 3, stochastic_depth_prob=0.6)
    godeep.seed_everything(0)
    again = kresmlp.residual_mlp(6, 8, 1, 3, stochastic_depth_prob=0.6)
    seeds = [[v.numpy() for v in m.variables if "seed" in v.path] for m in (km, again)]
    np.testing.assert_array_equal(seeds[0], seeds[1])  # seed_everything seeds the drops
    again.set_weights(km.get_weights())
    x = X[:2000]
    a, b = km(x, training=True).numpy(), again(x, training=True).numpy()
    np.testing.assert_array_equal(a, b)  # the same seed, the same drops
    branchless = km.get_layer("out")(km.get_layer("inp")(x)).numpy()
    dropped = np.all(np.isclose(a, branchless, atol=1e-6), axis=1)
    assert abs(dropped.mean() - 0.6) < 0.04  # one block: drop rate 0.6 * 1 / 1
