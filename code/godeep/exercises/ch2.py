"""Exercises of Chapter 2, "Weight initialization"."""

from __future__ import annotations

import math
import types
from typing import Optional

import numpy as np

from . import Feedback, chapter_getattr, close_to, correct, exercise, first_parameter, framework_of, wrong

# ------------------------------------------------------------------ fans of a convolution


def _check_conv_fans(answer) -> Feedback:
    expected = (64 * 3 * 3, 128 * 3 * 3)
    if isinstance(answer, dict):
        return wrong("give a pair (fan_in, fan_out), e.g. a tuple of two integers, not a dict.")
    if isinstance(answer, (str, bytes)) or not isinstance(answer, (tuple, list)) or len(answer) != 2:
        return wrong("give a pair of integers: (fan_in, fan_out).")
    for value in answer:
        if isinstance(value, (str, bytes)):
            return wrong(f"the fans are numbers, not strings: write (576, ...) without quotes, not {value!r}.")
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            if isinstance(value, (float, np.floating)) and float(value).is_integer():
                continue  # 576.0 is a fine way to write 576
            return wrong(f"a fan counts connections: it is a whole number, not {value!r}.")
    fan_in, fan_out = (int(v) for v in answer)
    pair = (fan_in, fan_out)
    if pair == expected:
        return correct(f"fan_in = C_in K_h K_w = 64 x 9 = {expected[0]} and fan_out = C_out K_h K_w = 128 x 9 = {expected[1]}.")
    if pair == expected[::-1]:
        return wrong("the two are swapped: fan_in counts the inputs feeding one output unit (the input channels).")
    if pair == (64, 128):
        return wrong("those are the channel counts: each output unit also sums over the K_h x K_w positions of the kernel.")
    if pair == (128 * 3, 64 * 3) or pair == (64 * 3, 128 * 3):
        return wrong("the kernel is 3 x 3: the receptive field has K_h x K_w = 9 positions, not 3.")
    if fan_in == fan_out == 64 * 128 * 9:
        return wrong("that is the number of weights in the kernel; a fan counts the connections of one unit.")
    return wrong("fan_in = C_in x K_h x K_w and fan_out = C_out x K_h x K_w (the batch and image size do not enter).")


conv_fans = exercise(
    "ch2.conv-fans",
    "(fan_in, fan_out) of nn.Conv2d(64, 128, kernel_size=3) (Keras: Conv2D(128, 3) on 64 channels).",
    solution=lambda: (576, 1152),
    wrong_answers=[
        ((1152, 576), "swapped"),
        ((64, 128), "channel counts"),
        ((192, 384), "3 x 3"),
        ((73728, 73728), "number of weights"),
        (576, "pair of integers"),
        ((576.9, 1152.9), "whole number"),
        (("576", "1152"), "not strings"),
        ({"fan_in": 576, "fan_out": 1152}, "not a dict"),
        ("576, 1152", "pair of integers"),
        ((576, 1152, 9), "pair of integers"),
    ],
)(_check_conv_fans)


# ------------------------------------------------------------------ the gain of a leaky ReLU

SLOPE = 0.2


def _check_leaky_gain(answer) -> Feedback:
    expected = math.sqrt(2.0 / (1.0 + SLOPE**2))
    return close_to(
        answer,
        expected,
        rtol=2e-3,
        what="the gain",
        hints=[
            (math.sqrt(2.0), "sqrt(2) is the ReLU's gain: the negative half now passes a^2 of its second moment."),
            (2.0 / (1.0 + SLOPE**2), "that is the factor for the variance; the gain multiplies the standard deviation."),
            (math.sqrt(2.0 / (1.0 + SLOPE)), "the negative half is scaled by a, so its second moment by a^2, not a."),
            ((1.0 + SLOPE**2) / 2.0, "that is E[f(x)^2] / Var[x]; the gain undoes it: take 1 over its square root."),
            (math.sqrt((1.0 + SLOPE**2) / 2.0), "that is the factor by which the leaky ReLU scales the rms; the gain is its inverse."),
        ],
    )


leaky_gain = exercise(
    "ch2.leaky-gain",
    "Gain of a leaky ReLU with negative slope a = 0.2 (the factor on 1/sqrt(fan_in) that keeps the forward signal).",
    solution=lambda: math.sqrt(2.0 / (1.0 + SLOPE**2)),
    wrong_answers=[(math.sqrt(2), "ReLU's gain"), (2 / 1.04, "variance"), (math.sqrt(2 / 1.2), "not a"), (0.52, "E[f(x)^2]"), (3.0, "too large")],
)(_check_leaky_gain)


