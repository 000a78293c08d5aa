"""The PyTorch and Keras twins compute the same numbers (models, signals, training loops).

Convention converted: a Linear weight (out, in) is a Dense kernel (in, out).
"""

import numpy as np
import pytest
import torch

import godeep
from godeep import data, models, signals, train

kmodels = pytest.importorskip("godeep.keras.models")
ksignals = pytest.importorskip("godeep.keras.signals")
ktrain = pytest.importorskip("godeep.keras.train")


def twins(activation="tanh", depth=4, width=16, init=0.5, dtype="float64", seed=0):
    godeep.seed_everything(seed)
    pt = models.mlp(12, width, depth, 5, activation, init=init, dtype=dtype)
    tf_model = kmodels.mlp(12, width, depth, 5, activation, dtype=dtype)
    kmodels.copy_from_torch(tf_model, pt)
    return pt, tf_model


def test_keras_mlp_structure_matches():
    pt, tf_model = twins(depth=3)
    assert [l.name for l in tf_model.layers] == [n for n, _ in pt.named_children()]
    assert tf_model.count_params() == sum(p.numel() for p in pt.parameters())
    x = np.random.default_rng(0).standard_normal((7, 12))
    np.testing.assert_allclose(
        np.asarray(tf_model(x)), pt(torch.as_tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12
    )


def test_keras_mlp_bad_arguments_match():
    with pytest.raises(ValueError, match="activation"):
        kmodels.mlp(4, 4, 2, 2, "swish")
    with pytest.raises(TypeError, match="init"):
        kmodels.mlp(4, 4, 2, 2, init="he")


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "linear"])
@pytest.mark.parametrize("with_labels", [False, True])
def test_record_parity(activation, with_labels):
    pt, tf_model = twins(activation)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 12))
    y = rng.integers(0, 5, 32) if with_labels else None
    a = signals.record(pt, x, y, keep=True)
    b = ksignals.record(tf_model, x, y, keep=True)
    assert a.names == b.names
    for field in ("mean", "std", "grad_std", "saturated", "dead", "unit_std"):
        np.testing.assert_allclose(
            b.column(field), a.column(field), rtol=1e-7, atol=1e-12
        )  # Keras clips log-softmax at ~1e-7 relative
    np.testing.assert_allclose(
        b.weight_column("grad_norm"), a.weight_column("grad_norm"), rtol=1e-7
    )
    np.testing.assert_allclose(b.weight_column("norm"), a.weight_column("norm"), rtol=1e-12)
    assert b.loss == pytest.approx(a.loss, rel=1e-10)
    np.testing.assert_allclose(b.activations["act2"], a.activations["act2"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("optimizer, momentum", [("sgd", 0.0), ("sgd", 0.9), ("adam", 0.0)])
def test_fit_parity(optimizer, momentum):
    ds = data.digits().subset(200, 50)
    godeep.seed_everything(0)
    pt = models.mlp(64, 32, 3, 10, "tanh", init=0.15, dtype="float64")
    tf_model = kmodels.mlp(64, 32, 3, 10, "tanh", dtype="float64")
    kmodels.copy_from_torch(tf_model, pt)
    lr = 0.01 if optimizer == "adam" else 0.1
    m1, m2 = signals.TrainingMonitor(every=3), ksignals.TrainingMonitor(every=3)
    h1 = train.fit(
        pt,
        ds,
        epochs=2,
        lr=lr,
        batch_size=32,
        optimizer=optimizer,
        momentum=momentum,
        seed=4,
        monitor=m1,
    )
    h2 = ktrain.fit(
        tf_model,
        ds,
        epochs=2,
        lr=lr,
        batch_size=32,
        optimizer=optimizer,
        momentum=momentum,
        seed=4,
        monitor=m2,
    )
    # SGD matches to rounding. Adam differs by ~1e-4: Keras adds epsilon to sqrt(v) before the
    # bias correction ("epsilon hat" of Kingma & Ba, Algorithm 1 footnote), PyTorch after it.
    rtol = 5e-3 if optimizer == "adam" else 1e-6
    np.testing.assert_allclose(h2.step_loss, h1.step_loss, rtol=rtol)
    np.testing.assert_allclose(h2.train_loss, h1.train_loss, rtol=rtol)
    # Accuracy is a step function of the logits, so it is equal wherever no test example's top-2
    # margin is smaller than the difference of the logits: measured (seed 0, 50 test digits),
    # the final logits agree to 3e-7 (SGD) and 8e-4 (Adam) while the smallest margin is 4e-3
    # (SGD, momentum 0.9) and 4e-2 (Adam). Checked here, then the accuracies are equal.
    x_test = ds.x_test.astype("float64")
    a, b = pt(torch.as_tensor(x_test)).detach().numpy(), np.asarray(tf_model(x_test))
    top2 = np.sort(a, axis=1)[:, -2:]
    assert np.abs(a - b).max() < (top2[:, 1] - top2[:, 0]).min() / 2
    np.testing.assert_array_equal(h2.test_acc, h1.test_acc)
    assert m1.steps == m2.steps == list(range(0, 14, 3))
    np.testing.assert_allclose(m2.array("grad_norm"), m1.array("grad_norm"), rtol=rtol)
    np.testing.assert_allclose(m2.array("update_ratio"), m1.array("update_ratio"), rtol=10 * rtol)


def test_fit_mse_parity_and_learning():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 12))
    # a regression task: predict the first 5 inputs
    from types import SimpleNamespace

    ds = SimpleNamespace(x_train=x, y_train=x[:, :5], x_test=x[:32], y_test=x[:32, :5])
    pt, tf_model = twins("linear", depth=1, width=12, init=0.2)
    h1 = train.fit(pt, ds, epochs=5, lr=0.05, batch_size=16, loss="mse")
    h2 = ktrain.fit(tf_model, ds, epochs=5, lr=0.05, batch_size=16, loss="mse")
    np.testing.assert_allclose(h2.step_loss, h1.step_loss, rtol=1e-6)
    np.testing.assert_allclose(h2.test_loss, h1.test_loss, rtol=1e-6)
    assert h1.train_loss[-1] < 0.5 * h1.step_loss[0]


