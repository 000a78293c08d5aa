"""``PaddedConv2D``: PyTorch's padding in one TensorFlow op, the numbers of ``ZeroPadding2D`` + a
"valid" ``Conv2D`` bit for bit on TensorFlow's own kernels (forward, both gradients), and
PyTorch's numbers to rounding."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("keras")

import keras  # noqa: E402

from godeep.keras import tf  # noqa: E402
from godeep.keras.residual import PaddedConv2D  # noqa: E402

#: TensorFlow on its oneDNN kernels (``make rounding``); godeep.keras turns them off by default,
#: and on TensorFlow's own (Eigen) kernels the two forms give the same bits
ONEDNN = os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1"

CASES = [  # (batch, side, in, out, kernel, stride, pad, groups)
    (64, 8, 8, 8, 3, 1, 1, 1),
    (64, 8, 8, 16, 3, 2, 1, 1),
    (64, 4, 16, 16, 3, 1, 1, 1),
    (7, 9, 3, 5, 3, 2, 1, 1),
    (3, 7, 5, 4, 5, 1, 2, 1),
    (4, 8, 8, 8, 3, 2, 1, 2),  # grouped: padded first, then Keras' grouped conv
]


def _pair(case, dtype):
    n, side, c_in, c_out, k, stride, pad, groups = case
    rng = np.random.default_rng(sum(case))
    x = rng.standard_normal((n, side, side, c_in)).astype(dtype)
    kernel = rng.standard_normal((k, k, c_in // groups, c_out)).astype(dtype)
    conv = PaddedConv2D(
        c_out, k, pad=pad, strides=stride, groups=groups, use_bias=False, dtype=dtype
    )
    reference = keras.layers.Conv2D(
        c_out, k, strides=stride, groups=groups, use_bias=False, dtype=dtype
    )
    padding = keras.layers.ZeroPadding2D(pad, dtype=dtype)
    for layer in (conv, reference):
        layer.build(x.shape if layer is conv else padding.compute_output_shape(x.shape))
        layer.kernel.assign(kernel)
    return x, conv, lambda t: reference(padding(t)), reference.kernel


def _outputs_and_grads(f, x, kernel, traced: bool):
    def run(t):
        with tf.GradientTape() as tape:
            tape.watch(t)
            y = f(t)
            loss = tf.reduce_sum(y * tf.cos(y))  # a gradient that differs across the outputs
        return (y, *tape.gradient(loss, [t, kernel]))

    run = tf.function(run, autograph=False) if traced else run
    return [np.asarray(v) for v in run(tf.constant(x))]


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "traced"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c)))
def test_same_bits_as_zero_padding_then_a_valid_conv(case, dtype, traced):
    x, conv, reference, reference_kernel = _pair(case, dtype)
    ours = _outputs_and_grads(conv, x, conv.kernel, traced)
    theirs = _outputs_and_grads(reference, x, reference_kernel, traced)
    for name, a, b in zip(("output", "input gradient", "kernel gradient"), ours, theirs):
        assert a.shape == b.shape, name
        if ONEDNN:  # oneDNN's backward kernel for explicit padding adds in another order
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * np.abs(b).max(), err_msg=name)
        else:
            assert np.array_equal(a, b), f"{name}: max |diff| {np.max(np.abs(a - b))}"


def _op_types(f, x) -> list[str]:
    graph = tf.function(f, autograph=False).get_concrete_function(tf.constant(x)).graph
    return [op.type for op in graph.get_operations()]


def test_one_conv_op_and_no_pad_where_tensorflow_allows_it():
    x, conv, reference, _ = _pair(CASES[1], "float32")
    ours, theirs = _op_types(conv, x), _op_types(reference, x)
    assert "Pad" not in ours and ours.count("Conv2D") == 1
    assert "Pad" in theirs  # the two-layer form pays a Pad op (and a Slice in the backward pass)
    grouped_x, grouped, _, _ = _pair(CASES[-1], "float32")
    assert "Pad" in _op_types(grouped, grouped_x)  # grouped: padded first


def test_matches_pytorch_conv2d_padding():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 8, 8, 3)).astype("float32")
    w = rng.standard_normal((4, 3, 3, 3)).astype("float32")  # PyTorch (out, in, kh, kw)
    for stride in (1, 2):
        conv = PaddedConv2D(4, 3, pad=1, strides=stride, use_bias=False)
        conv.build(x.shape)
        conv.kernel.assign(w.transpose(2, 3, 1, 0))
        expected = torch.nn.functional.conv2d(
            torch.from_numpy(x).permute(0, 3, 1, 2), torch.from_numpy(w), stride=stride, padding=1
        )
        got = np.asarray(conv(x))
        np.testing.assert_allclose(got, expected.permute(0, 2, 3, 1).numpy(), atol=1e-5)
        assert conv.compute_output_shape(x.shape) == got.shape


def test_config_round_trip_and_pad_zero_is_a_valid_conv():
    conv = PaddedConv2D(4, 3, pad=2, strides=2, use_bias=False, name="c")
    clone = PaddedConv2D.from_config(conv.get_config())
    assert clone.pad == 2 and clone.strides == (2, 2) and clone.padding == "valid"
    assert clone.compute_output_shape((None, 8, 8, 3)) == (None, 5, 5, 4)
    plain = PaddedConv2D(4, 3)
    assert plain.compute_output_shape((1, 8, 8, 3)) == (1, 6, 6, 4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(pad=-1), "pad"),
        (dict(pad=1.5), "pad"),
        (dict(pad=1, padding="same"), "padding must be 'valid'"),
        (dict(pad=1, data_format="channels_first"), "channels-last"),
    ],
)
def test_bad_arguments_fail_clearly(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        PaddedConv2D(4, 3, **kwargs)


def test_keras_same_padding_pads_bottom_and_right_only_at_stride_2():
    """Why the class exists (4.2's text): Keras' "same" at stride 2 on an even side pads 0 top,
    1 bottom (and 0 left, 1 right), so every window sits one pixel lower and further right than
    PyTorch's padding=1 puts it."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 8, 8, 3)).astype("float32")
    same = keras.layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False)
    ours = PaddedConv2D(4, 3, pad=1, strides=2, use_bias=False)
    for layer in (same, ours):
        layer.build(x.shape)
    ours.kernel.assign(same.kernel)
    bottom_right = tf.nn.conv2d(
        tf.pad(x, [[0, 0], [0, 1], [0, 1], [0, 0]]), same.kernel, 2, "VALID"
    )
    np.testing.assert_allclose(np.asarray(same(x)), np.asarray(bottom_right), atol=1e-5)
    # PyTorch's windows start one pixel higher and further left: at stride 2 on an even side
    # they need one row and column of zeros on top and left only
    top_left = tf.nn.conv2d(tf.pad(x, [[0, 0], [1, 0], [1, 0], [0, 0]]), same.kernel, 2, "VALID")
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(top_left), atol=1e-5)
    assert not np.allclose(np.asarray(same(x)), np.asarray(ours(x)), atol=1e-3)
