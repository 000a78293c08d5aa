"""The types of a predict-then-run prompt: :class:`Prediction` (the prompt, the kind of answer
and how it is judged) and :class:`Verdict` (the feedback)."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

from . import Feedback, as_number

_KINDS = ("choice", "number", "sign")


@dataclass(frozen=True)
class Verdict(Feedback):
    """A :class:`Feedback` worded for predictions: ``stage`` is ``"recorded"``, ``"revealed"`` or ``"invalid"``."""

    stage: str = "invalid"

    def __repr__(self) -> str:
        if not self.answered:
            return f"✏️ No answer yet: {self.message}"
        if self.stage == "recorded":
            return f"📌 {self.message}"
        if self.stage == "revealed":
            return (
                "✅ Your prediction was right: " if self.correct else "❌ Your prediction was off: "
            ) + self.message
        return f"❌ Not a valid prediction: {self.message}"

    __str__ = __repr__


@dataclass(frozen=True)
class Prediction:
    """One predict-then-run prompt of a section.

    ``kind``: ``"choice"`` (one of ``options``), ``"number"`` (right if within ``rtol`` of the
    measured value, or within a factor ``factor`` when given: orders of magnitude), or
    ``"sign"`` (``"+"``, ``"-"`` or ``"0"``; a measured value within ``zero`` of 0 counts as 0).
    """

    key: str
    section: str
    prompt: str
    kind: str
    why: str
    options: tuple[str, ...] = ()
    rtol: float = 0.1
    factor: float | None = None
    zero: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {self.kind!r}")
        if (self.kind == "choice") != bool(self.options):
            raise ValueError("a choice prediction needs options; only a choice has them")

    def parse(self, answer: Any) -> tuple[Any | None, str]:
        """``(value, "")`` for a valid answer, or ``(None, hint)``."""
        if answer is Ellipsis or answer is None:
            return None, "replace `...` with your prediction and run the cell again."
        if self.kind == "choice":
            if not isinstance(answer, str):
                return None, f"answer with one of {list(self.options)} (a string)."
            match = [o for o in self.options if o.lower() == answer.strip().lower()]
            if not match:
                close = difflib.get_close_matches(answer.strip(), self.options, n=1)
                guess = f" Did you mean {close[0]!r}?" if close else ""
                return None, f"{answer!r} is not one of the options {list(self.options)}.{guess}"
            return match[0], ""
        if self.kind == "sign":
            if isinstance(answer, str) and answer.strip() in ("+", "-", "0"):
                return answer.strip(), ""
            if (
                isinstance(answer, (int, float))
                and not isinstance(answer, bool)
                and answer in (-1, 0, 1)
            ):
                return {1: "+", -1: "-", 0: "0"}[int(answer)], ""
            return None, "answer with the sign: '+', '-' or '0' (or 1, -1, 0)."
        try:
            value = as_number(answer, "a number")
        except TypeError as error:
            return None, f"{error}; give your prediction as a plain number."
        if not math.isfinite(value):
            return None, "give a finite number."
        if self.factor is not None and value <= 0:
            return (
                None,
                "this prediction is a positive quantity (judged within a factor): give a number > 0.",
            )
        return value, ""

    def measured_as_answer(self, measured: Any) -> tuple[Any | None, str]:
        """The measured result in the answer's terms (an option, a number, a sign)."""
        if self.kind == "sign":
            try:
                value = as_number(measured, "the measured number")
            except TypeError as error:
                return None, str(error)
            return ("0" if abs(value) <= self.zero else "+" if value > 0 else "-"), ""
        return self.parse(measured)

    def agrees(self, predicted: Any, measured: Any) -> bool:
        if self.kind == "number":
            if self.factor is not None:
                return (
                    measured > 0 and max(predicted / measured, measured / predicted) <= self.factor
                )
            return math.isclose(predicted, measured, rel_tol=self.rtol, abs_tol=1e-12)
        return predicted == measured


def _entries(*entries: Prediction) -> dict[str, Prediction]:
    table: dict[str, Prediction] = {}
    for entry in entries:
        if entry.key in table:
            raise ValueError(f"prediction {entry.key!r} defined twice")
        table[entry.key] = entry
    return table
