"""Gradient clipping (godeep.clipping and its Keras twin) against the frameworks' own functions,
and the clip_grad_norm= / clip_grad_value= options of fit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from godeep import clipping
from godeep.data import Dataset
from godeep.models import mlp
from godeep.train import batches, fit


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: on a shared machine, torch's thread pool costs more than it saves here."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _params(seed: int, scale: float = 1.0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes = [(5, 4), (5,), (3, 2, 3, 3), (7,)]
    params = [torch.zeros(s, requires_grad=True) for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g) * scale
    return params


def _copy(params):
    out = []
    for p in params:
        q = p.detach().clone().requires_grad_(True)
        q.grad = p.grad.clone()
        out.append(q)
    return out


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 4.0, 1e3])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    ours, theirs = _params(0), _params(0)
    n_ours = clipping.clip_grad_norm_(ours, max_norm, norm_type)
    n_theirs = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    torch.testing.assert_close(n_ours, n_theirs, rtol=1e-6, atol=0)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-6, atol=1e-7)
    # the functional form gives the same numbers and leaves its inputs alone
    grads = [p.grad.clone() for p in _params(0)]
    clipped, n = clipping.clip_by_global_norm(grads, max_norm, norm_type)
    assert torch.equal(n, n_ours)
    for c, a, g0, g1 in zip(clipped, ours, grads, _params(0)):
        assert torch.equal(c, a.grad) and torch.equal(g0, g1.grad)


def test_clipped_norm_is_max_norm_and_small_gradients_are_untouched():
    params = _params(1, scale=10.0)
    before = clipping.global_norm([p.grad for p in params])
    assert clipping.clip_grad_norm_(params, 1.0) == before
    assert abs(float(clipping.global_norm([p.grad for p in params])) - 1.0) < 1e-5
    small = _params(2, scale=1e-3)
    grads = [p.grad.clone() for p in small]
    clipping.clip_grad_norm_(small, 1.0)
    assert all(torch.equal(p.grad, g) for p, g in zip(small, grads))


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nonfinite_gradients_as_torch(bad):
    ours, theirs = _params(3), _params(3)
    for ps in (ours, theirs):
        ps[1].grad[2] = bad
    n_ours = clipping.clip_grad_norm_(ours, 1.0)
    n_theirs = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    torch.testing.assert_close(n_ours, n_theirs, equal_nan=True)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.grad, b.grad, equal_nan=True)
    # raising leaves the gradients as they were, in both
    ours, theirs = _params(3), _params(3)
    for ps in (ours, theirs):
        ps[0].grad[0, 0] = bad
    kept = [p.grad.clone() for p in ours]
    with pytest.raises(RuntimeError, match="non-finite"):
        clipping.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    for p, g in zip(ours, kept):
        torch.testing.assert_close(p.grad, g, equal_nan=True)


def test_clip_grad_value_matches_torch():
    ours, theirs = _params(4), _params(4)
    ours[0].grad[0, 0] = theirs[0].grad[0, 0] = math.nan
    assert clipping.clip_grad_value_(ours, 0.3) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.3)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.grad, b.grad, equal_nan=True, rtol=0, atol=0)
    assert float(ours[2].grad.abs().max()) == pytest.approx(0.3)


def test_parameters_without_grad_and_empty_lists():
    p = torch.zeros(3, requires_grad=True)
    assert float(clipping.clip_grad_norm_([p], 1.0)) == 0.0
    assert float(torch.nn.utils.clip_grad_norm_([p], 1.0)) == 0.0
    assert float(clipping.global_norm([])) == 0.0


def test_bad_arguments():
    params = _params(0)
    with pytest.raises(ValueError, match="max_norm"):
        clipping.clip_grad_norm_(params, -1.0)
    with pytest.raises(TypeError, match="max_norm"):
        clipping.clip_grad_norm_(params, "1")
    with pytest.raises(ValueError, match="norm_type"):
        clipping.clip_grad_norm_(params, 1.0, norm_type=0)
    with pytest.raises(TypeError, match="parameters"):
        clipping.clip_grad_norm_(3, 1.0)
    with pytest.raises(TypeError, match=r"grads\[1\]"):
        clipping.clip_by_value([torch.ones(2), [1.0]], 1.0)
    with pytest.raises(ValueError, match="clip_value"):
        clipping.clip_grad_value_(params, math.nan)
    assert clipping.check_clip(None, None) == (None, None)
    assert clipping.check_clip(1, None) == (1.0, None)
    for args, err in [
        ((0.0, None), ValueError),
        ((None, -1.0), ValueError),
        ((True, None), TypeError),
        ((1.0, 1.0), ValueError),
        ((math.inf, None), ValueError),
    ]:
        with pytest.raises(err):
            clipping.check_clip(*args)


# -------------------------------------------------------------------------------- fit


def _data(n: int = 48) -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    return Dataset(x, y, x[:8], y[:8], name="toy", classes=3)


def _reference(model, data, lr, steps, batch_size, clip):
    """The loop of fit written out, with torch.nn.utils' clipping."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train)
    for _, idx in list(batches(len(x), batch_size, 10, 0))[:steps]:
        idx = torch.as_tensor(idx)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        if clip is not None:
            kind, c = clip
            if kind == "norm":
                torch.nn.utils.clip_grad_norm_(model.parameters(), c)
            else:
                torch.nn.utils.clip_grad_value_(model.parameters(), c)
        opt.step()


