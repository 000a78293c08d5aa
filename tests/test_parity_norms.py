"""godeep.keras.norms against keras.layers, and against the PyTorch twins in godeep.norms.

Conventions converted (documented in godeep.keras.norms): NCHW <-> NHWC; Keras momentum 0.99
weighting the old average = 1 - PyTorch momentum 0.1 weighting the new batch; epsilon 1e-3 vs
eps 1e-5 (set equal here); Keras stores the biased batch variance, PyTorch the unbiased one.
"""

import numpy as np
import pytest
import torch

from godeep import norms

knorms = pytest.importorskip("godeep.keras.norms")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

TOL = {"float64": dict(rtol=1e-9, atol=1e-9), "float32": dict(rtol=1e-4, atol=1e-5)}
SHAPES = {2: (8, 3), 3: (6, 5, 4), 4: (5, 3, 3, 4)}  # channels last


def rand(shape, seed=0, dtype="float64"):
    return (np.random.default_rng(seed).standard_normal(shape) * 2 + 0.5).astype(dtype)


def set_affine(ours, theirs, seed=1):
    """Give both layers the same random gamma and beta."""
    rng = np.random.default_rng(seed)
    values = [
        (1 + 0.3 * rng.standard_normal(w.shape)).astype(w.dtype)
        if "gamma" in w.path
        else (0.3 * rng.standard_normal(w.shape)).astype(w.dtype)
        for w in theirs.trainable_weights
    ]
    theirs.set_weights(values + [w.numpy() for w in theirs.non_trainable_weights])
    ours.set_weights(values + [w.numpy() for w in ours.non_trainable_weights])


def check_call(ours, theirs, x, dtype, training):
    xt = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        a = ours(xt, training=training)
        b = theirs(xt, training=training)
        probe = tf.constant(rand(a.shape, seed=7, dtype=dtype))
        la, lb = tf.reduce_sum(a * probe), tf.reduce_sum(b * probe)
    np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL[dtype])
    ga = tape.gradient(la, [xt] + ours.trainable_weights)
    gb = tape.gradient(lb, [xt] + theirs.trainable_weights)
    for u, v in zip(ga, gb):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("dims", [2, 3, 4])
def test_batch_norm_matches_keras(dims, dtype):
    ours = knorms.BatchNorm(momentum=0.9, dtype=dtype)
    theirs = keras.layers.BatchNormalization(momentum=0.9, dtype=dtype)
    x = rand(SHAPES[dims], dtype=dtype)
    ours.build(x.shape), theirs.build(x.shape)
    set_affine(ours, theirs)
    for step in range(3):
        check_call(ours, theirs, rand(SHAPES[dims], seed=step, dtype=dtype), dtype, training=True)
    # keras rounds its momentum to float32 (0.9 -> 0.89999998), hence rtol 1e-6 in float64
    moving_tol = dict(rtol=1e-6, atol=1e-7) if dtype == "float64" else TOL[dtype]
    np.testing.assert_allclose(ours.moving_mean.numpy(), theirs.moving_mean.numpy(), **moving_tol)
    np.testing.assert_allclose(
        ours.moving_variance.numpy(), theirs.moving_variance.numpy(), **moving_tol
    )
    check_call(ours, theirs, x, dtype, training=False)
    ours.trainable = theirs.trainable = False  # frozen: inference mode even with training=True
    before = ours.moving_mean.numpy().copy()
    a = ours(tf.constant(x), training=True)
    np.testing.assert_allclose(
        a.numpy(), theirs(tf.constant(x), training=True).numpy(), **TOL[dtype]
    )
    np.testing.assert_allclose(
        a.numpy(), ours(tf.constant(x), training=False).numpy(), **TOL[dtype]
    )
    np.testing.assert_array_equal(ours.moving_mean.numpy(), before)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("dims", [2, 3, 4])
def test_layer_norm_matches_keras(dims, dtype):
    x = rand(SHAPES[dims], dtype=dtype)
    ours, theirs = knorms.LayerNorm(dtype=dtype), keras.layers.LayerNormalization(dtype=dtype)
    ours.build(x.shape), theirs.build(x.shape)
    set_affine(ours, theirs)
    check_call(ours, theirs, x, dtype, training=True)
    if dims > 2:  # over all non-batch axes, affine per element
        ours = knorms.LayerNorm(x.shape[1:], dtype=dtype)
        theirs = keras.layers.LayerNormalization(axis=list(range(1, dims)), dtype=dtype)
        ours.build(x.shape), theirs.build(x.shape)
        set_affine(ours, theirs)
        check_call(ours, theirs, x, dtype, training=True)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("dims", [3, 4])
def test_group_and_instance_norm_match_keras(dims, dtype):
    shape = SHAPES[dims][:-1] + (6,)
    x = rand(shape, dtype=dtype)
    for G in (1, 2, 3, 6):
        ours, theirs = (
            knorms.GroupNorm(G, dtype=dtype),
            keras.layers.GroupNormalization(G, dtype=dtype),
        )
        ours.build(x.shape), theirs.build(x.shape)
        set_affine(ours, theirs)
        check_call(ours, theirs, x, dtype, training=True)
    ours = knorms.InstanceNorm(center=True, scale=True, dtype=dtype)
    theirs = keras.layers.GroupNormalization(groups=-1, dtype=dtype)
    ours.build(x.shape), theirs.build(x.shape)
    set_affine(ours, theirs)
    check_call(ours, theirs, x, dtype, training=False)


