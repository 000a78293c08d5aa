"""Forbidden library calls: switched off while a checker runs the reader's code.

Where a prompt says "write it yourself", the exercise lists the library functions it forbids.
:class:`_Forbid` replaces each by a function that raises :class:`ForbiddenCall` (restored
afterwards, even on error); :func:`library_allowed` lets the checker's own code use them;
:func:`_referenced_values` finds the objects an answer's code refers to by name.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

# ------------------------------------------------------------------ forbidden library calls


class ForbiddenCall(BaseException):
    """Raised by a forbidden library function while a checker runs the reader's code.

    A ``BaseException``, so that an ``except Exception`` in the reader's code cannot swallow it.
    """

    def __init__(self, label: str):
        super().__init__(f"{label} is not allowed in this exercise")
        self.label = label


def _forbidden_message(label: str) -> str:
    return (
        f"your answer calls {label}: this exercise asks you to write it yourself, so the "
        "library function is switched off while your answer is checked. Replace the call by your own code."
    )


def _resolve(module: str, path: str) -> tuple[Any, str, Any] | None:
    """``(owner, attribute, object)`` for ``module.path``, if its parent package is imported.

    A framework that the session has not imported is not imported just to forbid it (the
    reader's code cannot have used it then); a submodule of an imported package is (so
    ``godeep.init`` is patched once ``godeep`` is loaded, ``godeep.keras.init`` only once
    ``godeep.keras`` is).
    """
    parent = module.rsplit(".", 1)[0]
    if module not in sys.modules and parent not in sys.modules:
        return None
    try:
        owner: Any = importlib.import_module(module)
    except ImportError:
        return None
    *parents, attribute = path.split(".")
    try:
        for name in parents:
            owner = getattr(owner, name)
        return owner, attribute, getattr(owner, attribute)
    except AttributeError:
        return None


class _Forbid:
    """Context manager: the listed library functions raise :class:`ForbiddenCall` inside it.

    A class in the list has its ``__init__`` replaced; a function or method is replaced itself.
    Everything is restored on exit, whatever happened inside.
    """

    def __init__(self, targets: Iterable[tuple[str, str, str]]):
        self.targets = tuple(targets)
        self.called: list[str] = []
        self._undo: list[tuple[Any, str, Any, bool]] = []

    def originals(self) -> list[tuple[Any, str]]:
        found = []
        for module, path, label in self.targets:
            resolved = _resolve(module, path)
            if resolved is not None:
                found.append((resolved[2], label))
        return found

    def named_in(self, answer: Any) -> str | None:
        """The label of a forbidden object the answer *is*, subclasses, or names in its code."""
        originals = self.originals()
        if not originals:
            return None
        for obj, label in originals:
            if answer is obj or (
                isinstance(answer, type) and isinstance(obj, type) and issubclass(answer, obj)
            ):
                return label
        for value in _referenced_values(answer):
            for obj, label in originals:
                if value is obj:
                    return label
        return None

    def _raiser(self, label: str, method: bool) -> Callable[..., Any]:
        def forbidden(*args: Any, **kwargs: Any) -> Any:
            self.called.append(label)
            raise ForbiddenCall(label)

        def forbidden_method(
            this: Any, *args: Any, **kwargs: Any
        ) -> Any:  # Keras inspects __init__'s first arg
            self.called.append(label)
            raise ForbiddenCall(label)

        return forbidden_method if method else forbidden

    def __enter__(self) -> _Forbid:
        self._patch()
        _ACTIVE.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        self._unpatch()

    def _patch(self) -> None:
        try:
            for module, path, label in self.targets:
                resolved = _resolve(module, path)
                if resolved is None:
                    continue
                owner, attribute, obj = resolved
                if isinstance(obj, type):  # a class: constructing it is the forbidden call
                    owner, attribute = obj, "__init__"
                had = isinstance(owner, type) and attribute in vars(owner)
                keep = vars(owner)[attribute] if had else getattr(owner, attribute)
                self._undo.append((owner, attribute, keep, had or not isinstance(owner, type)))
                setattr(owner, attribute, self._raiser(label, isinstance(owner, type)))
        except BaseException:
            self._unpatch()
            raise

    def _unpatch(self) -> None:
        while self._undo:
            owner, attribute, keep, had = self._undo.pop()
            if had:
                setattr(owner, attribute, keep)
            else:  # the attribute was inherited: remove our override
                delattr(owner, attribute)


#: the guards in force (a check inside a check is possible: a test calling a checker)
_ACTIVE: list[_Forbid] = []


@contextlib.contextmanager
def library_allowed() -> Iterator[None]:
    """Inside a check, let the *checker's own* code use the forbidden functions.

    A checker that builds its test model (``nn.Linear`` calls ``kaiming_uniform_`` in its
    constructor; a Keras ``Dense`` creates a ``VarianceScaling`` initializer) does it in this
    block; the reader's code runs outside it, with the functions switched off.
    """
    guards = list(_ACTIVE)
    for guard in reversed(guards):
        guard._unpatch()
    try:
        yield
    finally:
        for guard in guards:
            guard._patch()


def _code_objects(answer: Any) -> list[tuple[types.CodeType, dict, tuple]]:
    """``(code, globals, closure values)`` of a function, or of the methods a class defines."""
    functions: list[Any] = []
    if isinstance(answer, type):
        for klass in answer.__mro__:
            root = (klass.__module__ or "").split(".")[0]
            if root in ("builtins", "torch", "keras", "tensorflow", "numpy", "godeep"):
                continue
            for value in vars(klass).values():
                value = getattr(value, "__func__", value)  # staticmethod, classmethod
                if isinstance(value, property):
                    value = value.fget
                if isinstance(value, types.FunctionType):
                    functions.append(value)
    else:
        fn = inspect.unwrap(answer) if callable(answer) else answer
        fn = getattr(fn, "__func__", fn)  # bound method
        if isinstance(fn, types.FunctionType):
            functions.append(fn)
    found = []
    for fn in functions:
        cells = tuple(c.cell_contents for c in (fn.__closure__ or ()) if _cell_filled(c))
        found.append((fn.__code__, fn.__globals__, cells))
    return found


def _cell_filled(cell: Any) -> bool:
    try:
        _ = cell.cell_contents  # raises ValueError while the cell is empty
    except ValueError:
        return False
    return True


def _referenced_values(answer: Any) -> list[Any]:
    """The global and closure objects that an answer's code (and its nested code) refers to."""
    values: list[Any] = []
    for code, globals_, cells in _code_objects(answer):
        values.extend(cells)
        stack = [code]
        while stack:
            current = stack.pop()
            values.extend(globals_[n] for n in current.co_names if n in globals_)
            stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return values