@pytest.mark.parametrize("clip", [None, ("norm", 0.05), ("value", 0.01)])
def test_fit_clips_as_torch_utils(clip):
    torch.manual_seed(0)
    model = mlp(6, 16, 3, 3, activation="tanh", init=1.5)
    ref = mlp(6, 16, 3, 3, activation="tanh", init=1.5)
    ref.load_state_dict(model.state_dict())
    kwargs = {} if clip is None else {f"clip_grad_{clip[0]}": clip[1]}
    fit(model, _data(), lr=0.5, batch_size=16, steps=6, eval_epochs=False, **kwargs)
    _reference(ref, _data(), 0.5, 6, 16, clip)
    for a, b in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_fit_clipping_changes_the_step_and_caps_its_length():
    torch.manual_seed(1)
    base = mlp(6, 16, 3, 3, activation="tanh", init=3.0)
    start = [p.detach().clone() for p in base.parameters()]
    runs = {}
    for c in (None, 0.1):
        model = mlp(6, 16, 3, 3, activation="tanh", init=3.0)
        model.load_state_dict(base.state_dict())
        fit(model, _data(), lr=1.0, batch_size=48, steps=1, eval_epochs=False, clip_grad_norm=c)
        runs[c] = float(
            torch.sqrt(
                sum(((p.detach() - s) ** 2).sum() for p, s in zip(model.parameters(), start))
            )
        )
    # the unclipped step is longer than the cap, the clipped one exactly at it (lr * c)
    assert runs[None] > 0.5
    assert runs[0.1] == pytest.approx(0.1, rel=1e-4)


def test_fit_rejects_bad_clipping():
    model = mlp(6, 8, 1, 3)
    for kwargs, err in [
        ({"clip_grad_norm": 0}, ValueError),
        ({"clip_grad_value": -0.1}, ValueError),
        ({"clip_grad_norm": "1"}, TypeError),
        ({"clip_grad_norm": 1, "clip_grad_value": 1}, ValueError),
    ]:
        with pytest.raises(err):
            fit(model, _data(), steps=1, eval_epochs=False, **kwargs)


# -------------------------------------------------------------------------------- Keras


def _tf():
    pytest.importorskip("keras")
    from godeep.keras import tf

    return tf


def _grads_np(seed: int, scale: float = 1.0) -> list[np.ndarray]:
    return [p.grad.numpy().astype(np.float32) for p in _params(seed, scale)]


@pytest.mark.parametrize("c", [0.5, 3.0, 1e3])
def test_keras_clip_by_global_norm_matches_tf(c):
    tf = _tf()
    from godeep.keras import clipping as kclip

    grads = [tf.constant(g) for g in _grads_np(5)]
    ours, n_ours = kclip.clip_by_global_norm(grads, c)
    theirs, n_theirs = tf.clip_by_global_norm(grads, c)
    np.testing.assert_allclose(n_ours.numpy(), n_theirs.numpy(), rtol=1e-6)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    # and PyTorch's convention, to its 1e-6 in the denominator
    t_clipped, t_n = clipping.clip_by_global_norm([torch.as_tensor(g) for g in _grads_np(5)], c)
    np.testing.assert_allclose(float(t_n), float(n_ours), rtol=1e-6)
    for a, b in zip(ours, t_clipped):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("norm_type", [1.0, math.inf])
