"""The speed-ups of godeep.keras.train.fit and godeep.seed_everything keep every number.

``fit`` keeps one traced step per architecture and evaluates lazily; the reference is the
original code path, still there under ``reuse_traced_steps(False)`` (a new optimizer and a newly
traced step at every call, each epoch evaluated at once). Same seeds must give bit-identical
step losses, evaluations and final weights.
"""

import functools
import gc
import importlib
import weakref

import numpy as np
import pytest

import godeep
from godeep import data

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
from godeep.keras import (  # noqa: E402  (needs the framework checked above)
    models as kmodels,
    residual as kresidual,
    resmlp as kresmlp,
    train as ktrain,
)
from godeep.signals import TrainingMonitor  # noqa: E402


def digits_nhwc(n=96, n_test=40):
    d = data.digits(images=True).subset(n, n_test)
    return data.Dataset(
        data.to_channels_last(d.x_train),
        d.y_train,
        data.to_channels_last(d.x_test),
        d.y_test,
        "digits",
        10,
    )


def small_mlp(activation="relu", norm="batch"):
    return kmodels.mlp(64, 16, 3, 10, activation=activation, init=0.2, norm=norm)


def flat_digits():
    return data.digits().subset(100, 30)  # 4 batches of 32 per epoch, the last one of 4


def run(build, ds, seed, reuse, monitor=None, **kw):
    """seed_everything, build, fit: what a notebook does for one seed."""
    godeep.seed_everything(seed)
    model = build()
    with ktrain.reuse_traced_steps(reuse):
        h = ktrain.fit(model, ds, seed=seed, monitor=monitor, **kw)
    return h, model


def assert_same(ha, ma, hb, mb):
    assert ha.step_loss == hb.step_loss  # bit for bit: the same floats
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert getattr(ha, key) == getattr(hb, key), key
    assert len(ma.variables) == len(mb.variables)
    for va, vb in zip(ma.variables, mb.variables):
        np.testing.assert_array_equal(va.numpy(), vb.numpy())


