"""Running a reader's function in its own framework, and reading its result back as NumPy.

A checker builds its test inputs once, in NumPy; :func:`call_native` hands them to the answer
as tensors of the answer's framework (``torch`` answers get ``torch.Tensor`` s; Keras and
NumPy answers get arrays, which ``keras.ops`` accepts), and :func:`to_numpy` reads back a
NumPy array, a ``torch.Tensor`` or a Keras/TensorFlow tensor alike.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from . import framework_of


def to_numpy(value: Any) -> np.ndarray:
    """``value`` as a float64 array; ``TypeError`` if it is not numbers (a string, a dict, None)."""
    if value is None or isinstance(value, (str, bytes, dict)):
        raise TypeError(f"expected an array, got {type(value).__name__}")
    if type(value).__module__.split(".")[0] == "torch":
        value = value.detach().cpu().numpy()
    elif hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"expected an array of numbers, got {type(value).__name__}") from error


def call_native(fn: Callable[..., Any], *args: Any, framework: str | None = None) -> Any:
    """``fn(*args)`` with NumPy-array arguments turned into ``framework``'s tensors.

    ``framework`` defaults to :func:`framework_of` ``(fn)``: a PyTorch function gets float64
    ``torch.Tensor`` s; anything else gets the NumPy arrays (``keras.ops`` and ``np`` take them).
    """
    framework = framework or framework_of(fn)
    if framework == "torch":
        import torch

        args = tuple(torch.as_tensor(a) if isinstance(a, np.ndarray) else a for a in args)
    return fn(*args)


def solutions(chapter: int, framework: str) -> Any:
    """The reference-solution module of ``chapter`` in ``framework`` (``"torch"`` or ``"keras"``)."""
    return importlib.import_module(f"{__package__}.solutions.ch{chapter}_{framework}")
