"""Which framework an answer is written in: PyTorch or Keras."""

from __future__ import annotations

import inspect
import types
from typing import Any

from ._forbid import _code_objects, _referenced_values

# ------------------------------------------------------------------ frameworks


_KERAS_ROOTS = ("keras", "tensorflow", "tf_keras")


def framework_of(answer: Any) -> str | None:
    """``"torch"`` or ``"keras"`` for a class or an instance from either framework, else ``None``.

    A class counts by its bases (``nn.Module``, ``keras.layers.Layer``,
    ``keras.initializers.Initializer``); an instance by its class; a tensor by its type. A
    plain function counts by what its code refers to (``torch`` or ``F`` versus ``keras`` or
    ``tf``); one that refers to neither (or both) is ``None``, and the exercise decides, e.g.
    by its signature (a Keras initializer takes ``shape``).
    """
    klass = answer if isinstance(answer, type) else type(answer)
    if isinstance(answer, (types.FunctionType, types.MethodType)):
        return _framework_of_code(answer)
    if isinstance(answer, types.BuiltinFunctionType):
        return None
    roots = {(k.__module__ or "").split(".")[0] for k in klass.__mro__}
    if roots & set(_KERAS_ROOTS):
        return "keras"
    if "torch" in roots:
        return "torch"
    return None


def _framework_of_code(fn: Any) -> str | None:
    """``"torch"``/``"keras"`` if a function's code refers to exactly one of the frameworks."""
    roots = set()
    try:
        values = _referenced_values(fn)
    except Exception:  # pragma: no cover - introspection of an exotic object
        return None
    for value in values:
        name = (
            value.__name__
            if isinstance(value, types.ModuleType)
            else getattr(value, "__module__", None)
        )
        if isinstance(name, str):
            roots.add(name.split(".")[0])
    for code, _, _ in _code_objects(fn):  # `import keras` inside the function: a name, not a global
        stack = [code]
        while stack:
            current = stack.pop()
            roots.update(n for n in current.co_names if n in ("torch", *_KERAS_ROOTS))
            stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    keras_side, torch_side = bool(roots & set(_KERAS_ROOTS)), "torch" in roots
    if keras_side != torch_side:
        return "keras" if keras_side else "torch"
    return None


def first_parameter(fn: Any) -> str | None:
    """The name of ``fn``'s first parameter (``self`` skipped), or ``None`` if it has none."""
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None
    return params[0] if params else None
