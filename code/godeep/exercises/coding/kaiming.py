"""Chapter 2: write kaiming_uniform_ (PyTorch) or a Keras initializer, from the fans."""

from __future__ import annotations

import math
import types

import numpy as np

from .. import Feedback, correct, exercise, first_parameter, framework_of, wrong
from ..native import solutions

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
    (
        "keras.initializers",
        "VarianceScaling.__call__",
        "keras.initializers.HeUniform (VarianceScaling)",
    ),
    ("godeep.keras.init", "_VarianceInitializer", "godeep.keras.init.KaimingUniform"),
    ("godeep.keras.init", "_VarianceInitializer.__call__", "godeep.keras.init.KaimingUniform"),
    ("godeep.keras.init", "kaiming_uniform_", "godeep.keras.init.kaiming_uniform_"),
)


def _judge_uniform_draw(
    values: np.ndarray, shape: tuple, fan_in: int, fan_out: int, fan_in_no_kernel: int
) -> str | None:
    """What is wrong with ``values`` as a draw from U(-b, b), b = sqrt(6 / fan_in); None if nothing."""
    bound = math.sqrt(6.0 / fan_in)
    if not np.all(np.isfinite(values)):
        return "part of the weight is not finite (NaN or inf): fill every entry with a finite draw."
    top, std = float(np.abs(values).max()), float(values.std())
    if (
        len(shape) > 2
        and fan_in_no_kernel != fan_in
        and math.isclose(top, math.sqrt(6.0 / fan_in_no_kernel), rel_tol=0.02)
    ):
        return f"for the conv weight {shape}, fan_in includes the kernel: C_in x K = {fan_in}, not {fan_in_no_kernel}."
    if top > bound * (1 + 1e-6):
        if math.isclose(std, bound / math.sqrt(3.0), rel_tol=0.05):
            return "the std is right but values go beyond the bound: draw from a uniform distribution, not a normal."
        if math.isclose(top, math.sqrt(3.0) * bound, rel_tol=0.02):
            return (
                "the bound is too large by sqrt(3): for U(-b, b), Var = b^2 / 3, so b = sqrt(3) x "
                "std = sqrt(6 / fan_in)."
            )
        return f"for shape {shape} values reach {top:.4g}, beyond the bound sqrt(6 / fan_in) = {bound:.4g}."
    if math.isclose(top, bound / math.sqrt(3.0), rel_tol=0.02):
        return "you used the std sqrt(2 / fan_in) as the bound: for U(-b, b), Var = b^2 / 3, so b = sqrt(6 / fan_in)."
    if math.isclose(top, math.sqrt(6.0 / fan_out), rel_tol=0.02) and fan_out != fan_in:
        return "that bound uses fan_out; kaiming_uniform_'s default mode is fan_in = size(1) x prod(kernel)."
    if math.isclose(top, math.sqrt(3.0 / fan_in), rel_tol=0.02):
        return "that is the bound for a linear unit (gain 1): a ReLU needs gain sqrt(2), b = sqrt(6 / fan_in)."
    if not math.isclose(top, bound, rel_tol=0.02) or not math.isclose(
        std, bound / math.sqrt(3.0), rel_tol=0.03
    ):
        return (
            f"for shape {shape}: max |w| = {top:.4g} and std {std:.4g}; expected a bound of "
            f"{bound:.4g} and a std of {bound / math.sqrt(3):.4g}."
        )
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
        return wrong(
            "give a function: def kaiming_uniform_(tensor): ... that fills the tensor in place and returns it."
        )
    if _is_keras_initializer(fn):
        return _check_kaiming_keras(fn)
    import torch

    if framework_of(type(fn)) == "torch" or isinstance(fn, torch.Tensor):
        return wrong(
            "give the function kaiming_uniform_ itself (def kaiming_uniform_(tensor): ...), not a tensor or a module."
        )
    torch.manual_seed(0)
    for shape in _KAIMING_SHAPES:
        fan_in = shape[1] * math.prod(shape[2:])
        fan_out = shape[0] * math.prod(shape[2:])
        tensor = torch.full(shape, float("nan"))
        result = fn(tensor)
        if torch.isnan(tensor).all():
            if result is None:
                return Feedback(
                    False,
                    "your function returns None and leaves the tensor as it was: write its body "
                    "and run the cell again.",
                    answered=False,
                )
            return wrong(
                "the tensor passed in is unchanged: fill it in place (e.g. tensor.uniform_(...) "
                "under torch.no_grad()) and return it."
            )
        if torch.isnan(tensor).any():
            return wrong("part of the tensor was left unfilled: fill every entry.")
        if result is None:
            return wrong(
                "your function fills the tensor but returns None: return the tensor you filled, as "
                "torch.nn.init.kaiming_uniform_ does (so that w = kaiming_uniform_(w) works)."
            )
        if result is not tensor:
            return wrong(
                "return the tensor you filled (in-place initializers return their argument)."
            )
        problem = _judge_uniform_draw(
            tensor.detach().double().numpy(), shape, fan_in, fan_out, shape[1]
        )
        if problem:
            return wrong(problem)
    return correct(
        "your kaiming_uniform_ fills Linear and conv weights with U(-b, b), b = sqrt(6 / fan_in), "
        "like godeep.init.kaiming_uniform_."
    )


def _check_kaiming_keras(init) -> Feedback:
    """The Keras form: an initializer ``init(shape, dtype=None)`` for kernels (*kernel, in, out)."""
    import keras

    if isinstance(init, type):
        try:
            init = init()
        except TypeError as error:
            return wrong(
                f"your Initializer class must be constructible without arguments: {error}."
            )
    keras.utils.set_random_seed(0)
    for torch_shape in _KAIMING_SHAPES:
        shape = (*torch_shape[2:], torch_shape[1], torch_shape[0])  # Keras: (*kernel, in, out)
        receptive = math.prod(shape[:-2])
        fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
        result = init(shape, dtype="float32")
        if result is None:
            return Feedback(
                False,
                "your initializer returns None: return a tensor of the given shape (write its body "
                "and run the cell again).",
                answered=False,
            )
        try:
            values = np.asarray(keras.ops.convert_to_numpy(result), dtype=np.float64)
        except (TypeError, ValueError):
            return wrong(
                f"your initializer returned {type(result).__name__}: return a tensor of the "
                "requested shape (e.g. keras.random.uniform(shape, ...))."
            )
        if tuple(values.shape) != shape:
            return wrong(
                f"asked for shape {shape}, your initializer returned shape {tuple(values.shape)}: "
                "draw a tensor of exactly the requested shape."
            )
        problem = _judge_uniform_draw(values, shape, fan_in, fan_out, shape[-2])
        if problem:
            return wrong(
                problem.replace(
                    "size(1) x prod(kernel)",
                    "in_channels x prod(kernel) (Keras: shape[-2] x prod(shape[:-2]))",
                )
            )
    return correct(
        "your Keras initializer draws dense and conv kernels from U(-b, b), b = sqrt(6 / fan_in) "
        "with Keras' fans, like keras.initializers.HeUniform."
    )


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
    from ... import init

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
    "Write kaiming_uniform_(tensor): fill a PyTorch weight (out, in, *kernel) in place from U(-b, "
    "b), b = sqrt(6 / fan_in).",
    solution=lambda: solutions(2, "torch").kaiming_uniform_,
    keras_solution=lambda: solutions(2, "keras").kaiming_uniform,
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