def test_keras_global_norm_other_orders(norm_type):
    tf = _tf()
    from godeep.keras import clipping as kclip

    grads = _grads_np(6)
    flat = np.concatenate([g.ravel() for g in grads])
    expected = np.abs(flat).max() if norm_type == math.inf else np.abs(flat).sum()
    assert float(kclip.global_norm([tf.constant(g) for g in grads], norm_type)) == pytest.approx(
        expected, rel=1e-6
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_keras_nonfinite_norm_gives_nan_as_tf(bad):
    tf = _tf()
    from godeep.keras import clipping as kclip

    grads = _grads_np(7)
    grads[1][0] = bad
    ours, _ = kclip.clip_by_global_norm([tf.constant(g) for g in grads], 1.0)
    theirs, _ = tf.clip_by_global_norm([tf.constant(g) for g in grads], 1.0)
    for a, b in zip(ours, theirs):
        assert np.isnan(a.numpy()).all() and np.isnan(b.numpy()).all()


@pytest.mark.parametrize("kind", ["global_clipnorm", "clipvalue"])
def test_keras_clipping_equals_the_optimizers_step(kind):
    tf = _tf()
    import keras

    from godeep.keras import clipping as kclip

    grads_np = _grads_np(8, scale=5.0)
    c, lr = 0.7, 0.1
    variables = [keras.Variable(np.ones_like(g)) for g in grads_np]
    opt = keras.optimizers.SGD(learning_rate=lr, **{kind: c})
    opt.apply_gradients(zip([tf.constant(g) for g in grads_np], variables))
    grads = [tf.constant(g) for g in grads_np]
    clipped = (
        kclip.clip_by_global_norm(grads, c)[0]
        if kind == "global_clipnorm"
        else kclip.clip_by_value(grads, c)
    )
    for v, g in zip(variables, clipped):
        np.testing.assert_allclose(v.numpy(), 1.0 - lr * g.numpy(), rtol=1e-6, atol=1e-7)
    # the clip did something: the unclipped step is farther away
    assert any(np.abs(g).max() > c for g in grads_np)


def test_keras_bad_arguments():
    tf = _tf()
    from godeep.keras import clipping as kclip

    with pytest.raises(ValueError, match="max_norm"):
        kclip.clip_by_global_norm([tf.ones(2)], 0.0)
    with pytest.raises(TypeError, match="grads"):
        kclip.clip_by_global_norm(5, 1.0)
    with pytest.raises(TypeError, match=r"grads\[0\]"):
        kclip.clip_by_value(["a"], 1.0)


# -------------------------------------------------------------------------------- Keras fit


def _keras_pair(seed: int = 0, init: float = 1.5):
    """A PyTorch MLP and its Keras twin with the same weights (godeep.keras.convert)."""
    from godeep.keras.convert import copy_mlp_from_torch
    from godeep.keras.models import mlp as kmlp

    torch.manual_seed(seed)
    tnet = mlp(6, 16, 3, 3, activation="tanh", init=init)
    return tnet, copy_mlp_from_torch(kmlp(6, 16, 3, 3, activation="tanh"), tnet)


def _keras_reference(knet, data, lr, steps, batch_size, **clip):
    """The Keras loop written out with Keras' own clipping (the optimizer's global_clipnorm / clipvalue)."""
    tf = _tf()
    import keras

    opt = keras.optimizers.SGD(learning_rate=lr, **clip)
    for _, idx in list(batches(len(data.x_train), batch_size, 10, 0))[:steps]:
        with tf.GradientTape() as tape:
            out = knet(data.x_train[idx], training=True)
            loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(
                    data.y_train[idx], out, from_logits=True
                )
            )
        opt.apply_gradients(
            zip(tape.gradient(loss, knet.trainable_variables), knet.trainable_variables)
        )


