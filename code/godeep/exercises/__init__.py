"""Exercises with instant feedback.

Every exercise of the book is an :class:`Exercise` registered here under a key such as
``"ch1.depth-to-vanish"``. A reader writes an answer in a cell and calls
``exercise.check(answer)``: a right answer is confirmed; a wrong one gets a specific message
(what is off, and a hint), never a traceback. Each exercise carries its reference solution
and typical wrong answers, which the test suite feeds to the checker.

    >>> from godeep.exercises import ch1
    >>> ch1.depth_to_vanish.check(...)        # the unanswered state shown in the book
    ✏️ No answer yet: ...

How a checker judges:

* **Behaviour, not shape.** A coding answer is run on inputs chosen to separate right from wrong
  and compared with the reference solution on the same inputs (and weights).
* **Forbidden library calls.** Where the prompt says "write it yourself", the exercise lists the
  library functions it forbids (``forbidden=``). While the checker runs, each is replaced by a
  function that raises :class:`ForbiddenCall` (restored afterwards, even on error), and an answer
  whose code refers to one of them by name is rejected before it runs.
* **Never raises.** A wrong type, a wrong shape or an exception inside the reader's code is a ✗
  with a hint. Only the unanswered placeholder (``...`` or ``None``, or a function with an empty
  body) gives "✏️ No answer yet".
* **Unknown names.** ``get("ch9.nope")``, ``REGISTRY["ch9.nope"]`` and ``ch2.no_such_exercise``
  raise :class:`UnknownExercise`, a ``KeyError`` *and* ``AttributeError`` whose message lists the
  valid names (so ``hasattr`` and ``getattr(module, name, default)`` keep working).
* **Both frameworks.** :func:`framework_of` tells whether an answer (class, instance) is PyTorch
  or Keras; a checker that accepts both dispatches on it and checks both the same way.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import inspect
import math
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional

import numpy as np

__all__ = [
    "Feedback",
    "Exercise",
    "REGISTRY",
    "UnknownExercise",
    "ForbiddenCall",
    "all_exercises",
    "get",
    "correct",
    "wrong",
    "close_to",
    "as_number",
    "framework_of",
    "library_allowed",
    "predict",
    "reveal",
    "PREDICTIONS",
]


def _chapter_modules() -> tuple[str, ...]:
    """The chapter modules ``ch1``, ``ch2``, ... present in this package, in order."""
    import pkgutil

    names = [m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("ch")]
    return tuple(sorted(names, key=lambda n: int(n[2:]) if n[2:].isdigit() else 0))


CHAPTERS = _chapter_modules()


@dataclass(frozen=True)
class Feedback:
    """The verdict of a checker: ``correct`` and a message for the reader."""

    correct: bool
    message: str
    answered: bool = True

    def __repr__(self) -> str:
        if not self.answered:
            return f"✏️ No answer yet: {self.message}"
        return ("✅ Correct! " if self.correct else "❌ Not yet. ") + self.message

    __str__ = __repr__

    def __bool__(self) -> bool:
        return self.correct


def correct(message: str = "") -> Feedback:
    return Feedback(True, message)


def wrong(message: str) -> Feedback:
    return Feedback(False, message)


@dataclass(frozen=True)
class WrongAnswer:
    """A typical mistake, and a fragment the checker's message must contain for it."""

    answer: Any
    says: str