# ------------------------------------------------------------------ write kaiming_uniform_


def _reference_kaiming_uniform_(tensor):
    """Kaiming uniform for a ReLU, fan_in mode: U(-b, b) with b = sqrt(6 / fan_in)."""
    import torch

    fan_in = tensor.shape[1] * math.prod(tensor.shape[2:])
    bound = math.sqrt(6.0 / fan_in)
    with torch.no_grad():
        return tensor.uniform_(-bound, bound)


#: test shapes, PyTorch layout (out, in, *kernel); the Keras layout is (*kernel, in, out)
_KAIMING_SHAPES = ((512, 256), (128, 64, 3, 3), (64, 300), (32, 16, 5))

_KAIMING_FORBIDDEN = (
    ("torch.nn.init", "kaiming_uniform_", "torch.nn.init.kaiming_uniform_"),
    ("torch.nn.init", "kaiming_normal_", "torch.nn.init.kaiming_normal_"),
    ("godeep.init", "kaiming_uniform_", "godeep.init.kaiming_uniform_"),
    ("godeep.init", "kaiming_normal_", "godeep.init.kaiming_normal_"),
    ("keras.initializers", "VarianceScaling", "keras.initializers.HeUniform (VarianceScaling)"),
    ("keras.initializers", "VarianceScaling.__call__", "keras.initializers.HeUniform (VarianceScaling)"),
    ("godeep.keras.init", "_VarianceInitializer", "godeep.keras.init.KaimingUniform"),
    ("godeep.keras.init", "_VarianceInitializer.__call__", "godeep.keras.init.KaimingUniform"),
    ("godeep.keras.init", "kaiming_uniform_", "godeep.keras.init.kaiming_uniform_"),
)


def _judge_uniform_draw(values: np.ndarray, shape: tuple, fan_in: int, fan_out: int, fan_in_no_kernel: int) -> Optional[str]:
    """What is wrong with ``values`` as a draw from U(-b, b), b = sqrt(6 / fan_in); None if nothing."""
    bound = math.sqrt(6.0 / fan_in)
    if not np.all(np.isfinite(values)):
        return "part of the weight is not finite (NaN or inf): fill every entry with a finite draw."
    top, std = float(np.abs(values).max()), float(values.std())
    if len(shape) > 2 and fan_in_no_kernel != fan_in and math.isclose(top, math.sqrt(6.0 / fan_in_no_kernel), rel_tol=0.02):
        return f"for the conv weight {shape}, fan_in includes the kernel: C_in x K = {fan_in}, not {fan_in_no_kernel}."
    if top > bound * (1 + 1e-6):
        if math.isclose(std, bound / math.sqrt(3.0), rel_tol=0.05):
            return "the std is right but values go beyond the bound: draw from a uniform distribution, not a normal."
        if math.isclose(top, math.sqrt(3.0) * bound, rel_tol=0.02):
            return "the bound is too large by sqrt(3): for U(-b, b), Var = b^2 / 3, so b = sqrt(3) x std = sqrt(6 / fan_in)."
        return f"for shape {shape} values reach {top:.4g}, beyond the bound sqrt(6 / fan_in) = {bound:.4g}."
    if math.isclose(top, bound / math.sqrt(3.0), rel_tol=0.02):
        return "you used the std sqrt(2 / fan_in) as the bound: for U(-b, b), Var = b^2 / 3, so b = sqrt(6 / fan_in)."
    if math.isclose(top, math.sqrt(6.0 / fan_out), rel_tol=0.02) and fan_out != fan_in:
        return "that bound uses fan_out; kaiming_uniform_'s default mode is fan_in = size(1) x prod(kernel)."
    if math.isclose(top, math.sqrt(3.0 / fan_in), rel_tol=0.02):
        return "that is the bound for a linear unit (gain 1): a ReLU needs gain sqrt(2), b = sqrt(6 / fan_in)."
    if not math.isclose(top, bound, rel_tol=0.02) or not math.isclose(std, bound / math.sqrt(3.0), rel_tol=0.03):
        return f"for shape {shape}: max |w| = {top:.4g} and std {std:.4g}; expected a bound of {bound:.4g} and a std of {bound / math.sqrt(3):.4g}."
    if abs(float(values.mean())) > 0.1 * std:
        return "the weights should be centred on zero: draw from U(-b, b)."
    return None