def test_fit_bad_arguments():
    ds = data.digits().subset(50, 10)
    m = models.mlp(64, 8, 1, 10)
    for kwargs, fragment in [
        (dict(epochs=0), "epochs"),
        (dict(lr=-1.0), "lr"),
        (dict(batch_size=0), "batch_size"),
        (dict(optimizer="rmsprop"), "optimizer"),
        (dict(loss="hinge"), "loss"),
    ]:
        with pytest.raises(ValueError, match=fragment):
            train.fit(m, ds, **kwargs)
        with pytest.raises(ValueError, match=fragment):
            ktrain.fit(kmodels.mlp(64, 8, 1, 10), ds, **kwargs)


def test_progress_quiet_when_disabled(monkeypatch):
    monkeypatch.setenv("GODEEP_PROGRESS", "0")
    items = [1, 2]
    assert train.progress(items) is items
    monkeypatch.setenv("GODEEP_PROGRESS", "1")
    assert list(train.progress(items)) == items


@pytest.mark.parametrize("init", [None, 0.1, "uniform"])
def test_keras_layers_get_independent_weights(init):
    # Keras 3 reuses the seed of an unseeded initializer instance: every layer must still differ.
    import keras

    if init == "uniform":
        init = keras.initializers.RandomUniform(-0.1, 0.1)
    godeep.seed_everything(0)
    m = kmodels.mlp(16, 16, 3, 16, init=init)
    kernels = [m.get_layer(n).kernel.numpy() for n in ("fc2", "fc3", "out")]
    assert not np.allclose(kernels[0], kernels[1]) and not np.allclose(kernels[1], kernels[2])
    godeep.seed_everything(0)
    again = kmodels.mlp(16, 16, 3, 16, init=init)
    np.testing.assert_array_equal(
        again.get_layer("fc2").kernel.numpy(), kernels[0]
    )  # yet reproducible


# ------------------------------------------------------------------ residual MLPs: lesions, path gradients (5.6)


def trained_resmlp_twins(plain: bool, dtype: str = "float32", depth: int = 6):
    """A PyTorch residual_mlp with batch norm, briefly trained (so that its BN statistics are
    not the defaults), in eval mode, and its Keras copy."""
    from godeep import resmlp

    kresmlp = pytest.importorskip("godeep.keras.resmlp")
    ds = data.digits().subset(400, 200)
    godeep.seed_everything(0)
    pt = resmlp.residual_mlp(64, 32, depth, 10, plain=plain, batch_norm=True, dtype=dtype)
    train.fit(pt, ds, epochs=1, lr=1e-3, optimizer="adam", batch_size=32, seed=0)
    pt.eval()
    km = kmodels.copy_from_torch(
        kresmlp.residual_mlp(64, 32, depth, 10, plain=plain, batch_norm=True, dtype=dtype), pt
    )
    return ds, pt, km


