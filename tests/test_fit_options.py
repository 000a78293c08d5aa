"""fit's ``steps`` and ``eval_epochs`` options, in both frameworks (PyTorch and its Keras twin)."""

import numpy as np
import pytest
import torch

import godeep
from godeep import data, models, train

kmodels = pytest.importorskip("godeep.keras.models")
ktrain = pytest.importorskip("godeep.keras.train")


def digits():
    return data.digits().subset(100, 30)  # 4 batches of 32 per epoch, the last one of 4


def pt_mlp(seed=0):
    godeep.seed_everything(seed)
    return models.mlp(64, 16, 2, 10, "tanh", init=0.2, dtype="float64")


def weights(model):
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("k", [1, 3])
def test_steps_equal_to_whole_epochs_train_as_epochs(k):
    ds = digits()
    a, b = pt_mlp(), pt_mlp()
    ha = train.fit(a, ds, epochs=k, lr=0.1, batch_size=32, momentum=0.9, seed=2)
    hb = train.fit(
        b, ds, epochs=7, lr=0.1, batch_size=32, momentum=0.9, seed=2, steps=4 * k
    )  # epochs unused
    assert hb.step_loss == ha.step_loss and len(hb.step_loss) == 4 * k
    assert hb.train_loss == ha.train_loss and hb.test_acc == ha.test_acc and len(hb.train_loss) == k
    for wa, wb in zip(weights(a), weights(b)):
        torch.testing.assert_close(wb, wa, rtol=0, atol=0)


def test_steps_stop_mid_epoch_and_continue_the_batch_order():
    ds = digits()
    full = train.fit(pt_mlp(), ds, epochs=2, lr=0.1, batch_size=32, seed=5)
    part = train.fit(pt_mlp(), ds, epochs=2, lr=0.1, batch_size=32, seed=5, steps=6)
    assert len(part.step_loss) == 6 and part.step_loss == full.step_loss[:6]
    assert (
        len(part.train_loss) == 1 and part.train_loss[0] == full.train_loss[0]
    )  # only complete epochs
    many = train.fit(
        pt_mlp(), ds, epochs=1, lr=0.1, batch_size=32, seed=5, steps=9
    )  # more than `epochs` allows
    assert len(many.step_loss) == 9 and many.step_loss[:8] == full.step_loss
    assert len(many.train_loss) == 2


def test_eval_epochs_false_skips_evaluation_only():
    ds = digits()
    a, b = pt_mlp(), pt_mlp()
    ha = train.fit(a, ds, epochs=2, lr=0.1, batch_size=32, seed=1)
    hb = train.fit(b, ds, epochs=2, lr=0.1, batch_size=32, seed=1, eval_epochs=False)
    assert hb.step_loss == ha.step_loss
    assert hb.train_loss == hb.train_acc == hb.test_loss == hb.test_acc == [] and hb.final == {}
    for wa, wb in zip(weights(a), weights(b)):
        torch.testing.assert_close(wb, wa, rtol=0, atol=0)


def test_epoch_plan():
    assert train.epoch_plan(100, 32, 3, None) == (3, 12)
    assert train.epoch_plan(100, 32, 3, 6) == (2, 6)
    assert train.epoch_plan(100, 32, 1, 8) == (2, 8)
    assert train.epoch_plan(96, 32, 5, 60) == (20, 60)


@pytest.mark.parametrize("fit_name", ["torch", "keras"])
def test_bad_options(fit_name):
    ds = digits()
    fit = train.fit if fit_name == "torch" else ktrain.fit
    model = (
        (lambda: models.mlp(64, 8, 1, 10))
        if fit_name == "torch"
        else (lambda: kmodels.mlp(64, 8, 1, 10))
    )
    for steps in (0, -3, 2.5, True, "10"):
        with pytest.raises(ValueError, match="steps"):
            fit(model(), ds, steps=steps)
    for flag in (1, "no", None):
        with pytest.raises(TypeError, match="eval_epochs"):
            fit(model(), ds, eval_epochs=flag)


def test_keras_steps_and_eval_epochs_match_pytorch():
    ds = digits()
    pt = pt_mlp(3)
    tf_model = kmodels.copy_from_torch(kmodels.mlp(64, 16, 2, 10, "tanh", dtype="float64"), pt)
    kwargs = dict(epochs=1, lr=0.1, batch_size=32, momentum=0.9, seed=4, steps=7)
    h1 = train.fit(pt, ds, **kwargs)
    h2 = ktrain.fit(tf_model, ds, **kwargs)
    assert (
        len(h1.step_loss) == len(h2.step_loss) == 7
        and len(h1.train_loss) == len(h2.train_loss) == 1
    )
    np.testing.assert_allclose(h2.step_loss, h1.step_loss, rtol=1e-6)
    np.testing.assert_allclose(h2.train_loss, h1.train_loss, rtol=1e-6)
    h3 = train.fit(pt, ds, eval_epochs=False, **kwargs)
    h4 = ktrain.fit(tf_model, ds, eval_epochs=False, **kwargs)  # continues from the trained weights
    np.testing.assert_allclose(h4.step_loss, h3.step_loss, rtol=1e-6)
    assert h3.train_loss == h4.train_loss == []