def _is_keras_initializer(answer) -> bool:
    """A Keras initializer: an Initializer (class or instance), or a function of ``shape``."""
    if framework_of(answer) == "keras":
        return True
    return isinstance(answer, types.FunctionType) and first_parameter(answer) == "shape"


def _check_kaiming_uniform(fn) -> Feedback:
    if not callable(fn):
        return wrong("give a function: def kaiming_uniform_(tensor): ... that fills the tensor in place and returns it.")
    if _is_keras_initializer(fn):
        return _check_kaiming_keras(fn)
    import torch

    if framework_of(type(fn)) == "torch" or isinstance(fn, torch.Tensor):
        return wrong("give the function kaiming_uniform_ itself (def kaiming_uniform_(tensor): ...), not a tensor or a module.")
    torch.manual_seed(0)
    for shape in _KAIMING_SHAPES:
        fan_in = shape[1] * math.prod(shape[2:])
        fan_out = shape[0] * math.prod(shape[2:])
        tensor = torch.full(shape, float("nan"))
        result = fn(tensor)
        if torch.isnan(tensor).all():
            if result is None:
                return Feedback(False, "your function returns None and leaves the tensor as it was: write its body and run the cell again.", answered=False)
            return wrong("the tensor passed in is unchanged: fill it in place (e.g. tensor.uniform_(...) under torch.no_grad()) and return it.")
        if torch.isnan(tensor).any():
            return wrong("part of the tensor was left unfilled: fill every entry.")
        if result is None:
            return wrong("your function fills the tensor but returns None: return the tensor you filled, as torch.nn.init.kaiming_uniform_ does (so that w = kaiming_uniform_(w) works).")
        if result is not tensor:
            return wrong("return the tensor you filled (in-place initializers return their argument).")
        problem = _judge_uniform_draw(tensor.detach().double().numpy(), shape, fan_in, fan_out, shape[1])
        if problem:
            return wrong(problem)
    return correct("your kaiming_uniform_ fills Linear and conv weights with U(-b, b), b = sqrt(6 / fan_in), like godeep.init.kaiming_uniform_.")


def _check_kaiming_keras(init) -> Feedback:
    """The Keras form: an initializer ``init(shape, dtype=None)`` for kernels (*kernel, in, out)."""
    import keras

    if isinstance(init, type):
        try:
            init = init()
        except TypeError as error:
            return wrong(f"your Initializer class must be constructible without arguments: {error}.")
    keras.utils.set_random_seed(0)
    for torch_shape in _KAIMING_SHAPES:
        shape = (*torch_shape[2:], torch_shape[1], torch_shape[0])  # Keras: (*kernel, in, out)
        receptive = math.prod(shape[:-2])
        fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
        result = init(shape, dtype="float32")
        if result is None:
            return Feedback(False, "your initializer returns None: return a tensor of the given shape (write its body and run the cell again).", answered=False)
        try:
            values = np.asarray(keras.ops.convert_to_numpy(result), dtype=np.float64)
        except (TypeError, ValueError):
            return wrong(f"your initializer returned {type(result).__name__}: return a tensor of the requested shape (e.g. keras.random.uniform(shape, ...)).")
        if tuple(values.shape) != shape:
            return wrong(f"asked for shape {shape}, your initializer returned shape {tuple(values.shape)}: draw a tensor of exactly the requested shape.")
        problem = _judge_uniform_draw(values, shape, fan_in, fan_out, shape[-2])
        if problem:
            return wrong(problem.replace("size(1) x prod(kernel)", "in_channels x prod(kernel) (Keras: shape[-2] x prod(shape[:-2]))"))
    return correct("your Keras initializer draws dense and conv kernels from U(-b, b), b = sqrt(6 / fan_in) with Keras' fans, like keras.initializers.HeUniform.")


def _fan_out_version(tensor):
    import torch

    bound = math.sqrt(6.0 / (tensor.shape[0] * math.prod(tensor.shape[2:])))
    with torch.no_grad():
        return tensor.uniform_(-bound, bound)


def _std_as_bound(tensor):
    import torch

    bound = math.sqrt(2.0 / (tensor.shape[1] * math.prod(tensor.shape[2:])))
    with torch.no_grad():
        return tensor.uniform_(-bound, bound)


