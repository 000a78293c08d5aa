"""Argument checks shared by every module of :mod:`godeep` (framework-free: NumPy only).

Each check returns the value, converted to a plain Python type, or raises with a short
message that names the argument, the value received and what is expected:

* a value of the wrong *type* raises ``TypeError`` ("width must be an int, got float");
* a value of the right type out of its range raises ``ValueError`` ("width must be >= 1, got 0").

``bool`` is never accepted as a number (``True`` is an ``int`` in Python, but ``width=True`` is a
mistake), and NumPy scalars are accepted wherever Python's are.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "integer",
    "positive_int",
    "nonnegative_int",
    "positive_ints",
    "boolean",
    "number",
    "one_of",
    "known_keys",
    "finite_vector",
    "function",
]


def integer(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an ``int`` in ``[low, high]`` (either bound may be None)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if low is not None and high is not None and not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def positive_int(name: str, value: Any) -> int:
    """``value`` as an ``int >= 1``."""
    return integer(name, value, low=1)


def nonnegative_int(name: str, value: Any) -> int:
    """``value`` as an ``int >= 0``."""
    return integer(name, value, low=0)


def positive_ints(name: str, values: Any, length: int | None = None) -> tuple[int, ...]:
    """``values`` as a tuple of ints >= 1 (of ``length`` items if given); items named ``name[i]``."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a sequence of ints, got {type(values).__name__}")
    values = tuple(values)
    if length is not None and len(values) != length:
        raise ValueError(f"{name} must have {length} items, got {len(values)}: {values!r}")
    return tuple(positive_int(f"{name}[{i}]", v) for i, v in enumerate(values))


def boolean(name: str, value: Any) -> bool:
    """``value`` as a ``bool`` (Python's or NumPy's)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


def number(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = True,
) -> float:
    """``value`` as a ``float`` in the interval from ``low`` to ``high`` (open ends on request).

    NaN is always refused; infinities unless ``finite=False``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value) or (finite and math.isinf(value)):
        raise ValueError(f"{name} must be a finite number, got {value}")
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        left = "-inf" if low is None else f"{low}"
        right = "inf" if high is None else f"{high}"
        interval = (
            f"{'(' if low_open or low is None else '['}{left}, "
            f"{right}{')' if high_open or high is None else ']'}"
        )
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return value


def one_of(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    try:
        ok = value in choices
    except TypeError:  # an unhashable or incomparable value
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def known_keys(name: str, mapping: Any, valid: Iterable[str]) -> dict:
    """``dict(mapping)`` if every key is in ``valid``; else a ``TypeError`` (as for an unexpected
    keyword argument) that lists the valid keys."""
    if mapping is None:
        return {}
    if not hasattr(mapping, "keys"):
        raise TypeError(f"{name} must be a dict, got {type(mapping).__name__}")
    valid = tuple(valid)
    unknown = sorted(str(k) for k in mapping if k not in valid)
    if unknown:
        raise TypeError(f"{name} has unknown key(s) {unknown}; valid keys: {list(valid)}")
    return dict(mapping)


def finite_vector(name: str, values: Any) -> np.ndarray:
    """``values`` as a 1-D float64 array of finite numbers."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a 1-D array of numbers, got {type(values).__name__}"
        ) from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ValueError(f"{name} must be finite, got {array[bad[0]]} at index {int(bad[0])}")
    return array


def function(name: str, value: Any) -> Any:
    """``value`` if it is callable."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__}")
    return value