CASES = {
    "mlp-batchnorm-sgd": (
        small_mlp,
        flat_digits,
        dict(epochs=2, lr=0.1, batch_size=32, momentum=0.9),
    ),
    "mlp-tanh-adam": (
        lambda: small_mlp("tanh", None),
        flat_digits,
        dict(epochs=2, lr=1e-2, batch_size=32, optimizer="adam"),
    ),
    "functional-resmlp-adam": (  # a functional model: its graph described by position
        lambda: kresmlp.residual_mlp(64, 16, 3, 10, batch_norm=True),
        flat_digits,
        dict(epochs=2, lr=1e-3, batch_size=32, optimizer="adam"),
    ),
    "resmlp-stochastic-depth-adam": (  # random drops: each model's seed state travels along
        lambda: kresmlp.residual_mlp(
            64, 16, 3, 10, batch_norm=True, stochastic_depth_prob=0.5, stochastic_depth_mode="batch"
        ),
        flat_digits,
        dict(epochs=2, lr=1e-3, batch_size=32, optimizer="adam"),
    ),
    # Adam on batch- and layer-normalized convolutions (constant folding off would change them)
    "convnet-batchnorm-adam": (
        lambda: kmodels.convnet(norm="batch"),
        digits_nhwc,
        dict(epochs=2, lr=1e-3, batch_size=32, optimizer="adam"),
    ),
    "convnet-layernorm-adam": (
        lambda: kmodels.convnet(norm="layer"),
        digits_nhwc,
        dict(epochs=2, lr=1e-3, batch_size=32, optimizer="adam"),
    ),
    # clipping is traced into the step
    "mlp-clip-norm-sgd": (
        small_mlp,
        flat_digits,
        dict(epochs=2, lr=0.1, batch_size=32, momentum=0.9, clip_grad_norm=0.5),
    ),
    "resnet8-agc-sgd": (
        lambda: kresidual.cifar_resnet(8, in_channels=1, widths=(4, 8, 8), input_size=8),
        digits_nhwc,
        dict(epochs=2, lr=0.1, batch_size=32, momentum=0.9, agc=0.01),
    ),
    "resnet8-sgd": (
        lambda: kresidual.cifar_resnet(8, in_channels=1, widths=(4, 8, 8), input_size=8),
        digits_nhwc,
        dict(epochs=2, lr=0.1, batch_size=32, momentum=0.9),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_reused_step_gives_the_numbers_of_the_original_path(case):
    build, make_data, kw = CASES[case]
    ds = make_data()
    ktrain.clear_step_cache()
    reference = [run(build, ds, seed, reuse=False, **kw) for seed in (0, 1)]
    # the first model becomes the architecture's master, the next ones borrow its traced step
    reused = [run(build, ds, seed, reuse=True, **kw) for seed in (0, 1, 0)]
    for (ha, ma), (hb, mb) in zip(reference + reference[:1], reused):
        assert_same(ha, ma, hb, mb)
    assert reference[0][0].step_loss != reference[1][0].step_loss  # the seeds do differ


def test_one_trace_per_architecture_and_a_new_one_for_another_architecture():
    ds = flat_digits()
    ktrain.clear_step_cache()
    kw = dict(epochs=1, lr=0.1, batch_size=32, momentum=0.9, eval_epochs=False)
    run(small_mlp, ds, 0, reuse=True, **kw)
    assert len(ktrain._CACHE) == 1
    (trainer,) = ktrain._CACHE.values()
    traces = trainer.step.experimental_get_tracing_count()
    assert traces >= 1
    run(small_mlp, ds, 1, reuse=True, **kw)
    assert trainer.step.experimental_get_tracing_count() == traces and len(ktrain._CACHE) == 1
    # another learning rate: the same step, the new rate (a variable of the optimizer)
    h_fast, _ = run(small_mlp, ds, 1, reuse=True, **{**kw, "lr": 0.3})
    assert trainer.step.experimental_get_tracing_count() == traces
    assert h_fast.step_loss == run(small_mlp, ds, 1, reuse=False, **{**kw, "lr": 0.3})[0].step_loss
    # the same shapes but another activation: another architecture, its own step and numbers
    h_tanh, _ = run(lambda: small_mlp("tanh"), ds, 1, reuse=True, **kw)
    assert len(ktrain._CACHE) == 2
    h_ref, _ = run(lambda: small_mlp("tanh"), ds, 1, reuse=False, **kw)
    assert h_tanh.step_loss == h_ref.step_loss
    # another momentum: another optimizer graph
    run(small_mlp, ds, 1, reuse=True, **{**kw, "momentum": 0.5})
    assert len(ktrain._CACHE) == 3


def test_training_one_model_leaves_an_earlier_model_of_the_architecture_alone():
    ds = flat_digits()
    ktrain.clear_step_cache()
    kw = dict(epochs=2, lr=0.1, batch_size=32, momentum=0.9)
    ha, ma = run(small_mlp, ds, 0, reuse=True, **kw)  # ma is the master
    before = [v.numpy().copy() for v in ma.variables]
    hb, mb = run(small_mlp, ds, 1, reuse=True, **kw)
    for v, value in zip(ma.variables, before):
        np.testing.assert_array_equal(v.numpy(), value)
    # the lazy evaluations of the first history, read after the second run, are the original ones
    ra, rma = run(small_mlp, ds, 0, reuse=False, **kw)
    assert_same(ra, rma, ha, ma)
    rb, rmb = run(small_mlp, ds, 1, reuse=False, **kw)
    assert_same(rb, rmb, hb, mb)
    for v, value in zip(ma.variables, before):  # reading them did not change the master either
        np.testing.assert_array_equal(v.numpy(), value)


def test_lazy_history_reads_like_the_eager_one():
    ds = flat_digits()
    kw = dict(epochs=3, lr=0.1, batch_size=32, momentum=0.9)
    h, _ = run(small_mlp, ds, 2, reuse=True, **kw)
    assert isinstance(h, ktrain.History)
    ref, _ = run(small_mlp, ds, 2, reuse=False, **kw)
    h_test_first, _ = run(small_mlp, ds, 2, reuse=True, **kw)
    assert h_test_first.test_acc == ref.test_acc  # reading the test split evaluates it alone
    assert len(h_test_first._pending["train"]) == 3 and not h_test_first._pending["test"]
    assert h_test_first.train_loss == ref.train_loss and not h_test_first._pending["train"]
    assert h.final == ref.final and len(h.test_acc) == 3
    assert h == ref  # the dataclass comparison reads every field
    quiet, _ = run(small_mlp, ds, 2, reuse=True, eval_epochs=False, **kw)
    assert quiet.step_loss == ref.step_loss and quiet.train_loss == [] and quiet.test_acc == []


def test_a_history_holding_too_many_weights_is_evaluated_at_once(monkeypatch):
    """Weight snapshots above LAZY_LIMIT_MB are evaluated when the fit ends (same numbers)."""
    ds = flat_digits()
    kw = dict(epochs=3, lr=0.1, batch_size=32, momentum=0.9)
    ref, _ = run(small_mlp, ds, 2, reuse=False, **kw)
    kept, _ = run(small_mlp, ds, 2, reuse=True, **kw)  # a few KB of weights: still pending
    assert len(kept._pending["train"]) == 3 and len(kept._pending["test"]) == 3
    monkeypatch.setattr(ktrain, "LAZY_LIMIT_MB", 0)
    settled, _ = run(small_mlp, ds, 2, reuse=True, **kw)
    assert not settled._pending["train"] and not settled._pending["test"]
    assert settled == ref == kept


def test_monitor_sees_the_callers_layer_names_and_the_original_values():
    ds = flat_digits()
    ktrain.clear_step_cache()
    kw = dict(epochs=1, lr=0.1, batch_size=32, momentum=0.9)
    run(small_mlp, ds, 0, reuse=True, **kw)  # a master exists: the next run borrows it
    mon, ref = TrainingMonitor(every=2), TrainingMonitor(every=2)
    run(small_mlp, ds, 1, reuse=True, monitor=mon, **kw)
    run(small_mlp, ds, 1, reuse=False, monitor=ref, **kw)
    assert list(mon.grad_norm) == ["fc1", "fc2", "fc3", "out"]
    assert (
        mon.steps == ref.steps
        and mon.grad_norm == ref.grad_norm
        and mon.update_ratio == ref.update_ratio
    )


def test_lazy_evaluation_leaves_the_call_options_of_traced_steps_alone():
    from tensorflow.python.eager import context

    ds = flat_digits()
    h, _ = run(small_mlp, ds, 0, reuse=True, epochs=1, lr=0.1, batch_size=32)
    options = tf.config.optimizer.get_experimental_options()
    call_options = context.context().function_call_options
    assert len(h.test_acc) == 1  # evaluates, with Grappler off for the inference pass only
    assert context.context().function_call_options is call_options
    assert tf.config.optimizer.get_experimental_options() == options


def test_reuse_traced_steps_checks_its_argument():
    with pytest.raises(TypeError):
        with ktrain.reuse_traced_steps("yes"):
            pass


def _draws():
    init = keras.initializers.GlorotUniform()  # unseeded: its seed comes from Python's random
    return (
        keras.random.normal((3,)).numpy(),  # Keras' global seed generator
        init((2, 2)).numpy(),
        tf.random.uniform(
            (3,)
        ).numpy(),  # a stateful eager op: TensorFlow's global seed and op counter
        np.random.rand(2),
    )


def test_seed_everything_does_not_clear_tensorflows_caches(monkeypatch):
    from tensorflow.python.eager import context

    tf.zeros(1).numpy()  # TensorFlow's runtime has started: it has caches to clear
    cleared = []
    monkeypatch.setattr(context.pywrap_tfe, "TFE_ContextClearCaches", cleared.append)
    keras.utils.set_random_seed(5)  # the call seed_everything used to make: it clears them
    assert len(cleared) == 1
    godeep.seed_everything(5)
    godeep.seed_everything(6)
    assert len(cleared) == 1


@pytest.mark.parametrize("seed", [7919, 104729])  # seeds used nowhere else: fresh stateful kernels
def test_seed_everything_draws_what_keras_set_random_seed_draws(seed):
    godeep.seed_everything(seed)
    got = _draws()
    keras.utils.set_random_seed(seed)  # clears the caches: its stateful kernel starts afresh too
    expected = _draws()
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    godeep.seed_everything(seed + 1)
    assert not np.array_equal(_draws()[0], got[0])


def _transformer_run(norm, seed, reuse, steps=12):
    from godeep.keras import transformer as ktransformer

    godeep.seed_everything(seed)
    model = ktransformer.TinyTransformer(
        10, d_model=16, n_heads=2, n_layers=2, max_len=8, norm=norm
    )
    with ktrain.reuse_traced_steps(reuse):
        curve = ktransformer.train_on_task(
            model, "sort", steps=steps, lr=3e-3, batch_size=8, seed=seed
        )
    return curve, model


def test_transformer_training_shares_one_step_per_architecture_with_the_same_numbers():
    ktrain.clear_step_cache()
    reference = {
        (n, s): _transformer_run(n, s, reuse=False) for n in ("post", "pre") for s in (0, 1)
    }
    order = [("post", 0), ("pre", 0), ("post", 1), ("pre", 1), ("post", 0)]
    shared = [(key, _transformer_run(*key, reuse=True)) for key in order]
    assert len(ktrain._SHARED) == 2  # one master per norm placement
    for key, (curve, model) in shared:
        ref_curve, ref_model = reference[key]
        np.testing.assert_array_equal(curve, ref_curve)
        for va, vb in zip(model.variables, ref_model.variables):
            np.testing.assert_array_equal(va.numpy(), vb.numpy())
    assert not np.array_equal(reference[("post", 0)][0], reference[("post", 1)][0])
    masters = {id(master): step for master, (step, _) in ktrain._SHARED.values()}
    assert all(step.experimental_get_tracing_count() == 1 for step in masters.values())
    master = shared[0][1][1]  # the first post-LN model: the master, with its own trained values
    assert id(master) in masters and id(shared[1][1][1]) in masters
    for va, vb in zip(master.variables, reference[("post", 0)][1].variables):
        np.testing.assert_array_equal(va.numpy(), vb.numpy())


def test_functional_models_of_one_architecture_share_one_step_and_are_not_kept():
    """A functional model used to be an architecture of its own (its graph's tensors and nodes
    were described by id): every trained model stayed in the step cache with its traced step
    (5.8's TensorFlow kernel: about 100 MB per 50-block net)."""
    ds = flat_digits()
    ktrain.clear_step_cache()
    kw = dict(epochs=2, lr=1e-3, batch_size=32, optimizer="adam")
    build = lambda: kresmlp.residual_mlp(64, 16, 3, 10, batch_norm=True)  # noqa: E731
    run(build, ds, 0, reuse=True, **kw)  # the master
    histories, gone = [], []
    for seed in (1, 2):
        h, model = run(build, ds, seed, reuse=True, **kw)
        histories.append(h)  # kept unread: its pending evaluations must not keep the model
        gone.append(weakref.ref(model))
        del model
    gc.collect()
    assert len(ktrain._CACHE) == 1
    assert all(ref() is None for ref in gone)
    assert histories[0].test_acc and histories[0].step_loss != histories[1].step_loss


def test_functional_graphs_wired_differently_are_different_architectures():
    def wired(last):
        inputs = keras.Input((4,))
        h1 = keras.layers.Dense(4, name="a")(inputs)
        h2 = keras.layers.Dense(4, name="b")(h1)
        return keras.Model(inputs, keras.layers.Add()([last(h1, h2), h2]))

    first = wired(lambda h1, h2: h1)
    assert ktrain._architecture(first) == ktrain._architecture(wired(lambda h1, h2: h1))
    assert ktrain._architecture(first) != ktrain._architecture(wired(lambda h1, h2: h2))


def test_random_layers_share_one_step_and_keep_their_own_drops():
    """Dropout / StochasticDepth layers own a SeedGenerator: it is described by its state, a
    model variable, so two seeds share one trace, and each model's drops are its own."""
    build, make_data, kw = CASES["resmlp-stochastic-depth-adam"]
    ds = make_data()
    ktrain.clear_step_cache()
    h0, _ = run(build, ds, 0, reuse=True, **kw)
    h1, _ = run(build, ds, 1, reuse=True, **kw)
    assert len(ktrain._CACHE) == 1
    assert h0.step_loss != h1.step_loss


# ------------------------------------------------------------- building a ResNet without a scratch trace

RULE_NETS = {
    "resnet20-A": lambda: kresidual.cifar_resnet(20, in_channels=1, widths=(4, 8, 8), input_size=8),
    "resnet14-plain": lambda: kresidual.cifar_resnet(
        14, plain=True, in_channels=1, widths=(4, 8, 8), input_size=8
    ),
    "resnet8-B-any-size": lambda: kresidual.cifar_resnet(
        8, in_channels=1, widths=(4, 8, 16), shortcut="B"
    ),
    **{
        f"resnet8-{order}": functools.partial(
            kresidual.cifar_resnet,
            8,
            in_channels=1,
            widths=(4, 8, 8),
            input_size=8,
            activation=order,
        )
        for order in ("original", "bn_after_add", "relu_before_add", "relu_preact", "full_preact")
    },
    "resnet8-C": lambda: kresidual.cifar_resnet(8, in_channels=2, widths=(4, 8, 8), shortcut="C"),
}


def _built(build, monkeypatch, rule: bool):
    """``build()`` after seeding, with (``rule``) or without the blocks' shape rule; also how many
    blocks went through Keras' default symbolic call (a trace into a scratch graph)."""
    blocks = importlib.import_module("godeep.keras.residual.blocks")

    traced = []
    default = keras.layers.Layer.compute_output_spec

    def counting(self, *args, **kwargs):
        if isinstance(self, blocks._Block):
            traced.append(self.name)
        return default(self, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(keras.layers.Layer, "compute_output_spec", counting)
        if not rule:
            m.setattr(blocks, "_SHAPE_RULE", False)
        godeep.seed_everything(5)
        return build(), traced


@pytest.mark.parametrize("name", sorted(RULE_NETS))
def test_resnet_built_by_shape_rule_is_the_net_built_by_a_symbolic_call(name, monkeypatch):
    fast, traced_fast = _built(RULE_NETS[name], monkeypatch, rule=True)
    slow, traced_slow = _built(RULE_NETS[name], monkeypatch, rule=False)
    assert traced_fast == [] and len(traced_slow) >= 3  # the rule did replace the trace
    assert [v.path for v in fast.variables] == [v.path for v in slow.variables]
    for a, b in zip(fast.variables, slow.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert [tuple(layer.output.shape) for layer in fast.layers] == [
        tuple(layer.output.shape) for layer in slow.layers
    ]
    x = np.random.default_rng(0).normal(size=(3, 8, 8, fast.inputs[0].shape[-1]))
    np.testing.assert_array_equal(fast(x, training=False).numpy(), slow(x, training=False).numpy())


def test_shape_rule_keeps_the_shortcut_shape_check_and_leaves_subclasses_to_keras(monkeypatch):
    blocks = importlib.import_module("godeep.keras.residual.blocks")

    x = keras.Input(shape=(8, 8, 4))
    with pytest.raises(ValueError, match="shortcut shape"):
        blocks.BasicBlock(4, 8, stride=1)(x)  # identity shortcut, 4 -> 8 channels

    class Doubled(blocks.BasicBlock):  # a subclass may change call: no rule, Keras traces it
        def call(self, x, training=None):
            return 2.0 * super().call(x, training=training)

    net, traced = _built(
        lambda: kresidual.cifar_resnet(8, in_channels=1, widths=(4, 8, 8), block=Doubled),
        monkeypatch,
        rule=True,
    )
    assert len(traced) == 3
    assert tuple(net.outputs[0].shape) == (None, 10)