def _normal_version(tensor):
    import torch

    with torch.no_grad():
        return tensor.normal_(0.0, math.sqrt(2.0 / (tensor.shape[1] * math.prod(tensor.shape[2:]))))


def _ignores_kernel(tensor):
    import torch

    bound = math.sqrt(6.0 / tensor.shape[1])
    with torch.no_grad():
        return tensor.uniform_(-bound, bound)


def _not_in_place(tensor):
    import torch

    bound = math.sqrt(6.0 / (tensor.shape[1] * math.prod(tensor.shape[2:])))
    return torch.empty_like(tensor).uniform_(-bound, bound)


def _returns_nothing(tensor):
    """Right fill, but no ``return``: ``w = kaiming_uniform_(w)`` would set w to None."""
    _reference_kaiming_uniform_(tensor)


def _calls_torch(tensor):
    import torch

    return torch.nn.init.kaiming_uniform_(tensor, nonlinearity="relu")


def _calls_godeep(tensor):
    from .. import init

    return init.kaiming_uniform_(tensor, nonlinearity="relu")


def _calls_torch_swallowing(tensor):
    """Calls the library, hides the failure, and falls back on the right formula."""
    import torch

    try:
        return torch.nn.init.kaiming_uniform_(tensor, nonlinearity="relu")
    except BaseException:
        return _reference_kaiming_uniform_(tensor)


def _reference_kaiming_keras(shape, dtype=None):
    """The Keras form: a function shape -> tensor, kernels laid out (*kernel, in, out)."""
    import keras

    bound = math.sqrt(6.0 / math.prod(shape[:-1]))
    return keras.random.uniform(shape, minval=-bound, maxval=bound, dtype=dtype)


def _keras_torch_fans(shape, dtype=None):
    """Keras kernel with PyTorch's fan rule (shape[1] x kernel): wrong for (*kernel, in, out)."""
    import keras

    bound = math.sqrt(6.0 / (shape[1] * math.prod(shape[2:])))
    return keras.random.uniform(shape, minval=-bound, maxval=bound, dtype=dtype)


def _keras_library(shape, dtype=None):
    import keras

    return keras.initializers.HeUniform()(shape, dtype=dtype)


def _keras_normal(shape, dtype=None):
    import keras

    return keras.random.normal(shape, stddev=math.sqrt(2.0 / math.prod(shape[:-1])), dtype=dtype)


kaiming_uniform = exercise(
    "ch2.kaiming-uniform",
    "Write kaiming_uniform_(tensor): fill a PyTorch weight (out, in, *kernel) in place from U(-b, b), b = sqrt(6 / fan_in).",
    solution=lambda: _reference_kaiming_uniform_,
    keras_solution=lambda: _reference_kaiming_keras,
    wrong_answers=[
        (_fan_out_version, "fan_out"),
        (_std_as_bound, "used the std"),
        (_normal_version, "not a normal"),
        (_ignores_kernel, "includes the kernel"),
        (_not_in_place, "in place"),
        (0.1, "give a function"),
        (_returns_nothing, "returns None"),
        (_calls_torch, "calls torch.nn.init.kaiming_uniform_"),
        (_calls_godeep, "calls godeep.init.kaiming_uniform_"),
        (_calls_torch_swallowing, "calls torch.nn.init.kaiming_uniform_"),
        (_keras_torch_fans, "fan"),
        (_keras_library, "HeUniform"),
        (_keras_normal, "not a normal"),
    ],
    forbidden=_KAIMING_FORBIDDEN,
)(_check_kaiming_uniform)


# ------------------------------------------------------------------ predict, then measure


def _rms_after_30() -> float:
    """ReLU net, Xavier normal on square layers (n Var[w] = 1), unit-variance inputs.

    Var[z_1] = 1, and each ReLU halves the second moment: E[h_l^2] = 2^-l, so the rms of h_30
    is 2^-15.
    """
    return 2.0**-15


def _check_rms_after_30(answer) -> Feedback:
    return close_to(
        answer,
        _rms_after_30(),
        rtol=0.05,
        what="the predicted rms",
        hints=[
            (1.0, "Xavier keeps n Var[w] = 1 for a linear layer, but each ReLU halves the second moment: 30 halvings."),
            (2.0**-30, "2^-30 is the mean square E[h^2]; the rms is its square root."),
            (2.0**-14.5, "off by one layer: h_1 already went through one ReLU, so h_30 went through 30 halvings."),
            (0.5**30, "2^-30 is the mean square E[h^2]; the rms is its square root."),
            (2.0**-15 * math.sqrt(1 - 1 / math.pi), "that is the standard deviation of h, which subtracts the mean; the question asks for the rms sqrt(E[h^2])."),
        ],
    )


