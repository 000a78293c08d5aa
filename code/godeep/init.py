"""Weight initialization from the variance argument (PyTorch): Glorot & Bengio (2010), He et al. (2015).

For a linear unit ``y = sum_j W_ij x_j`` with ``n`` independent, zero-mean inputs and weights,

    Var[y] = n Var[w] Var[x]                                  (forward, n = fan_in)
    Var[dE/dx] = n' Var[w] Var[dE/dy]                          (backward, n' = fan_out)

so a layer keeps the signal's scale when ``n Var[w] = 1`` (forward) or ``n' Var[w] = 1``
(backward). Xavier/Glorot takes the compromise ``Var[w] = 2 / (n + n')``; Kaiming/He corrects
for a ReLU, which halves the second moment, with ``Var[w] = 2 / n``. Both are scaled by a
``gain`` that depends on the nonlinearity. A uniform ``U(-a, a)`` has variance ``a^2 / 3``, so
its bound is ``a = sqrt(3) * std``.

Names, defaults and fan conventions mirror ``torch.nn.init`` (weights in PyTorch layout
``(out, in, *kernel)``: ``fan_in = in * prod(kernel)``, ``fan_out = out * prod(kernel)``);
the in-place initializers are written from these formulas and do not call ``torch.nn.init``.

Edge cases as in ``torch.nn.init``: ``mode`` is case-insensitive (``"FAN_OUT"``); a weight with
fewer than 2 dimensions has no fans (``ValueError``); the in-place initializers leave a tensor
with no elements as it is, with torch's warning "Initializing zero-element tensors is a no-op"
(torch's Xavier initializers return such a tensor without the warning, and raise
``ZeroDivisionError`` on a ``(0, 0)`` weight). :func:`fans` and the ``*_std`` functions refuse a
zero dimension, where torch would divide by a zero fan.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Optional, Sequence, Union

__all__ = [
    "NONLINEARITIES",
    "MODES",
    "fans",
    "gain",
    "xavier_std",
    "kaiming_std",
    "uniform_bound",
    "xavier_normal_",
    "xavier_uniform_",
    "kaiming_normal_",
    "kaiming_uniform_",
]

#: Nonlinearities understood by :func:`gain` (those of ``torch.nn.init.calculate_gain``).
NONLINEARITIES = (
    "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu",
)
#: Which fan Kaiming initialization preserves: the forward pass (fan_in) or the backward (fan_out).
MODES = ("fan_in", "fan_out")

Shape = Union[Sequence[int], "torch.Size", "torch.Tensor"]  # noqa: F821


def _shape(shape, layout: str = "(out, in, *kernel)", what: str = "weight", min_dims: int = 2) -> tuple[int, ...]:
    """A tuple of positive ints from a shape or from a tensor (its ``.shape``).

    ``layout`` and ``what`` only word the error messages (Keras kernels are ``(*kernel, in, out)``).
    """
    if hasattr(shape, "shape") and not isinstance(shape, (tuple, list)):
        shape = tuple(shape.shape)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"shape must be a sequence of ints or a tensor, got {type(shape).__name__}") from None
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral):
            raise TypeError(f"shape must contain ints, got {dims!r}")
    dims = tuple(int(d) for d in dims)
    if len(dims) < min_dims:
        raise ValueError(
            f"fans need a {what} with at least 2 dimensions {layout}, got shape {dims}: "
            "a bias or a scalar has no fan-in and fan-out"
        )
    if any(d < 1 for d in dims):
        raise ValueError(f"every dimension of the {what} must be >= 1, got shape {dims}")
    return dims


def fans(shape: Shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight in PyTorch layout ``(out, in, *kernel)``.

    ``fan_in = in * K_1 * ... * K_d`` (the inputs feeding one output unit) and
    ``fan_out = out * K_1 * ... * K_d`` (the outputs one input unit feeds), as in
    ``torch.nn.init``: a ``Linear`` weight ``(out, in)`` has no kernel; a ``Conv2d`` weight is
    ``(C_out, C_in, K_h, K_w)``. ``shape`` may also be a tensor.
    """
    dims = _shape(shape)
    receptive_field = math.prod(dims[2:])
    return dims[1] * receptive_field, dims[0] * receptive_field


