"""Chapter 5 tools: godeep.resmlp, and the additions to godeep.signals (autocorrelation, input
gradients, lesions, path lengths), with their Keras twins."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import godeep
from godeep import resmlp, signals

# ----------------------------------------------------------------------------- resmlp


def test_residual_and_plain_blocks_compute_their_definitions():
    godeep.seed_everything(0)
    x = torch.randn(5, 8, dtype=torch.float64)
    for plain in (False, True):
        net = resmlp.residual_mlp(
            8, 6, 3, 2, plain=plain, batch_norm=False, init=0.3, dtype="float64"
        )
        h = net.inp(x)
        for block in resmlp.blocks(net).values():
            branch = block.fc(torch.relu(h))
            h = branch if plain else h + branch
        torch.testing.assert_close(net(x), net.out(h))
    assert list(resmlp.blocks(net)) == ["block1", "block2", "block3"]
    with pytest.raises(ValueError, match="Block"):
        resmlp.blocks(nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(ValueError, match="dtype"):
        resmlp.residual_mlp(2, 2, 1, 1, dtype="float16")


def test_routes_change_only_the_backward_pass():
    godeep.seed_everything(1)
    net = resmlp.residual_mlp(4, 5, 2, 3, batch_norm=True, dtype="float64").eval()
    x = torch.randn(6, 4, dtype=torch.float64)
    reference = net(x)
    for route in ("branch", "shortcut"):
        for b in resmlp.blocks(net).values():
            b.route = route
        torch.testing.assert_close(net(x), reference)
    for b in resmlp.blocks(net).values():
        b.route = "both"


def test_path_gradient_of_length_zero_is_the_shortcut_only_gradient():
    godeep.seed_everything(2)
    net = resmlp.residual_mlp(4, 5, 3, 3, batch_norm=True, dtype="float64").eval()
    x, y = np.random.default_rng(0).standard_normal((7, 4)), np.array([0, 1, 2, 0, 1, 2, 0])
    (norm,) = resmlp.path_gradient_norms(net, x, y, 0, samples=1)
    xt = torch.as_tensor(x).requires_grad_(True)
    # with every block passing the gradient through its shortcut only, d out / d x = W_out W_in
    out = net(xt)
    loss = nn.functional.cross_entropy(out, torch.as_tensor(y))
    g_out = torch.autograd.grad(loss, out)[0]
    expected = (g_out @ net.out.weight @ net.inp.weight).detach().norm()
    assert norm == pytest.approx(float(expected), rel=1e-10)
    assert all(b.route == "both" for b in resmlp.blocks(net).values())
    full = resmlp.path_gradient_norms(net, x, y, 3, samples=2)
    assert full[0] == pytest.approx(full[1])  # only one path of length 3
    with pytest.raises(ValueError, match="length"):
        resmlp.path_gradient_norms(net, x, y, 4)
    with pytest.raises(ValueError, match="residual"):
        resmlp.path_gradient_norms(resmlp.residual_mlp(4, 5, 2, 3, plain=True), x, y, 1)


# ----------------------------------------------------------------------------- signals additions


def test_autocorrelation_definition_and_noise_colours():
    g = np.array([1.0, 2.0, 3.0, 2.0, 1.0])
    c = g - g.mean()
    rho = signals.autocorrelation(g)
    assert rho[0] == 1.0 and rho.shape == (5,)
    assert rho[1] == pytest.approx((c[:-1] @ c[1:]) / (c @ c))
    rng = np.random.default_rng(0)
    white = rng.standard_normal(4096)
    assert abs(signals.autocorrelation(white, 1)[1]) < 0.05
    assert signals.autocorrelation(np.cumsum(white), 1)[1] > 0.95
    with pytest.raises(ValueError, match="constant"):
        signals.autocorrelation(np.ones(5))
    with pytest.raises(ValueError, match="1-D"):
        signals.autocorrelation(np.ones((2, 3)))
    with pytest.raises(ValueError, match="max_lag"):
        signals.autocorrelation(g, 5)


def test_input_gradients_match_finite_differences():
    godeep.seed_everything(3)
    grid = np.linspace(-2, 2, 64)
    for batch_norm in (False, True):
        net = resmlp.residual_mlp(
            1, 16, 4, 1, plain=True, batch_norm=batch_norm, init=0.5, dtype="float64"
        )
        state = {k: v.clone() for k, v in net.state_dict().items()}
        g = signals.input_gradients(net, grid)
        # same statistics as input_gradients uses: mean and biased variance of the grid batch
        fixed = resmlp.residual_mlp(1, 16, 4, 1, plain=True, batch_norm=batch_norm, dtype="float64")
        fixed.load_state_dict(state)
        if batch_norm:
            for m in fixed.modules():
                if isinstance(m, nn.BatchNorm1d):
                    m.momentum = None
                    m.reset_running_stats()
            fixed.train()
            with torch.no_grad():
                fixed(torch.as_tensor(grid).reshape(-1, 1))
            for m in fixed.modules():
                if isinstance(m, nn.BatchNorm1d):
                    m.running_var.mul_(63 / 64)
        fixed.eval()
        eps = 1e-6
        f = lambda v: fixed(torch.as_tensor(v).reshape(-1, 1)).detach().numpy().ravel()
        np.testing.assert_allclose(
            g, (f(grid + eps) - f(grid - eps)) / (2 * eps), rtol=1e-5, atol=1e-6
        )
        for k, v in net.state_dict().items():  # the caller's model is untouched
            assert torch.equal(v, state[k])
        assert net.training
    with pytest.raises(ValueError, match="1-D"):
        signals.input_gradients(net, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"\(n, 1\)"):
        signals.input_gradients(resmlp.residual_mlp(1, 4, 1, 2), grid)


def test_lesions():
    godeep.seed_everything(4)
    net = resmlp.residual_mlp(3, 4, 3, 2, batch_norm=False, dtype="float64")
    x = torch.randn(5, 3, dtype=torch.float64)
    original = net.block2
    with signals.Lesioned(net, ["block2"]) as lesioned_net:
        assert isinstance(net.block2, nn.Identity)
        h = net.block1(net.inp(x))
        torch.testing.assert_close(lesioned_net(x), net.out(net.block3(h)))
    assert net.block2 is original
    with signals.Lesioned(net, "block1"):
        assert isinstance(net.block1, nn.Identity)
    with pytest.raises(ValueError, match="not found"):
        signals.Lesioned(net, ["block9"])
    calls = []
    scores = signals.lesion_study(
        net, ["block1", "block3"], lambda m: calls.append(type(m.block1).__name__) or len(calls)
    )
    assert scores == {"none": 1.0, "block1": 2.0, "block3": 3.0}
    assert calls == ["Block", "Identity", "Block"]
    with pytest.raises(ValueError, match="at least one"):
        signals.lesion_study(net, [], lambda m: 0.0)


def test_path_length_distribution_is_binomial():
    p = signals.path_length_distribution(10)
    assert p.shape == (11,) and p.sum() == pytest.approx(1.0)
    assert p[3] == pytest.approx(math.comb(10, 3) / 1024)
    assert signals.path_length_distribution(0).tolist() == [1.0]
    with pytest.raises(ValueError, match="n_blocks"):
        signals.path_length_distribution(-1)


# ----------------------------------------------------------------------------- Keras twins

kresmlp = pytest.importorskip("godeep.keras.resmlp")
ksignals = pytest.importorskip("godeep.keras.signals")
kmodels = pytest.importorskip("godeep.keras.models")


@pytest.mark.parametrize("plain", [False, True])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_keras_resmlp_parity(plain, batch_norm):
    godeep.seed_everything(5)
    pt = resmlp.residual_mlp(
        6, 8, 5, 3, plain=plain, batch_norm=batch_norm, init=0.4, dtype="float64"
    )
    km = kmodels.copy_from_torch(
        kresmlp.residual_mlp(6, 8, 5, 3, plain=plain, batch_norm=batch_norm, dtype="float64"), pt
    )
    assert km.count_params() == sum(p.numel() for p in pt.parameters()) + (
        2 * 8 * 5 if batch_norm else 0
    )  # + BN moving stats
    x, y = np.random.default_rng(1).standard_normal((16, 6)), np.arange(16) % 3
    pt.eval()
    np.testing.assert_allclose(
        np.asarray(km(x, training=False)),
        pt(torch.as_tensor(x)).detach().numpy(),
        rtol=1e-10,
        atol=1e-12,
    )
    pt.train()
    r_pt = signals.record(pt, x, y, layers=list(resmlp.blocks(pt)))
    r_k = ksignals.record(km, x, y, layers=kresmlp.stream_layers(km))
    np.testing.assert_allclose(r_k.column("grad_std"), r_pt.column("grad_std"), rtol=1e-8)
    np.testing.assert_allclose(r_k.column("std"), r_pt.column("std"), rtol=1e-8)
    grid = np.linspace(-1, 1, 32)
    g1 = resmlp.residual_mlp(
        1, 8, 3, 1, plain=plain, batch_norm=batch_norm, init=0.5, dtype="float64"
    )
    k1 = kmodels.copy_from_torch(
        kresmlp.residual_mlp(1, 8, 3, 1, plain=plain, batch_norm=batch_norm, dtype="float64"), g1
    )
    np.testing.assert_allclose(
        ksignals.input_gradients(k1, grid), signals.input_gradients(g1, grid), rtol=1e-9, atol=1e-12
    )
    if batch_norm:  # moving statistics restored
        bn = [l for l in k1.layers if l.name.endswith(".norm")][0]
        assert (
            np.allclose(np.asarray(bn.moving_mean), 0)
            and np.allclose(np.asarray(bn.moving_variance), 1)
            and bn.momentum == 0.9
        )


def test_keras_block_outputs_and_routes():
    godeep.seed_everything(6)
    for plain in (False, True):
        km = kresmlp.residual_mlp(4, 5, 3, 2, plain=plain, batch_norm=True, dtype="float64")
        found = kresmlp.blocks(km)
        assert list(found) == ["block1", "block2", "block3"]
        assert [b.name for b in found.values()] == [
            f"block{l}.{'out' if plain else 'add'}" for l in (1, 2, 3)
        ]
        assert all(
            b.residual is not plain and b.route == "both" and not b.deleted for b in found.values()
        )
        assert (
            km.count_params()
            == kresmlp.residual_mlp(4, 5, 3, 2, plain=plain, batch_norm=True).count_params()
        )
    # routes change only the backward pass; "shortcut" everywhere leaves d out / d x = W_in W_out
    km = kresmlp.residual_mlp(4, 5, 3, 2, batch_norm=True, dtype="float64")
    x = np.random.default_rng(0).standard_normal((6, 4))
    reference = np.asarray(km(x, training=False))
    for route in ("branch", "shortcut"):
        for b in kresmlp.blocks(km).values():
            b.route = route
        np.testing.assert_allclose(np.asarray(km(x, training=False)), reference, rtol=0, atol=0)
    xt = ksignals.tf.constant(x)
    with ksignals.tf.GradientTape() as tape:
        tape.watch(xt)
        total = ksignals.tf.reduce_sum(km(xt, training=False))
    w = km.get_layer("inp").kernel.numpy() @ km.get_layer("out").kernel.numpy()
    np.testing.assert_allclose(
        tape.gradient(total, xt).numpy(), np.tile(w.sum(axis=1), (6, 1)), rtol=1e-12
    )
    kresmlp.blocks(km)["block1"].route = "sideways"
    with pytest.raises(ValueError, match="route"):
        km(x, training=False)
    with pytest.raises(ValueError, match="BlockOutput"):
        kresmlp.blocks(kmodels.mlp(4, 5, 2, 2))
    with pytest.raises(TypeError, match="keras.Model"):
        kresmlp.blocks(resmlp.residual_mlp(4, 5, 2, 2))


def test_keras_lesions():
    godeep.seed_everything(7)
    for plain in (False, True):
        km = kresmlp.residual_mlp(3, 4, 3, 2, plain=plain, batch_norm=False, dtype="float64")
        x = np.random.default_rng(1).standard_normal((5, 3))
        intact = np.asarray(km(x))
        np.testing.assert_allclose(
            km.predict(x, verbose=0), intact, rtol=1e-5, atol=1e-6
        )  # traces predict
        layer = lambda n: km.get_layer(n)
        with ksignals.Lesioned(km, ["block2"]) as lesioned_net:
            assert lesioned_net is km and kresmlp.blocks(km)["block2"].deleted
            h = layer("inp")(x)
            for l in (1, 3):  # block 2 is the identity: x_2 = x_1
                branch = layer(f"block{l}.fc")(layer(f"block{l}.act")(h))
                h = branch if plain else h + branch
            np.testing.assert_allclose(np.asarray(km(x)), np.asarray(layer("out")(h)), rtol=1e-12)
            np.testing.assert_allclose(
                km.predict(x, verbose=0), np.asarray(layer("out")(h)), rtol=1e-5, atol=1e-6
            )  # not the stale trace
        assert not any(b.deleted for b in kresmlp.blocks(km).values())
        np.testing.assert_allclose(np.asarray(km(x)), intact, rtol=0, atol=0)
        np.testing.assert_allclose(km.predict(x, verbose=0), intact, rtol=1e-5, atol=1e-6)
        with pytest.raises(RuntimeError, match="boom"):  # restored on error too
            with ksignals.Lesioned(km, "block1"):
                raise RuntimeError("boom")
        assert not kresmlp.blocks(km)["block1"].deleted
    with ksignals.Lesioned(km, ["block1"]):
        with ksignals.Lesioned(km, ["block1", "block3"]):
            assert [b.deleted for b in kresmlp.blocks(km).values()] == [True, False, True]
        assert [b.deleted for b in kresmlp.blocks(km).values()] == [True, False, False]
    with pytest.raises(ValueError, match="not found"):
        ksignals.Lesioned(km, ["block9"])
    with pytest.raises(TypeError, match="names"):
        ksignals.Lesioned(km, [3])
    calls = []
    scores = ksignals.lesion_study(
        km,
        ["block1", "block3"],
        lambda m: calls.append([b.deleted for b in kresmlp.blocks(m).values()]) or len(calls),
    )
    assert scores == {"none": 1.0, "block1": 2.0, "block3": 3.0}
    assert calls == [[False] * 3, [True, False, False], [False, False, True]]
    with pytest.raises(ValueError, match="at least one"):
        ksignals.lesion_study(km, [], lambda m: 0.0)
    with pytest.raises(ValueError, match="not found"):  # checked before the first evaluation
        ksignals.lesion_study(km, ["block1", "block7"], lambda m: calls.append("called") or 0.0)
    assert calls[-1] != "called"


def test_keras_path_gradient_of_length_zero_is_the_shortcut_only_gradient():
    godeep.seed_everything(8)
    km = kresmlp.residual_mlp(4, 5, 3, 3, batch_norm=True, dtype="float64")
    x, y = np.random.default_rng(0).standard_normal((7, 4)), np.array([0, 1, 2, 0, 1, 2, 0])
    (norm,) = kresmlp.path_gradient_norms(km, x, y, 0, samples=1)
    logits = np.asarray(km(x, training=False))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    g_out = (p - np.eye(3)[y]) / len(y)  # d mean cross-entropy / d logits
    w = km.get_layer("inp").kernel.numpy() @ km.get_layer("out").kernel.numpy()
    assert norm == pytest.approx(float(np.linalg.norm(g_out @ w.T)), rel=1e-10)
    assert all(b.route == "both" for b in kresmlp.blocks(km).values())
    full = kresmlp.path_gradient_norms(km, x, y, 3, samples=2)
    assert full[0] == pytest.approx(full[1])  # only one path of length 3
    with pytest.raises(ValueError, match="length"):
        kresmlp.path_gradient_norms(km, x, y, 4)
    with pytest.raises(ValueError, match="length"):
        kresmlp.path_gradient_norms(km, x, y, True)
    with pytest.raises(ValueError, match="samples"):
        kresmlp.path_gradient_norms(km, x, y, 1, samples=0)
    with pytest.raises(ValueError, match="residual"):
        kresmlp.path_gradient_norms(kresmlp.residual_mlp(4, 5, 2, 3, plain=True), x, y, 1)
    with pytest.raises(ValueError, match="class labels"):
        kresmlp.path_gradient_norms(km, x, np.array([0, 1, 7, 0, 1, 2, 0]), 2)
    with pytest.raises(ValueError, match="one per row"):
        kresmlp.path_gradient_norms(km, x, y[:3], 2)
    # routes restored after an error inside the loop (wrong input width: Keras' ValueError)
    with pytest.raises(ValueError):
        kresmlp.path_gradient_norms(km, np.ones((7, 5)), y, 2)
    assert all(b.route == "both" for b in kresmlp.blocks(km).values())


def test_keras_path_gradient_norms_match_eager_routes_and_trace_once():
    """The traced path gradient (routes as an input) gives the numbers of the eager call with
    the blocks' Python routes set, bit for bit, for every path, from one trace."""
    import keras

    from godeep.core.resmlp import route_random_path

    godeep.seed_everything(3)
    km = kresmlp.residual_mlp(4, 6, 5, 3, batch_norm=True, dtype="float64")
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
    found = list(kresmlp.blocks(km).values())
    for length in (0, 2, 5):
        got = kresmlp.path_gradient_norms(km, x, y, length, samples=3, seed=length)
        paths = np.random.default_rng(length)
        for norm in got:
            route_random_path(found, length, paths)
            xt = ksignals.tf.constant(x)
            with ksignals.tf.GradientTape() as tape:
                tape.watch(xt)
                logits = km(xt, training=False)
                loss = ksignals.tf.reduce_mean(
                    keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
                )
            assert norm == float(ksignals.tf.norm(tape.gradient(loss, xt)))
        for b in found:
            b.route = "both"
    assert all(b.route == "both" for b in found)
    (fn,) = km.__dict__["_godeep_path_gradient"].values()
    assert fn.experimental_get_tracing_count() == 1
    with ksignals.Lesioned(km, ["block2"]):  # a deleted block: its own trace
        lesioned = kresmlp.path_gradient_norms(km, x, y, 0, samples=1)
    assert lesioned[0] != kresmlp.path_gradient_norms(km, x, y, 0, samples=1)[0]