def test_einsum_moments_nhwc_match_nchw():
    x = rand((5, 3, 4, 6))
    nchw = torch.as_tensor(x.transpose(0, 3, 1, 2))
    for kind in ("batch", "layer", "instance", "group"):
        for a, b in zip(
            knorms.moments(x, kind, num_groups=3), norms.moments(nchw, kind, num_groups=3)
        ):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)


def to_nchw(x):
    return np.moveaxis(x, -1, 1)


@pytest.mark.parametrize("dims", [2, 4])
def test_batch_norm_pytorch_and_keras_twins_agree(dims):
    """PyTorch BatchNorm(momentum=0.1, eps=1e-5) == Keras BatchNorm(momentum=0.9, epsilon=1e-5),
    up to the stored variance.
    """
    pt = norms.BatchNorm(3).double()
    kt = knorms.BatchNorm(momentum=1 - 0.1, epsilon=1e-5, dtype="float64")
    shape = SHAPES[dims][:-1] + (3,)
    for step in range(3):
        x = rand(shape, seed=step)
        m = x.size // 3
        a = kt(tf.constant(x), training=True).numpy()
        b = pt(torch.as_tensor(to_nchw(x))).detach().numpy()
        np.testing.assert_allclose(to_nchw(a), b, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(kt.moving_mean.numpy(), pt.running_mean.numpy(), rtol=1e-10)
    # PyTorch stored m/(m-1) sigma^2, Keras sigma^2: not equal after updates...
    assert not np.allclose(kt.moving_variance.numpy(), pt.running_var.numpy(), rtol=1e-6)
    # ...but one update from ones differs exactly by Bessel's factor on the batch term
    pt, kt = (
        norms.BatchNorm(3).double(),
        knorms.BatchNorm(momentum=0.9, epsilon=1e-5, dtype="float64"),
    )
    x = rand(shape, seed=5)
    kt(tf.constant(x), training=True), pt(torch.as_tensor(to_nchw(x)))
    batch_var_k = (kt.moving_variance.numpy() - 0.9) / 0.1
    batch_var_p = (pt.running_var.numpy() - 0.9) / 0.1
    np.testing.assert_allclose(batch_var_p, batch_var_k * m / (m - 1), rtol=1e-10)
    pt.eval()
    y = rand(shape, seed=6)
    kt.moving_variance.assign(pt.running_var.numpy())  # the conversion: store what PyTorch stores
    np.testing.assert_allclose(
        to_nchw(kt(tf.constant(y), training=False).numpy()),
        pt(torch.as_tensor(to_nchw(y))).detach().numpy(),
        rtol=1e-10,
        atol=1e-10,
    )


def test_layer_group_instance_pytorch_and_keras_twins_agree():
    x = rand((4, 3, 3, 6))
    xc = torch.as_tensor(to_nchw(x))
    for G in (1, 2, 6):
        a = knorms.GroupNorm(G, epsilon=1e-5, dtype="float64")(tf.constant(x)).numpy()
        np.testing.assert_allclose(
            to_nchw(a), norms.GroupNorm(G, 6).double()(xc).detach().numpy(), rtol=1e-10, atol=1e-10
        )
    a = knorms.InstanceNorm(epsilon=1e-5, dtype="float64")(tf.constant(x)).numpy()
    np.testing.assert_allclose(
        to_nchw(a), norms.InstanceNorm(6).double()(xc).numpy(), rtol=1e-10, atol=1e-10
    )
    a = knorms.LayerNorm((3, 3, 6), epsilon=1e-5, dtype="float64")(tf.constant(x)).numpy()
    np.testing.assert_allclose(
        to_nchw(a), norms.LayerNorm((6, 3, 3)).double()(xc).detach().numpy(), rtol=1e-10, atol=1e-10
    )


def test_ghost_batch_norm_twins_agree():
    x = rand((8, 2, 2, 3))
    pt = norms.GhostBatchNorm(3, virtual_batch_size=4).double()
    kt = knorms.GhostBatchNorm(4, momentum=0.9, epsilon=1e-5, dtype="float64")
    a = kt(tf.constant(x), training=True).numpy()
    b = pt(torch.as_tensor(to_nchw(x))).detach().numpy()
    np.testing.assert_allclose(to_nchw(a), b, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(kt.moving_mean.numpy(), pt.running_mean.numpy(), rtol=1e-10)
    whole = knorms.BatchNorm(epsilon=1e-5, dtype="float64")(
        tf.constant(x[:4]), training=True
    ).numpy()
    np.testing.assert_allclose(a[:4], whole, rtol=1e-10, atol=1e-10)


def test_keras_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="divisible"):
        knorms.GroupNorm(4)(tf.zeros((2, 3, 3, 6)))
    with pytest.raises(ValueError, match="normalized_shape"):
        knorms.LayerNorm((3, 5))(tf.zeros((2, 3, 6)))
    with pytest.raises(ValueError, match="momentum"):
        knorms.BatchNorm(momentum=1.5)
    with pytest.raises(ValueError, match="virtual_batch_size"):
        knorms.GhostBatchNorm(1)
    with pytest.raises(ValueError, match="kind"):
        knorms.moments(np.zeros((2, 2, 2, 2)), "nope")


# ------------------------------------------------------------------ model builders with norm=


@pytest.mark.parametrize("norm", [None, "batch", "ghost", "layer", "group", "instance"])
@pytest.mark.parametrize("position", ["before", "after"])
def test_model_twins_with_norm_agree(norm, position):
    from godeep import models
    from godeep.keras import models as kmodels

    torch.manual_seed(0)
    x = rand((8, 1, 8, 8))
    extra = dict(virtual_batch_size=4) if norm else {}
    for pt, kt, inp, kin in (
        (
            models.mlp(
                64, 16, 3, 10, "relu", dtype="float64", norm=norm, norm_position=position, **extra
            ),
            kmodels.mlp(
                64, 16, 3, 10, "relu", dtype="float64", norm=norm, norm_position=position, **extra
            ),
            x.reshape(8, 64),
            x.reshape(8, 64),
        ),
        (
            models.convnet(
                channels=(8, 8),
                hidden=16,
                norm=norm,
                norm_position=position,
                dtype="float64",
                **extra,
            ),
            kmodels.convnet(
                channels=(8, 8),
                hidden=16,
                norm=norm,
                norm_position=position,
                dtype="float64",
                **extra,
            ),
            x,
            np.ascontiguousarray(x.transpose(0, 2, 3, 1)),
        ),  # NCHW -> NHWC
    ):
        if norm == "instance" and kin.ndim == 2:
            continue
        assert [layer.name for layer in kt.layers] == [n for n, _ in pt.named_children()]
        assert sum(int(np.prod(w.shape)) for w in kt.trainable_weights) == sum(
            p.numel() for p in pt.parameters()
        )
        kmodels.copy_from_torch(kt, pt)
        for training in (True, False):  # a training-mode call updates the running statistics first
            pt.train(training)
            a = pt(torch.as_tensor(inp)).detach().numpy()
            b = kt(tf.constant(kin), training=training).numpy()
            np.testing.assert_allclose(b, a, rtol=1e-8, atol=1e-8)
            if norm in (
                "batch",
                "ghost",
            ):  # the stored variances differ by Bessel's factor: convert
                for layer in kt.layers:
                    if layer.name.startswith("norm"):
                        layer.moving_variance.assign(
                            dict(pt.named_children())[layer.name].running_var.numpy()
                        )


def test_mlp_without_norm_is_unchanged():
    from godeep import models
    from godeep.keras import models as kmodels

    assert [n for n, _ in models.mlp(4, 5, 2, 3).named_children()] == [
        "fc1",
        "act1",
        "fc2",
        "act2",
        "out",
    ]
    assert [l.name for l in kmodels.mlp(4, 5, 2, 3).layers] == ["fc1", "act1", "fc2", "act2", "out"]
    assert [n for n, _ in models.mlp(4, 5, 1, 3, norm="batch").named_children()] == [
        "fc1",
        "norm1",
        "act1",
        "out",
    ]
    assert [
        n for n, _ in models.mlp(4, 5, 1, 3, norm="layer", norm_position="after").named_children()
    ] == ["fc1", "act1", "norm1", "out"]
    with pytest.raises(ValueError, match="norm must be"):
        models.mlp(4, 5, 1, 3, norm="batchnorm")
    with pytest.raises(ValueError, match="norm_position"):
        kmodels.convnet(norm="batch", norm_position="middle")


def test_ghost_batch_norm_ragged_last_sub_batch():
    x = rand((10, 3, 3, 2))
    pt = norms.GhostBatchNorm(2, virtual_batch_size=4).double()
    kt = knorms.GhostBatchNorm(4, momentum=0.9, epsilon=1e-5, dtype="float64")
    a = kt(tf.constant(x), training=True).numpy()
    np.testing.assert_allclose(
        to_nchw(a), pt(torch.as_tensor(to_nchw(x))).detach().numpy(), rtol=1e-10, atol=1e-10
    )
    np.testing.assert_allclose(kt.moving_mean.numpy(), pt.running_mean.numpy(), rtol=1e-10)


def test_builders_reject_stray_keywords():
    from godeep import models
    from godeep.keras import models as kmodels

    for build in (models.mlp, kmodels.mlp):
        with pytest.raises(TypeError, match="unexpected"):
            build(4, 5, 1, 3, inti=0.1)
        with pytest.raises(TypeError, match="pass norm"):
            build(4, 5, 1, 3, groups=2)
    with pytest.raises(TypeError, match="unexpected"):
        models.convnet(norm="group", group=2)
