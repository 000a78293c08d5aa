"""BatchNorm in deployment (godeep.deploy and its Keras twin): folding is exact in eval mode;
recalibration agrees with torch.optim.swa_utils.update_bn and with the exact moments of the features."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from godeep import deploy
from godeep.norms import BatchNorm


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: on a shared machine, torch's thread pool costs more than it saves here."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _randomize_bn(bn: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    C = bn.num_features
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(C, generator=g))
        bn.running_var.copy_(torch.rand(C, generator=g) * 2 + 0.1)
        if bn.weight is not None:
            bn.weight.copy_(torch.randn(C, generator=g))
            bn.bias.copy_(torch.randn(C, generator=g))
    return bn.eval()


@pytest.mark.parametrize(
    "layer, bn, shape",
    [
        (lambda: nn.Conv2d(3, 6, 3, padding=1), lambda: nn.BatchNorm2d(6), (4, 3, 7, 7)),
        (lambda: nn.Conv2d(3, 6, 3, stride=2, bias=False), lambda: nn.BatchNorm2d(6), (4, 3, 9, 9)),
        (lambda: nn.Conv2d(4, 6, 3, groups=2, bias=False), lambda: BatchNorm(6), (2, 4, 6, 6)),
        (lambda: nn.Linear(5, 7), lambda: nn.BatchNorm1d(7), (8, 5)),
        (lambda: nn.Linear(5, 7, bias=False), lambda: nn.BatchNorm1d(7, affine=False), (8, 5)),
        (lambda: nn.Linear(5, 7), lambda: BatchNorm(7, eps=1e-3), (8, 5)),
    ],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_folding_is_exact_in_eval_mode(layer, bn, shape, dtype):
    torch.manual_seed(0)
    layer, bn = layer().to(dtype), _randomize_bn(bn().to(dtype), 1)
    x = torch.randn(shape, dtype=dtype)
    before = [p.detach().clone() for p in layer.parameters()]
    folded = deploy.fold_batch_norm(layer, bn)
    assert type(folded) is type(layer) and folded.bias is not None
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    with torch.no_grad():
        torch.testing.assert_close(folded(x), bn(layer(x)), rtol=tol, atol=tol)
    assert all(
        torch.equal(a, b) for a, b in zip(layer.parameters(), before)
    )  # the inputs are left alone
    assert not torch.allclose(folded(x), layer(x).detach(), atol=1e-2)  # and the BN did something


def test_fold_rejects_bad_input():
    with pytest.raises(ValueError, match="running statistics"):
        deploy.fold_batch_norm(nn.Linear(3, 4), nn.BatchNorm1d(4, track_running_stats=False))
    with pytest.raises(ValueError, match="features"):
        deploy.fold_batch_norm(nn.Linear(3, 4), nn.BatchNorm1d(5))
    with pytest.raises(TypeError, match="conv_or_linear"):
        deploy.fold_batch_norm(nn.Conv1d(3, 4, 3), nn.BatchNorm1d(4))
    with pytest.raises(TypeError, match="bn"):
        deploy.fold_batch_norm(nn.Linear(3, 4), nn.LayerNorm(4))


def _net(godeep_bn: bool = False) -> nn.Sequential:
    torch.manual_seed(0)
    bn = (lambda c: BatchNorm(c)) if godeep_bn else nn.BatchNorm2d
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        bn(4),
        nn.ReLU(),
        nn.Dropout(0.0),
        nn.Conv2d(4, 3, 3),
        bn(3),
        nn.Flatten(),
        nn.Linear(3 * 4 * 4, 2),
    )


def _batches(sizes=(16, 16, 16), seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 2, 6, 6, generator=g) * 2 + 0.5 for n in sizes]


@pytest.mark.parametrize("godeep_bn", [False, True])
def test_recalibration_equals_update_bn(godeep_bn):
    """update_bn knows torch.nn's BatchNorm only: godeep's BatchNorm is compared with a torch.nn twin."""
    ours, theirs = _net(godeep_bn), _net(False)
    for m in (ours, theirs):
        m.eval()
        for bn in deploy.batch_norm_layers(m):
            _randomize_bn(bn, 2)  # stale statistics
    deploy.recalibrate_batch_norm(ours, _batches())
    torch.optim.swa_utils.update_bn(_batches(), theirs)
    for a, b in zip(deploy.batch_norm_layers(ours), deploy.batch_norm_layers(theirs)):
        tol = 1e-6 if godeep_bn else 0.0  # godeep's BatchNorm is written from means and variances
        torch.testing.assert_close(a.running_mean, b.running_mean, rtol=tol, atol=tol)
        torch.testing.assert_close(a.running_var, b.running_var, rtol=tol, atol=tol)
        assert a.momentum == 0.1 and int(a.num_batches_tracked) == 3
    assert not ours.training


def test_recalibration_gives_the_exact_moments_of_the_features():
    model = _net()
    batches = _batches()
    deploy.recalibrate_batch_norm(model, batches)
    bn1 = model[1]
    feats = torch.cat([model[0](x) for x in batches]).detach().transpose(0, 1).reshape(4, -1)
    torch.testing.assert_close(bn1.running_mean, feats.mean(1), rtol=1e-5, atol=1e-6)
    per_batch = [model[0](x).detach().transpose(0, 1).reshape(4, -1).var(1) for x in batches]
    torch.testing.assert_close(
        bn1.running_var, torch.stack(per_batch).mean(0), rtol=1e-5, atol=1e-6
    )
    # one batch of everything: the exact (unbiased) variance; the stale statistics were far off
    model = _net()
    with torch.no_grad():
        model[1].running_var.fill_(50.0)
    deploy.recalibrate_batch_norm(model, [(torch.cat(batches), None)])
    torch.testing.assert_close(model[1].running_var, feats.var(1), rtol=1e-5, atol=1e-6)


def test_recalibration_rejects_bad_input():
    with pytest.raises(ValueError, match="empty"):
        deploy.recalibrate_batch_norm(_net(), [])
    with pytest.raises(TypeError, match="batch"):
        deploy.recalibrate_batch_norm(_net(), [np.ones((2, 2, 6, 6), dtype=np.float32)])
    with pytest.raises(TypeError, match="model"):
        deploy.batch_norm_layers("net")
    model = _net()
    assert model[1].momentum == 0.1  # restored after the error


# ------------------------------------------------------------------------------ Keras


@pytest.fixture(scope="module")
def K():
    pytest.importorskip("keras")
    import keras

    from godeep.keras import deploy as kdeploy, tf
    from godeep.keras.norms import BatchNorm as KBatchNorm

    return keras, tf, kdeploy, KBatchNorm


def _randomize_kbn(bn, C, seed):
    rng = np.random.default_rng(seed)
    values = []
    for w in bn.weights:
        name = w.name
        if "variance" in name:
            values.append(rng.uniform(0.1, 2.1, C))
        else:
            values.append(rng.standard_normal(C))
    bn.set_weights([v.astype(np.float32) for v in values])


@pytest.mark.parametrize(
    "kind", ["conv", "conv_nobias", "dense", "dense_godeep_bn", "conv_noaffine"]
)
def test_keras_folding_is_exact(K, kind):
    keras, tf, kdeploy, KBatchNorm = K
    keras.utils.set_random_seed(0)
    if kind.startswith("conv"):
        layer = keras.layers.Conv2D(6, 3, padding="same", use_bias=kind == "conv")
        shape = (4, 7, 7, 3)
    else:
        layer = keras.layers.Dense(7)
        shape = (8, 5)
    if kind == "dense_godeep_bn":
        bn = KBatchNorm(epsilon=1e-5)
    else:
        bn = keras.layers.BatchNormalization(
            center=kind != "conv_noaffine", scale=kind != "conv_noaffine"
        )
    x = tf.random.normal(shape)
    z = layer(x)
    bn(z, training=False)
    _randomize_kbn(bn, z.shape[-1], 3)
    folded = kdeploy.fold_batch_norm(layer, bn)
    assert type(folded) is type(layer) and folded.use_bias
    expected = bn(layer(x), training=False).numpy()
    np.testing.assert_allclose(folded(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    assert np.abs(expected - layer(x).numpy()).max() > 1e-2


def test_keras_fold_rejects_bad_input(K):
    keras, tf, kdeploy, _ = K
    dense = keras.layers.Dense(4, activation="relu")
    dense.build((None, 3))
    bn = keras.layers.BatchNormalization()
    bn.build((None, 4))
    with pytest.raises(ValueError, match="activation"):
        kdeploy.fold_batch_norm(dense, bn)
    conv = keras.layers.Conv2D(4, 3)
    conv.build((None, 5, 5, 4))
    bn1 = keras.layers.BatchNormalization(axis=1)
    bn1.build((None, 4, 3, 3))
    with pytest.raises(ValueError, match="axis"):
        kdeploy.fold_batch_norm(conv, bn1)
    with pytest.raises(TypeError, match="conv_or_linear"):
        kdeploy.fold_batch_norm(bn, bn)
    big = keras.layers.BatchNormalization()
    big.build((None, 6))
    plain = keras.layers.Dense(4)
    with pytest.raises(ValueError, match="not built"):
        kdeploy.fold_batch_norm(plain, big)
    plain.build((None, 3))
    with pytest.raises(ValueError, match="outputs"):
        kdeploy.fold_batch_norm(plain, big)


def _keras_mlp(keras, epsilon=1e-5):
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, name="fc1"),
            keras.layers.BatchNormalization(epsilon=epsilon, name="bn1"),
            keras.layers.Activation("tanh"),
            keras.layers.Dense(5, name="fc2"),
            keras.layers.BatchNormalization(epsilon=epsilon, name="bn2"),
        ]
    )


def test_keras_recalibration_gives_exact_population_moments(K):
    keras, tf, kdeploy, _ = K
    keras.utils.set_random_seed(1)
    model = _keras_mlp(keras)
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((n, 6)).astype(np.float32) * 3 + 1 for n in (10, 17, 5)]
    kdeploy.recalibrate_batch_norm(model, batches)
    fc1, bn1, act, fc2, bn2 = model.layers
    z1 = [fc1(x).numpy().astype(np.float64) for x in batches]
    allz1 = np.concatenate(z1)
    np.testing.assert_allclose(bn1.moving_mean.numpy(), allz1.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn1.moving_variance.numpy(), allz1.var(0), rtol=1e-5, atol=1e-5)
    # bn2 sees what training mode feeds it: bn1 normalizing with each batch's own statistics
    z2 = np.concatenate(
        [
            fc2(
                act(
                    (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5) * bn1.gamma.numpy()
                    + bn1.beta.numpy()
                )
            ).numpy()
            for z in z1
        ]
    )
    np.testing.assert_allclose(bn2.moving_mean.numpy(), z2.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn2.moving_variance.numpy(), z2.var(0), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="empty"):
        kdeploy.recalibrate_batch_norm(model, [])
    assert "call" not in vars(bn1)  # the recording wrapper is gone


def test_recalibration_across_frameworks(K):
    keras, tf, kdeploy, _ = K
    torch.manual_seed(2)
    tnet = nn.Sequential(
        nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 5), nn.BatchNorm1d(5)
    )
    knet = _keras_mlp(keras)
    for t, k in ((tnet[0], knet.layers[0]), (tnet[3], knet.layers[3])):
        k.set_weights([t.weight.detach().numpy().T, t.bias.detach().numpy()])
    x = np.random.default_rng(3).standard_normal((40, 6)).astype(np.float32)
    deploy.recalibrate_batch_norm(tnet, [torch.as_tensor(x)])
    kdeploy.recalibrate_batch_norm(knet, [x])
    n = len(x)
    for tb, kb in ((tnet[1], knet.layers[1]), (tnet[4], knet.layers[4])):
        np.testing.assert_allclose(
            kb.moving_mean.numpy(), tb.running_mean.numpy(), rtol=1e-4, atol=1e-5
        )
        np.testing.assert_allclose(
            kb.moving_variance.numpy(), tb.running_var.numpy() * (n - 1) / n, rtol=1e-4, atol=1e-5
        )