@dataclass
class Exercise:
    """One exercise: a checker, a reference solution and typical wrong answers."""

    key: str
    prompt: str
    checker: Callable[[Any], Feedback]
    solution: Callable[[], Any]
    wrong_answers: list[WrongAnswer] = field(default_factory=list)
    placeholder: str = "replace `...` with your answer and run the cell again."
    #: library functions the prompt forbids: ``(module, attribute path, label)`` triples
    forbidden: tuple[tuple[str, str, str], ...] = ()
    #: a coding exercise answered in Keras too: ``() -> answer`` written with Keras/TensorFlow
    keras_solution: Optional[Callable[[], Any]] = None

    @property
    def frameworks(self) -> tuple[str, ...]:
        """The frameworks whose reference answers the checker accepts (``()`` for a value question)."""
        return ("torch", "keras") if self.keras_solution is not None else ()

    def check(self, answer: Any) -> Feedback:
        """Check ``answer``; never raises (a checker bug aside)."""
        if answer is Ellipsis or answer is None:
            return Feedback(False, self.placeholder, answered=False)
        guard = _Forbid(self.forbidden)
        try:
            named = guard.named_in(answer)
        except Exception:  # pragma: no cover - introspection of an exotic object
            named = None
        if named is not None:
            return wrong(_forbidden_message(named))
        try:
            with guard:
                verdict = self.checker(answer)
        except ForbiddenCall as call:
            return wrong(_forbidden_message(call.label))
        except Exception as error:  # the reader's code may raise anything: report, don't crash
            return wrong(
                f"running your answer raised {type(error).__name__}: {error}. "
                "Fix that error (run your code on a small input first) and check again."
            )
        if guard.called:  # the reader's code caught the ForbiddenCall and went on
            return wrong(_forbidden_message(guard.called[0]))
        if not isinstance(verdict, Feedback):  # pragma: no cover - programming error in a checker
            raise TypeError(f"checker of {self.key} returned {type(verdict).__name__}, not Feedback")
        return verdict

    def __repr__(self) -> str:
        return f"Exercise({self.key!r}: {self.prompt})"


class UnknownExercise(KeyError, AttributeError):
    """No exercise of that name. A ``KeyError`` for registry look-ups and an ``AttributeError``
    for ``chN.name`` (so ``hasattr`` works); the message lists the valid names."""

    def __init__(self, name: str, valid: Iterable[str], where: str = ""):
        self.name_asked, self.valid = name, sorted(valid)
        close = difflib.get_close_matches(str(name), self.valid, n=1)
        guess = f" Did you mean {close[0]!r}?" if close else ""
        super().__init__(f"no exercise {name!r}{where}.{guess} Valid names: {', '.join(self.valid)}.")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class _Registry(dict):
    """``key -> Exercise``; a missing key loads every chapter, then raises :class:`UnknownExercise`."""

    def __missing__(self, key: str) -> Exercise:
        all_exercises()
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        raise UnknownExercise(key, self.keys())


REGISTRY: dict[str, Exercise] = _Registry()


def exercise(
    key: str,
    prompt: str,
    solution: Callable[[], Any],
    wrong_answers=(),
    placeholder: Optional[str] = None,
    forbidden: Iterable[tuple[str, str, str]] = (),
    keras_solution: Optional[Callable[[], Any]] = None,
):
    """Decorator: register the decorated checker as exercise ``key``.

    ``keras_solution``: for a coding exercise answerable in both frameworks, the Keras
    reference answer (``solution`` is then the PyTorch one).

    ``forbidden``: ``(module, attribute path, label)`` of library functions the answer must not
    call, e.g. ``("torch.nn.init", "kaiming_uniform_", "torch.nn.init.kaiming_uniform_")``.
    """

    def register(checker: Callable[[Any], Feedback]) -> Exercise:
        if key in REGISTRY:
            raise ValueError(f"exercise {key!r} registered twice")
        ex = Exercise(
            key,
            prompt,
            checker,
            solution,
            [WrongAnswer(a, s) for a, s in wrong_answers],
            forbidden=tuple(forbidden),
            keras_solution=keras_solution,
        )
        if placeholder:
            ex.placeholder = placeholder
        REGISTRY[key] = ex
        return ex

    return register


def get(key: str) -> Exercise:
    """The exercise ``key`` (e.g. ``"ch2.conv-fans"``); :class:`UnknownExercise` lists the valid keys."""
    if not isinstance(key, str):
        raise UnknownExercise(repr(key), all_exercises())
    return REGISTRY[key]


