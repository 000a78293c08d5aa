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

import difflib
import importlib
import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._forbid import (  # noqa: F401  (re-exported: godeep.exercises._Forbid, _resolve, ...)
    _ACTIVE,
    ForbiddenCall,
    _code_objects,
    _Forbid,
    _forbidden_message,
    _referenced_values,
    _resolve,
    library_allowed,
)
from ._frameworks import _KERAS_ROOTS, _framework_of_code, first_parameter, framework_of  # noqa: F401

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
    keras_solution: Callable[[], Any] | None = None

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
            raise TypeError(
                f"checker of {self.key} returned {type(verdict).__name__}, not Feedback"
            )
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
        super().__init__(
            f"no exercise {name!r}{where}.{guess} Valid names: {', '.join(self.valid)}."
        )

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
    placeholder: str | None = None,
    forbidden: Iterable[tuple[str, str, str]] = (),
    keras_solution: Callable[[], Any] | None = None,
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
    hints: list[tuple[float, str]] | None = None,
    what: str = "the value",
    right: str | None = None,
    advice: str | None = None,
    hint_rtol: float | None = None,
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
        if math.isclose(
            value,
            typical,
            rel_tol=rtol if hint_rtol is None else hint_rtol,
            abs_tol=1e-12 if typical == 0 else 0.0,
        ):
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
