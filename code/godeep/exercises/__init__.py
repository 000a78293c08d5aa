"""Exercises with instant feedback.

Every exercise of the book is an :class:`Exercise` registered here under a key such as
``"ch1.depth-to-vanish"``. A reader writes an answer in a cell and calls
``exercise.check(answer)``: a right answer is confirmed; a wrong one gets a specific message
(what is off, and a hint), never a traceback. Each exercise carries its reference solution
and typical wrong answers, which the test suite feeds to the checker.

    >>> from godeep.exercises import ch1
    >>> ch1.depth_to_vanish.check(...)        # the unanswered state shown in the book
    ✏️ No answer yet: ...
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

__all__ = ["Feedback", "Exercise", "REGISTRY", "all_exercises", "correct", "wrong", "close_to"]


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

    def check(self, answer: Any) -> Feedback:
        """Check ``answer``; never raises."""
        if answer is Ellipsis or answer is None:
            return Feedback(False, self.placeholder, answered=False)
        try:
            verdict = self.checker(answer)
        except Exception as error:  # the reader's code may raise anything: report, don't crash
            return wrong(f"checking your answer raised {type(error).__name__}: {error}")
        if not isinstance(verdict, Feedback):  # pragma: no cover - programming error in a checker
            raise TypeError(f"checker of {self.key} returned {type(verdict).__name__}, not Feedback")
        return verdict

    def __repr__(self) -> str:
        return f"Exercise({self.key!r}: {self.prompt})"


REGISTRY: dict[str, Exercise] = {}


def exercise(key: str, prompt: str, solution: Callable[[], Any], wrong_answers=(), placeholder: Optional[str] = None):
    """Decorator: register the decorated checker as exercise ``key``."""

    def register(checker: Callable[[Any], Feedback]) -> Exercise:
        if key in REGISTRY:
            raise ValueError(f"exercise {key!r} registered twice")
        ex = Exercise(key, prompt, checker, solution, [WrongAnswer(a, s) for a, s in wrong_answers])
        if placeholder:
            ex.placeholder = placeholder
        REGISTRY[key] = ex
        return ex

    return register


def all_exercises() -> dict[str, Exercise]:
    """Every registered exercise of every chapter."""
    for chapter in CHAPTERS:
        importlib.import_module(f"{__name__}.{chapter}")
    return dict(REGISTRY)


# ------------------------------------------------------------------ checking helpers


def as_number(answer: Any, what: str = "a number") -> float:
    """``answer`` as a float, or a ``TypeError`` that says what was expected."""
    if isinstance(answer, bool):
        raise TypeError(f"expected {what}, got a bool")
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
