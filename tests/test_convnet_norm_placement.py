"""convnet(dense_norm=False): normalization after the convolutions only.

With ``dense_norm=True`` (the default: the tutorial article's MNIST convnet) a BatchNorm also follows
the dense layer, where a normalization batch of B examples gives only m = B values per
channel; for B = 2 the normalized values are +-1 (or 0), a one-bit code.
"""

import numpy as np
import pytest
import torch

from godeep import models, norms


def names(model) -> list:
    return [name for name, _ in model.named_children()]


@pytest.mark.parametrize("norm", ["batch", "ghost", "group", "layer", "instance"])
def test_dense_norm_false_drops_only_norm3(norm):
    default = names(models.convnet(norm=norm))
    conv_only = names(models.convnet(norm=norm, dense_norm=False))
    assert "norm3" in default and "norm3" not in conv_only
    assert [n for n in default if n != "norm3"] == conv_only
    assert {"norm1", "norm2"} <= set(conv_only)


def test_dense_norm_without_norm_changes_nothing():
    assert names(models.convnet(dense_norm=False)) == names(models.convnet())


def test_dense_norm_must_be_bool():
    with pytest.raises(TypeError, match="dense_norm"):
        models.convnet(norm="batch", dense_norm="no")


def test_instance_norm_after_the_dense_layer_is_the_identity():
    # what Section 3.5 discloses: a vector has no spatial positions to normalize over
    assert isinstance(models.convnet(norm="instance").norm3, torch.nn.Identity)


def test_two_values_per_channel_normalize_to_plus_minus_one():
    # x_hat_a = d / sqrt(d^2 + eps), d = (a - b) / 2: sign(a - b) unless |a - b| ~ sqrt(eps)
    layer = norms.GhostBatchNorm(64, virtual_batch_size=2, eps=1e-5).double().train()
    x = torch.randn(32, 64, dtype=torch.float64) * 3 + 1
    x[:2, 0] = 0.5  # two equal values in one channel of the first pair: normalized to 0
    y = layer(x).detach()
    a, b = x[0::2], x[1::2]
    d = (a - b) / 2
    expected = d / torch.sqrt(d**2 + 1e-5)
    assert torch.allclose(y[0::2], expected, atol=1e-9)
    assert torch.allclose(y[1::2], -expected, atol=1e-9)
    assert y[0, 0] == 0 and y[1, 0] == 0
    assert ((y.abs() - 1).abs() < 0.01).double().mean() > 0.98
    # with 4 values per channel the outputs are not confined to +-1
    wider = norms.GhostBatchNorm(64, virtual_batch_size=4).double().train()(x).detach().abs()
    assert (wider - 1).abs().max() > 0.1


def test_keras_twin_has_the_same_layers_and_outputs():
    kmodels = pytest.importorskip("godeep.keras.models")
    import tensorflow as tf

    for dense in (True, False):
        pt = models.convnet(channels=(8, 8), hidden=16, norm="batch", dense_norm=dense, dtype="float64")
        kt = kmodels.convnet(channels=(8, 8), hidden=16, norm="batch", dense_norm=dense, dtype="float64")
        assert [layer.name for layer in kt.layers] == names(pt)
        assert ("norm3" in names(pt)) == dense
        kmodels.copy_from_torch(kt, pt)
        x = np.random.default_rng(0).standard_normal((8, 1, 8, 8))
        a = pt.train()(torch.as_tensor(x)).detach().numpy()
        b = kt(tf.constant(x.transpose(0, 2, 3, 1)), training=True).numpy()
        np.testing.assert_allclose(b, a, rtol=1e-8, atol=1e-8)
    with pytest.raises(TypeError, match="dense_norm"):
        kmodels.convnet(norm="batch", dense_norm=1)