def gain(nonlinearity: str, param: Optional[float] = None) -> float:
    """The recommended gain for ``nonlinearity``, as ``torch.nn.init.calculate_gain``.

    linear and conv layers, sigmoid: 1; tanh: 5/3; relu: sqrt(2);
    leaky_relu with negative slope ``a`` (``param``, default 0.01): sqrt(2 / (1 + a^2));
    selu: 3/4.
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, (int, float)) or not math.isfinite(param):
            raise ValueError(f"param (the negative slope of leaky_relu) must be a finite number, got {param!r}")
        else:
            slope = float(param)
        return math.sqrt(2.0 / (1.0 + slope**2))
    return {"tanh": 5.0 / 3.0, "relu": math.sqrt(2.0), "selu": 0.75}.get(nonlinearity, 1.0)


def _check_gain(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"gain must be a finite number >= 0, got {value!r}")
    return float(value)


def xavier_std(shape: Shape, gain: float = 1.0) -> float:
    """Standard deviation of Xavier/Glorot initialization: ``gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = fans(shape)
    return _check_gain(gain) * math.sqrt(2.0 / (fan_in + fan_out))


def kaiming_std(shape: Shape, mode: str = "fan_in", nonlinearity: str = "relu", a: float = 0.0) -> float:
    """Standard deviation of Kaiming/He initialization: ``gain(nonlinearity, a) / sqrt(fan)``.

    With a ReLU, ``gain = sqrt(2)``, i.e. ``Var[w] = 2 / fan``. ``mode="fan_in"`` keeps the
    forward signal's variance, ``"fan_out"`` the backward gradient's (case-insensitive, as torch).
    """
    mode = _mode(mode)
    fan_in, fan_out = fans(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    return gain(nonlinearity, a) / math.sqrt(fan)


def _mode(mode: str) -> str:
    """``mode`` lower-cased (as torch), checked against :data:`MODES`."""
    lowered = mode.lower() if isinstance(mode, str) else mode
    if lowered not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return lowered


def uniform_bound(std: float) -> float:
    """Bound ``a`` of ``U(-a, a)`` with standard deviation ``std``: ``Var = a^2 / 3``, so ``a = sqrt(3) std``."""
    return math.sqrt(3.0) * std


# --------------------------------------------------------------------------- in place, torch


def _check_tensor(tensor) -> None:
    import torch

    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    if not tensor.is_floating_point():
        raise TypeError(f"tensor must have a floating-point dtype, got {tensor.dtype}")


def _empty(tensor) -> bool:
    """True (with torch's warning) for a tensor with no elements, which is left as it is."""
    _check_tensor(tensor)
    if tensor.dim() >= 2 and tensor.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def _normal_(tensor, std: float, generator=None):
    import torch

    _check_tensor(tensor)
    with torch.no_grad():
        return tensor.normal_(0.0, std, generator=generator)


def _uniform_(tensor, bound: float, generator=None):
    import torch

    _check_tensor(tensor)
    with torch.no_grad():
        return tensor.uniform_(-bound, bound, generator=generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """Fill ``tensor`` in place from ``N(0, std^2)``, ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    if _empty(tensor):  # no elements: left as it is, with torch's warning
        return tensor
    return _normal_(tensor, xavier_std(tensor, gain), generator)


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """Fill ``tensor`` in place from ``U(-a, a)``, ``a = gain * sqrt(6 / (fan_in + fan_out))``."""
    if _empty(tensor):  # no elements: left as it is, with torch's warning
        return tensor
    return _uniform_(tensor, uniform_bound(xavier_std(tensor, gain)), generator)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """Fill ``tensor`` in place from ``N(0, std^2)``, ``std = gain(nonlinearity, a) / sqrt(fan)``.

    Defaults as ``torch.nn.init.kaiming_normal_``: leaky_relu with ``a = 0`` is the ReLU,
    ``std = sqrt(2 / fan_in)``.
    """
    if _empty(tensor):  # no elements: left as it is, with torch's warning
        return tensor
    return _normal_(tensor, kaiming_std(tensor, mode, nonlinearity, a), generator)


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """Fill ``tensor`` in place from ``U(-b, b)``, ``b = sqrt(3) * gain(nonlinearity, a) / sqrt(fan)``.

    With the defaults (ReLU) ``b = sqrt(6 / fan_in)``. PyTorch's ``nn.Linear`` and ``nn.Conv2d``
    reset their weights with ``a = sqrt(5)``: ``gain^2 = 2 / 6``, ``Var[w] = 1 / (3 fan_in)``.
    """
    if _empty(tensor):  # no elements: left as it is, with torch's warning
        return tensor
    return _uniform_(tensor, uniform_bound(kaiming_std(tensor, mode, nonlinearity, a)), generator)
