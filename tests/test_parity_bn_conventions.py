"""PyTorch's and Keras' BatchNorm conventions, converted: the check Section 3.3 describes.

Moved from the notebook (issue 17: a check that compares the two frameworks belongs in the
tests). Five training steps of ``torch.nn.BatchNorm2d`` and ``keras.layers.BatchNormalization``
on the same batches, then one inference pass on a test batch: with the defaults they differ by
more than 0.5; with momentum and epsilon converted, by more than 1e-5 but less than 1e-2 (Keras
averages biased variances); with Keras' stored variance converted too, by less than 1e-12.
"""

import numpy as np
import pytest
import torch

keras = pytest.importorskip("keras")

M = 16 * 4 * 4  # values per channel in each batch


def _batches():
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((16, 3, 4, 4)) * 2 + 1 for _ in range(5)]  # NCHW
    return batches, rng.standard_normal((16, 3, 4, 4)) * 2 + 1


def _nhwc(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1))


def _inference_gap(keras_layer, convert_variance: bool) -> float:
    """Largest difference of the inference outputs after five training steps in each framework."""
    batches, test = _batches()
    torch_layer = torch.nn.BatchNorm2d(3).double()
    for b in batches:
        torch_layer(torch.as_tensor(b))
        keras_layer(_nhwc(b), training=True)
    if convert_variance:  # Keras' average of biased variances -> PyTorch's unbiased one
        kept = 0.9 ** len(
            batches
        )  # the weight left on the initial 1; m/(m-1) scales the batch terms only
        biased = keras_layer.moving_variance.numpy()
        keras_layer.moving_variance.assign(kept + M / (M - 1) * (biased - kept))
        np.testing.assert_allclose(
            keras_layer.moving_variance.numpy(), torch_layer.running_var.numpy(), rtol=1e-12
        )
    torch_layer.eval()
    with torch.no_grad():
        ours = torch_layer(torch.as_tensor(test)).numpy()
    theirs = np.asarray(keras_layer(_nhwc(test), training=False)).transpose(0, 3, 1, 2)
    return float(np.abs(ours - theirs).max())


def _converted():
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, dtype="float64")


def test_default_settings_differ():
    assert _inference_gap(keras.layers.BatchNormalization(dtype="float64"), False) > 0.5


def test_momentum_and_epsilon_converted_leave_the_variance_gap():
    assert 1e-5 < _inference_gap(_converted(), False) < 1e-2


def test_everything_converted_agrees_to_rounding():
    assert _inference_gap(_converted(), True) < 1e-12


def test_stored_variance_biased_in_keras_unbiased_in_pytorch():
    x = np.array([[1.0], [2.0], [3.0], [6.0]])
    torch_bn = torch.nn.BatchNorm1d(1, momentum=1.0).double()
    keras_bn = keras.layers.BatchNormalization(momentum=0.0, dtype="float64")
    torch_bn(torch.as_tensor(x))
    keras_bn(x, training=True)
    assert abs(torch_bn.running_var.item() - 14 / 3) < 1e-12
    assert abs(float(keras_bn.moving_variance.numpy()[0]) - 3.5) < 1e-12