@pytest.mark.parametrize("plain", [False, True])
def test_lesion_study_parity(plain):
    from godeep import resmlp

    kresmlp = pytest.importorskip("godeep.keras.resmlp")
    ds, pt, km = trained_resmlp_twins(plain)
    names = list(resmlp.blocks(pt))
    assert list(kresmlp.blocks(km)) == names
    a = signals.lesion_study(pt, names, lambda m: train.evaluate(m, ds.x_test, ds.y_test)[1])
    b = ksignals.lesion_study(km, names, lambda m: ktrain.evaluate(m, ds.x_test, ds.y_test)[1])
    assert list(a) == list(b) == ["none"] + names
    np.testing.assert_allclose(
        list(b.values()), list(a.values()), atol=1.01 / len(ds.y_test)
    )  # float32: at most one flip
    assert len(set(a.values())) > 2  # the lesions do change the accuracy
    # several blocks at once, same outputs (float32 rounding)
    x = ds.x_test[:50]
    with signals.Lesioned(pt, names[1::2]), ksignals.Lesioned(km, names[1::2]):
        np.testing.assert_allclose(
            np.asarray(km(x, training=False)),
            pt(torch.as_tensor(x, dtype=torch.float32)).detach().numpy(),
            rtol=1e-4,
            atol=1e-4,
        )
    np.testing.assert_allclose(
        np.asarray(km(x, training=False)),
        pt(torch.as_tensor(x, dtype=torch.float32)).detach().numpy(),
        rtol=1e-4,
        atol=1e-4,
    )


def test_path_gradient_norms_parity():
    from godeep import resmlp

    kresmlp = pytest.importorskip("godeep.keras.resmlp")
    ds, pt, km = trained_resmlp_twins(False, dtype="float64", depth=8)
    x, y = ds.x_test[:64], ds.y_test[:64]
    for length in (0, 1, 3, 8):
        a = resmlp.path_gradient_norms(pt, x, y, length, samples=4, seed=length)
        b = kresmlp.path_gradient_norms(km, x, y, length, samples=4, seed=length)
        np.testing.assert_allclose(b, a, rtol=1e-9)
    assert (
        a[0] < resmlp.path_gradient_norms(pt, x, y, 0, samples=1)[0]
    )  # the long path carries less
    assert all(blk.route == "both" for blk in kresmlp.blocks(km).values())


def test_input_gradients_parity_shattered():
    """A shattered gradient (24-block feed-forward net with batch norm, width 200) amplifies
    rounding differences; in float64 both frameworks still agree to 1e-8 of its largest value
    (the setting of the shattered-gradients section, moved from its notebook)."""
    from godeep import resmlp

    kresmlp = pytest.importorskip("godeep.keras.resmlp")
    grid = np.linspace(-2, 2, 256)
    godeep.seed_everything(0)
    he = lambda w: torch.nn.init.kaiming_normal_(w, nonlinearity="relu")
    pt = resmlp.residual_mlp(1, 200, 24, 1, plain=True, batch_norm=True, init=he, dtype="float64")
    km = kmodels.copy_from_torch(
        kresmlp.residual_mlp(1, 200, 24, 1, plain=True, batch_norm=True, dtype="float64"), pt
    )
    a, b = signals.input_gradients(pt, grid), ksignals.input_gradients(km, grid)
    assert np.abs(b - a).max() < 1e-8 * np.abs(a).max()
    assert abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < 0.2  # it is shattered: neighbours disagree


def test_record_with_no_watched_layers_matches_torch():
    """layers=[]: only the weights' gradients (a probe with one output returns a tensor, not a list)."""
    pt, km = twins(depth=3)
    x, y = np.random.default_rng(2).standard_normal((9, 12)), np.arange(9) % 5
    a, b = signals.record(pt, x, y, layers=[]), ksignals.record(km, x, y, layers=[])
    assert a.layers == [] and b.layers == []
    np.testing.assert_allclose(
        b.weight_column("grad_norm"), a.weight_column("grad_norm"), rtol=1e-8
    )


def test_weight_layers_include_block_convolutions():
    """A Keras ResNet's blocks are custom layers: their convolutions are weight layers too, in the
    order and with the shapes of PyTorch's (what a monitor or record's weight columns list)."""
    from godeep import residual

    kresidual = pytest.importorskip("godeep.keras.residual")
    pt = residual.cifar_resnet(20, in_channels=1)
    km = kresidual.cifar_resnet(20, in_channels=1, input_size=8)
    a, b = models.weight_layers(pt), kmodels.weight_layers(km)
    assert len(a) == len(b) == 20 and list(b)[:2] == ["conv1", "layer1_0.conv1"]
    shapes = [tuple(m.weight.shape) for m in a.values()]
    to_torch = lambda k: (
        tuple(k.shape[::-1])
        if len(k.shape) == 2
        else (k.shape[3], k.shape[2], k.shape[0], k.shape[1])
    )
    assert [to_torch(l.kernel) for l in b.values()] == shapes
