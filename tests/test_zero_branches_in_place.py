"""Section 5.2 builds each shortcut variant once and measures it twice: branches on, then with
the last BN's gamma of every branch zeroed in place (and BN's running statistics and the
dropout masks' random state put back). That must give exactly the weights and the signals of
a fresh build with ``zero_init_residual=True``, in both frameworks."""

import numpy as np
import pytest
import torch

import godeep
from godeep import residual, signals

VARIANTS = ("dropout_shortcut", "exclusive_gating", "conv_shortcut")
X = np.random.default_rng(0).standard_normal((8, 1, 8, 8)).astype("float32")
Y = np.arange(8) % 10


def _torch_signals(model, labels):
    blocks = set(model.blocks)
    names = ["relu"] + [n for n, m in model.named_modules() if m in blocks]
    labels = None if labels is None else torch.as_tensor(labels)
    report = signals.record(model, torch.as_tensor(X), labels, layers=names)
    return report.column("std"), report.column("grad_std")


@pytest.mark.parametrize("variant", VARIANTS)
def test_torch_in_place_zeroing_equals_a_fresh_build(variant):
    godeep.seed_everything(1)
    model = residual.cifar_resnet(14, in_channels=1, widths=(4, 8, 16), variant=variant)
    buffers = [b.clone() for b in model.buffers()]
    rng = torch.get_rng_state()
    _torch_signals(model, Y)  # the measurement with the branches on
    residual.zero_init_residual_(model)
    with torch.no_grad():
        for b, saved in zip(model.buffers(), buffers):
            b.copy_(saved)
    torch.set_rng_state(rng)
    weights = [t.clone() for t in model.state_dict().values()]
    reused = _torch_signals(model, None)

    godeep.seed_everything(1)
    fresh_model = residual.cifar_resnet(
        14, in_channels=1, widths=(4, 8, 16), variant=variant, zero_init_residual=True
    )
    for a, b in zip(weights, fresh_model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    fresh = _torch_signals(fresh_model, None)
    for a, b in zip(reused, fresh):
        np.testing.assert_array_equal(a, b)
    if variant == "dropout_shortcut":  # the restored random state matters
        torch.set_rng_state(rng)
        torch.rand(1)
        shifted = _torch_signals(fresh_model, None)
        assert not np.array_equal(shifted[1], fresh[1])


@pytest.mark.parametrize("variant", VARIANTS)
def test_keras_in_place_zeroing_equals_a_fresh_build(variant):
    kresidual = pytest.importorskip("godeep.keras.residual")
    ksignals = pytest.importorskip("godeep.keras.signals")
    x = np.transpose(X, (0, 2, 3, 1))

    def record(model, labels):
        names = ["relu"] + [b.name for b in kresidual.blocks(model)]
        report = ksignals.record(model, x, labels, layers=names)
        return report.column("std"), report.column("grad_std")

    def build(zero):
        return kresidual.cifar_resnet(
            14,
            in_channels=1,
            widths=(4, 8, 16),
            variant=variant,
            zero_init_residual=zero,
            input_size=8,
        )

    godeep.seed_everything(1)
    model = build(False)
    state = [v.numpy().copy() for v in model.non_trainable_variables]
    record(model, Y)  # the measurement with the branches on
    kresidual.zero_init_residual_(model)
    for v, saved in zip(model.non_trainable_variables, state):
        v.assign(saved)
    weights = [w.numpy().copy() for w in model.weights]
    reused = record(model, None)

    godeep.seed_everything(1)
    fresh_model = build(True)
    for a, b in zip(weights, fresh_model.weights, strict=True):
        np.testing.assert_array_equal(a, b.numpy())
    fresh = record(fresh_model, None)
    for a, b in zip(reused, fresh):
        np.testing.assert_array_equal(a, b)