def chapter_getattr(module_name: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` for a chapter: unknown attributes raise :class:`UnknownExercise`."""

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):  # dunder probes (copy, pickle, IPython) get the plain error
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        module = sys.modules[module_name]
        valid = [n for n, v in vars(module).items() if isinstance(v, Exercise)]
        raise UnknownExercise(name, valid, where=f" in {module_name.rsplit('.', 1)[-1]}")

    return __getattr__


def all_exercises() -> dict[str, Exercise]:
    """Every registered exercise of every chapter."""
    for chapter in CHAPTERS:
        importlib.import_module(f"{__name__}.{chapter}")
    return dict(REGISTRY)


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


def _resolve(module: str, path: str) -> Optional[tuple[Any, str, Any]]:
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

    def named_in(self, answer: Any) -> Optional[str]:
        """The label of a forbidden object the answer *is*, subclasses, or names in its code."""
        originals = self.originals()
        if not originals:
            return None
        for obj, label in originals:
            if answer is obj or (isinstance(answer, type) and isinstance(obj, type) and issubclass(answer, obj)):
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

        def forbidden_method(this: Any, *args: Any, **kwargs: Any) -> Any:  # Keras inspects __init__'s first arg
            self.called.append(label)
            raise ForbiddenCall(label)

        return forbidden_method if method else forbidden

    def __enter__(self) -> "_Forbid":
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
        cell.cell_contents
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


# ------------------------------------------------------------------ frameworks


_KERAS_ROOTS = ("keras", "tensorflow", "tf_keras")


def framework_of(answer: Any) -> Optional[str]:
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


def _framework_of_code(fn: Any) -> Optional[str]:
    """``"torch"``/``"keras"`` if a function's code refers to exactly one of the frameworks."""
    roots = set()
    try:
        values = _referenced_values(fn)
    except Exception:  # pragma: no cover - introspection of an exotic object
        return None
    for value in values:
        name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
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


def first_parameter(fn: Any) -> Optional[str]:
    """The name of ``fn``'s first parameter (``self`` skipped), or ``None`` if it has none."""
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None
    return params[0] if params else None


# ------------------------------------------------------------------ checking helpers


def as_number(answer: Any, what: str = "a number") -> float:
    """``answer`` as a float, or a ``TypeError`` that says what was expected.

    A number, a NumPy scalar or a 0-d array/tensor is accepted; a string is not coerced.
    """
    if isinstance(answer, bool):
        raise TypeError(f"expected {what}, got a bool")
    if isinstance(answer, (str, bytes)):
        raise TypeError(f"expected {what}, got the string {answer!r} (drop the quotes)")
    try:
        value = float(np.asarray(answer).item()) if np.ndim(answer) == 0 else None
    except (TypeError, ValueError):
        value = None
    if value is None:
        raise TypeError(f"expected {what}, got {type(answer).__name__}")
    return value


def close_to(
    answer: Any,
    expected: float,
    rtol: float = 1e-2,
    hints: Optional[list[tuple[float, str]]] = None,
    what: str = "the value",
    right: Optional[str] = None,
    advice: Optional[str] = None,
    hint_rtol: Optional[float] = None,
    fraction: bool = False,
) -> Feedback:
    """Compare a numeric answer with ``expected`` (relative tolerance ``rtol``).

    ``hints`` maps typical wrong values to specific messages (matched within ``hint_rtol``,
    default ``rtol``). ``right`` replaces the message for a correct answer. Otherwise the
    message says whether the answer is too large or too small, and by what factor, or, with
    ``advice``, "not quite (value): advice". ``fraction``: an answer outside [0, 1] is told so.
    """
    try:
        value = as_number(answer)
    except TypeError as error:
        return wrong(f"{error}. Give {what} as a plain number.")
    if not math.isfinite(value):
        return wrong(f"{what} should be a finite number, got {value}.")
    if math.isclose(value, expected, rel_tol=rtol, abs_tol=0.0):
        return correct(right if right is not None else f"{what} is {expected:.4g}.")
    for typical, message in hints or []:
        # an absolute tolerance only for a hint at 0 (tiny hints such as 0.5**54 must stay distinct)
        if math.isclose(value, typical, rel_tol=rtol if hint_rtol is None else hint_rtol, abs_tol=1e-12 if typical == 0 else 0.0):
            return wrong(message)
    if fraction and not 0 <= value <= 1:
        return wrong(f"{what} is a fraction: it lies between 0 and 1.")
    if advice is not None:
        return wrong(f"not quite ({value:.4g}): {advice}")
    if expected != 0 and value != 0 and np.sign(value) == np.sign(expected):
        factor = value / expected
        size = "too large" if factor > 1 else "too small"
        return wrong(f"{what} is {size} by a factor of about {max(factor, 1 / factor):.3g}.")
    return wrong(f"{what} is off: check the sign and the formula.")


from .predictions import PREDICTIONS, predict, reveal  # noqa: E402  (needs Feedback and as_number)