rms_after_30 = exercise(
    "ch2.rms-after-30",
    "Predict the rms sqrt(E[h^2]) of the activations after 30 ReLU layers of width 256 with Xavier normal weights, unit-variance inputs.",
    solution=_rms_after_30,
    wrong_answers=[(1.0, "30 halvings"), (2.0**-30, "square root"), (2.0**-14.5, "off by one"), (0.5, "too large")],
)(_check_rms_after_30)


# ------------------------------------------------------------------ PyTorch's default, per layer


def _check_default_factor(answer) -> Feedback:
    expected = math.sqrt(1.0 / 6.0)  # n Var[w] = 1/3, then the ReLU halves the second moment
    return close_to(
        answer,
        expected,
        rtol=1e-2,
        what="the per-layer factor",
        hints=[
            (1.0 / 6.0, "1/6 is the factor for the second moment; the rms changes by its square root."),
            (math.sqrt(1.0 / 3.0), "that ignores the ReLU, which halves the second moment."),
            (1.0 / 3.0, "n Var[w] = 1/3 is the variance factor of the linear layer alone: add the ReLU's 1/2 and take a square root."),
            (1.0 / math.sqrt(5.0), "a = sqrt(5) is the leaky-ReLU slope in the gain formula, not the factor: gain^2 = 2 / (1 + a^2) = 1/3."),
        ],
    )


default_factor = exercise(
    "ch2.default-factor",
    "Factor by which the rms activation changes per layer in a deep ReLU MLP built from nn.Linear with its default initialization.",
    solution=lambda: math.sqrt(1.0 / 6.0),
    wrong_answers=[(1 / 6, "square root"), (math.sqrt(1 / 3), "ignores the ReLU"), (1 / 3, "linear layer alone"), (1 / math.sqrt(5), "gain formula"), (1.0, "too large")],
)(_check_default_factor)


# ------------------------------------------------------------------ how deep before Xavier vanishes


def _xavier_depth_solution() -> int:
    """Smallest L with sqrt(1/2)^L < 1e-3: the std of a ReLU net under Xavier halves in variance per layer."""
    return next(L for L in range(1, 1000) if 0.5 ** (L / 2) < 1e-3)


def _check_xavier_depth(answer) -> Feedback:
    if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)):
        return wrong(f"give the depth as an integer number of layers, not {type(answer).__name__}.")
    L, expected = int(answer), _xavier_depth_solution()
    if L == expected:
        return correct(f"sqrt(1/2)^{L} = {0.5 ** (L / 2):.3g} is the first power below 1e-3 (sqrt(1/2)^{L - 1} = {0.5 ** ((L - 1) / 2):.3g}).")
    if L == expected - 1:
        return wrong(f"off by one: sqrt(1/2)^{L} = {0.5 ** (L / 2):.3g} is still above 1e-3.")
    if L == next(k for k in range(1, 1000) if 0.5**k < 1e-3):
        return wrong("you halved the standard deviation per layer; the ReLU halves the second moment, so the std shrinks by sqrt(1/2).")
    if L < expected:
        return wrong(f"sqrt(1/2)^{L} = {0.5 ** (L / 2):.3g} is still above 1e-3: you need more layers. Hint: L > 2 log(1e-3) / log(1/2).")
    return wrong(f"sqrt(1/2)^{L} = {0.5 ** (L / 2):.3g} is below 1e-3, but so is a shallower power: find the smallest L.")


xavier_depth = exercise(
    "ch2.xavier-depth",
    "Smallest depth L at which a ReLU net under Xavier (square layers) shrinks the activation std below 1e-3 of its input.",
    solution=_xavier_depth_solution,
    wrong_answers=[(19, "off by one"), (10, "halved the standard deviation"), (15, "need more layers"), (40, "smallest L"), (20.0, "integer")],
)(_check_xavier_depth)

from .coding.ch2 import he_normal_init, orthogonal  # noqa: E402  (coding exercises in both frameworks)

__getattr__ = chapter_getattr(__name__)
