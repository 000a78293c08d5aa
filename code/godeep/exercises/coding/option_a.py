"""Chapter 4: the option-A shortcut, in PyTorch (NCHW) or Keras (NHWC)."""

from __future__ import annotations

from .. import Feedback, correct, exercise, framework_of, wrong

# ---------------------------------------------------------------------------------------------
# 3. Implement the option-A shortcut
# ---------------------------------------------------------------------------------------------


def _option_a_solution():
    from ..solutions.ch4_torch import shortcut_a

    return shortcut_a


def _wrong_option_a(kind: str):
    def shortcut_a(x, out_channels: int, stride: int):
        import torch
        import torch.nn.functional as F

        if kind == "no-subsample":
            return F.pad(x, (0, 0, 0, 0, 0, out_channels - x.shape[1]))
        if kind == "avgpool":
            x = F.avg_pool2d(x, stride) if stride > 1 else x
            return F.pad(x, (0, 0, 0, 0, 0, out_channels - x.shape[1]))
        if kind == "repeat":
            x = x[:, :, ::stride, ::stride]
            return torch.cat([x] * (out_channels // x.shape[1]), dim=1)
        if kind == "pad-spatial":
            x = x[:, :, ::stride, ::stride]
            return F.pad(x, (0, out_channels - x.shape[1]))
        raise AssertionError(kind)

    return shortcut_a


_OPTION_A_FORBIDDEN = (
    ("godeep.residual", "ZeroPadShortcut", "godeep.residual.ZeroPadShortcut"),
    ("godeep.residual", "make_shortcut", "godeep.residual.make_shortcut"),
    ("godeep.keras.residual", "ZeroPadShortcut", "godeep.keras.residual.ZeroPadShortcut"),
)


def _check_option_a(fn) -> Feedback:
    """PyTorch answers get NCHW tensors; an answer whose code uses Keras/TF gets NHWC tensors."""
    import numpy as np
    import torch

    reference = _option_a_solution()  # equal to godeep.residual.ZeroPadShortcut (tested)
    if not callable(fn) or isinstance(fn, type) or framework_of(type(fn)) is not None:
        return wrong("give a function shortcut_a(x, out_channels, stride) returning a tensor.")
    keras_answer = framework_of(fn) == "keras"
    if keras_answer:
        import keras

        layout, subsample, axis = (
            "(N, H / stride, W / stride, out_channels)",
            "x[:, ::stride, ::stride, :]",
            "the last axis (channels, NHWC)",
        )
    else:
        layout, subsample, axis = (
            "(N, out_channels, H / stride, W / stride)",
            "x[:, :, ::stride, ::stride]",
            "dim 1 (F.pad pads the last dimensions first)",
        )
    torch.manual_seed(0)
    for c_in, c_out, stride, size in ((16, 32, 2, 8), (8, 8, 1, 5), (4, 16, 2, 6)):
        x = torch.randn(3, c_in, size, size)
        expected = reference(x, c_out, stride).numpy()
        if keras_answer:
            got = fn(keras.ops.convert_to_tensor(x.numpy().transpose(0, 2, 3, 1)), c_out, stride)
        else:
            got = fn(x.clone(), c_out, stride)
        if got is None:
            return Feedback(
                False,
                "your function returns None: write its body and run the cell again.",
                answered=False,
            )
        if keras_answer:
            try:
                got = np.asarray(keras.ops.convert_to_numpy(got), dtype=np.float32)
            except (TypeError, ValueError):
                return wrong(
                    f"your function returned {type(got).__name__}: return a tensor of shape {layout}."
                )
            expected = expected.transpose(0, 2, 3, 1)
        elif isinstance(got, torch.Tensor):
            got = got.detach().numpy()
        else:
            return wrong(
                f"your function returned {type(got).__name__}: return a tensor of shape {layout}."
            )
        if tuple(got.shape) != tuple(expected.shape):
            spatial = got.shape[1:3] if keras_answer else got.shape[2:4]
            if stride > 1 and size in spatial:
                return wrong(
                    f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}: subsample the "
                    f"feature map by the stride ({subsample})."
                )
            return wrong(
                f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}: the new channels are "
                f"zeros appended along {axis}."
            )
        if not np.allclose(got, expected):
            extra = got[..., c_in:] if keras_answer else got[:, c_in:]
            if np.count_nonzero(extra) > 0:
                return wrong(
                    "the extra channels must be zeros: option A adds no information and no parameters."
                )
            return wrong(
                f"the kept channels differ from {subsample}: option A subsamples (keeps every "
                "stride-th pixel), it does not average."
            )
    twin = "its Keras twin (NHWC)" if keras_answer else "godeep.residual.ZeroPadShortcut"
    return correct(f"your shortcut matches {twin}: subsample by the stride, append zero channels.")


def _option_a_keras_solution():
    from ..solutions.ch4_keras import shortcut_a

    return shortcut_a


def _option_a_keras_no_subsample(x, out_channels: int, stride: int):
    import keras

    return keras.ops.pad(x, ((0, 0), (0, 0), (0, 0), (0, out_channels - x.shape[-1])))


def _option_a_keras_channels_first(x, out_channels: int, stride: int):
    """Pads axis 1 (PyTorch's channel axis), which is H in Keras' NHWC."""
    import keras

    x = x[:, ::stride, ::stride, :]
    return keras.ops.pad(x, ((0, 0), (0, out_channels - x.shape[-1]), (0, 0), (0, 0)))


def _option_a_library(x, out_channels: int, stride: int):
    from ...residual import ZeroPadShortcut

    return ZeroPadShortcut(x.shape[1], out_channels, stride)(x)


option_a = exercise(
    "ch4.option-a",
    "Implement the option-A shortcut: shortcut_a(x, out_channels, stride) for NCHW tensors.",
    solution=_option_a_solution,
    keras_solution=_option_a_keras_solution,
    wrong_answers=[
        (_wrong_option_a("no-subsample"), "subsample"),
        (_wrong_option_a("avgpool"), "does not average"),
        (_wrong_option_a("repeat"), "zeros"),
        (_wrong_option_a("pad-spatial"), "dim 1"),
        (_option_a_library, "calls godeep.residual.ZeroPadShortcut"),
        (lambda x, out_channels, stride: x.numpy().tolist(), "return a tensor"),
        (_option_a_keras_no_subsample, "x[:, ::stride, ::stride, :]"),
        (_option_a_keras_channels_first, "last axis"),
    ],
    forbidden=_OPTION_A_FORBIDDEN,
)(_check_option_a)