@pytest.mark.parametrize("clip", [("norm", 0.05), ("value", 0.01)])
def test_keras_fit_clips_as_the_optimizer_and_as_pytorch(clip):
    _tf()
    from godeep.keras.train import fit as kfit

    kwargs = {f"clip_grad_{clip[0]}": clip[1]}
    tnet, knet = _keras_pair()
    _, kref = _keras_pair()
    fit(tnet, _data(), lr=0.5, batch_size=16, steps=6, eval_epochs=False, **kwargs)
    kfit(knet, _data(), lr=0.5, batch_size=16, steps=6, eval_epochs=False, **kwargs)
    _keras_reference(
        kref,
        _data(),
        0.5,
        6,
        16,
        **({"global_clipnorm": clip[1]} if clip[0] == "norm" else {"clipvalue": clip[1]}),
    )
    for a, b in zip(knet.trainable_variables, kref.trainable_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    t_weights = {
        n: m.weight.detach().numpy().T
        for n, m in tnet.named_modules()
        if isinstance(m, torch.nn.Linear)
    }
    for name, w in t_weights.items():
        np.testing.assert_allclose(knet.get_layer(name).kernel.numpy(), w, rtol=1e-4, atol=1e-5)
    # the clip mattered: without it the weights end elsewhere
    _, free = _keras_pair()
    kfit(free, _data(), lr=0.5, batch_size=16, steps=6, eval_epochs=False)
    assert (
        np.abs(free.get_layer("fc1").kernel.numpy() - knet.get_layer("fc1").kernel.numpy()).max()
        > 1e-3
    )


def test_keras_fit_clip_is_part_of_the_traced_steps_key():
    """A kept traced step is reused only with the same clip; the cached path and the original one agree."""
    _tf()
    from godeep.keras.train import clear_step_cache, fit as kfit, reuse_traced_steps

    clear_step_cache()
    results = {}
    for c in (None, 0.05, 0.2, 0.05):
        _, knet = _keras_pair()
        kfit(knet, _data(), lr=0.5, batch_size=16, steps=4, eval_epochs=False, clip_grad_norm=c)
        results.setdefault(c, []).append(knet.get_layer("fc1").kernel.numpy())
    assert not np.allclose(results[None][0], results[0.05][0])
    assert not np.allclose(results[0.05][0], results[0.2][0])
    assert np.array_equal(results[0.05][0], results[0.05][1])
    _, knet = _keras_pair()
    with reuse_traced_steps(False):
        kfit(knet, _data(), lr=0.5, batch_size=16, steps=4, eval_epochs=False, clip_grad_norm=0.05)
    np.testing.assert_allclose(
        knet.get_layer("fc1").kernel.numpy(), results[0.05][0], rtol=1e-6, atol=1e-7
    )


def test_keras_fit_rejects_bad_clipping():
    _tf()
    from godeep.keras.train import fit as kfit

    _, knet = _keras_pair()
    for kwargs, err in [
        ({"clip_grad_norm": 0}, ValueError),
        ({"clip_grad_value": "1"}, TypeError),
        ({"clip_grad_norm": 1, "clip_grad_value": 1}, ValueError),
    ]:
        with pytest.raises(err):
            kfit(knet, _data(), steps=1, eval_epochs=False, **kwargs)


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_a_monitor_logs_the_gradient_before_clipping(framework):
    """The documented behaviour of both loops: grad_norm is the raw gradient's, the update the clipped one's."""
    from godeep.signals import TrainingMonitor

    if framework == "keras":
        _tf()
        from godeep.keras.train import fit as run

        make = lambda: _keras_pair()[1]  # noqa: E731
    else:
        run = fit

        def make():
            torch.manual_seed(0)
            return mlp(6, 16, 3, 3, activation="tanh", init=1.5)

    logs = {}
    for c in (None, 0.01):
        monitor = TrainingMonitor(every=1)
        run(
            make(),
            _data(),
            lr=0.5,
            batch_size=48,
            steps=1,
            eval_epochs=False,
            monitor=monitor,
            clip_grad_norm=c,
        )
        logs[c] = monitor
    raw, clipped = logs[None], logs[0.01]
    assert raw.grad_norm["fc1"] == pytest.approx(clipped.grad_norm["fc1"], rel=1e-6)
    assert raw.grad_norm["fc1"][0] > 0.01
    update = clipped.update_ratio["fc1"][0] * clipped.weight_norm["fc1"][0]
    assert update <= 0.5 * 0.01 * (1 + 1e-5)  # lr times at most the clipped global norm
    assert raw.update_ratio["fc1"][0] * raw.weight_norm["fc1"][0] > 2 * update


# ------------------------------------------------- adaptive gradient clipping in fit (agc=)


def _agc_reference(model, data, lr, steps, batch_size, agc):
    """The loop of fit written out with AGC on every parameter but the last Linear's."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    skip = {id(p) for p in last.parameters()}
    x, y = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train)
    for _, idx in list(batches(len(x), batch_size, 10, 0))[:steps]:
        idx = torch.as_tensor(idx)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        clipping.adaptive_clip_grad_([p for p in model.parameters() if id(p) not in skip], agc)
        opt.step()


def test_classifier_split_is_the_last_module_with_parameters():
    from godeep.residual import nf_cifar_resnet

    model = mlp(6, 16, 3, 3)
    clipped, head = clipping.classifier_split(model)
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert [id(p) for p in head] == [id(p) for p in last.parameters()]
    assert len(clipped) + len(head) == len(list(model.parameters()))
    net = nf_cifar_resnet(8, in_channels=1)
    assert [id(p) for p in clipping.classifier_split(net)[1]] == [
        id(p) for p in net.fc.parameters()
    ]
    with pytest.raises(TypeError):
        clipping.classifier_split("model")
    with pytest.raises(ValueError):
        clipping.classifier_split(torch.nn.ReLU())


def test_fit_agc_is_the_reference_loop_and_changes_the_step():
    torch.manual_seed(0)
    model = mlp(6, 16, 3, 3, activation="tanh", init=1.5)
    ref = mlp(6, 16, 3, 3, activation="tanh", init=1.5)
    free = mlp(6, 16, 3, 3, activation="tanh", init=1.5)
    ref.load_state_dict(model.state_dict())
    free.load_state_dict(model.state_dict())
    fit(model, _data(), lr=0.5, batch_size=16, steps=6, eval_epochs=False, agc=0.01)
    _agc_reference(ref, _data(), 0.5, 6, 16, 0.01)
    fit(free, _data(), lr=0.5, batch_size=16, steps=6, eval_epochs=False)
    for a, b in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    # the clip mattered: without it the first layer ends elsewhere
    first = lambda net: next(net.parameters()).detach()  # noqa: E731
    assert float((first(model) - first(free)).abs().max()) > 1e-3


def test_fit_rejects_bad_agc():
    model = mlp(6, 8, 1, 3)
    for kwargs, err in [
        ({"agc": 0}, ValueError),
        ({"agc": "0.01"}, TypeError),
        ({"agc": 0.01, "clip_grad_norm": 1.0}, ValueError),
        ({"agc": 0.01, "clip_grad_value": 1.0}, ValueError),
    ]:
        with pytest.raises(err):
            fit(model, _data(), steps=1, eval_epochs=False, **kwargs)


def test_keras_classifier_split_is_the_last_layer_with_weights():
    _tf()
    from godeep.keras import clipping as kclip
    from godeep.keras.residual import nf_cifar_resnet as knf

    _, knet = _keras_pair()
    clipped, head = kclip.classifier_split(knet)
    last = [layer for layer in knet.layers if layer.trainable_weights][-1]
    assert [id(v) for v in head] == [id(v) for v in last.trainable_weights]
    assert len(clipped) + len(head) == len(knet.trainable_variables)
    net = knf(8, in_channels=1, input_size=8)
    assert [id(v) for v in kclip.classifier_split(net)[1]] == [
        id(v) for v in net.get_layer("fc").trainable_weights
    ]
    with pytest.raises(TypeError):
        kclip.classifier_split("model")


@pytest.mark.parametrize("reuse", [True, False])
def test_keras_fit_agc_matches_pytorch(reuse):
    _tf()
    from godeep.keras.train import fit as kfit, reuse_traced_steps

    tnet, knet = _keras_pair()
    _, free = _keras_pair()
    fit(tnet, _data(), lr=0.5, batch_size=16, steps=6, eval_epochs=False, agc=0.01)
    with reuse_traced_steps(reuse):
        kfit(knet, _data(), lr=0.5, batch_size=16, steps=6, eval_epochs=False, agc=0.01)
        kfit(free, _data(), lr=0.5, batch_size=16, steps=6, eval_epochs=False)
    for name, m in tnet.named_modules():
        if isinstance(m, torch.nn.Linear):
            np.testing.assert_allclose(
                knet.get_layer(name).kernel.numpy(),
                m.weight.detach().numpy().T,
                rtol=1e-4,
                atol=1e-5,
            )
    assert (
        np.abs(free.get_layer("fc1").kernel.numpy() - knet.get_layer("fc1").kernel.numpy()).max()
        > 1e-3
    )


def test_keras_fit_rejects_bad_agc():
    _tf()
    from godeep.keras.train import fit as kfit

    _, knet = _keras_pair()
    for kwargs, err in [
        ({"agc": 0}, ValueError),
        ({"agc": 0.01, "clip_grad_norm": 1.0}, ValueError),
    ]:
        with pytest.raises(err):
            kfit(knet, _data(), steps=1, eval_epochs=False, **kwargs)
