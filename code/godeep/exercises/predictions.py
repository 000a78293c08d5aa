"""Predict, then run: the reader commits to a prediction before the cell that measures it.

    >>> ex.predict("ch4.degradation", "plain-20")      # in the cell before the experiment
    📌 Prediction recorded: 'plain-20'. Now run the experiment.
    >>> ex.reveal("ch4.degradation", measured)          # in the cell after it
    ✅ You predicted 'plain-20'; measured: 'plain-20'. Why: ...

Each section of the book has at least one entry in :data:`PREDICTIONS`: a prompt, the kind
of answer (one of a few ``options``, a ``number`` with a tolerance, or a ``sign``), and why the
result comes out as it does. :func:`reveal` takes the value the notebook *measured* (never a
stored answer) and says whether the recorded prediction was right. Neither function raises on
a reader's input: a bad answer or an unknown name is a ✗ with a hint.
"""

from __future__ import annotations

import difflib
from typing import Any

from . import Feedback
from .prediction_table import C1, C2, C3, C4, C5, PREDICTIONS  # noqa: F401  (re-exported)
from .prediction_types import _KINDS, Prediction, Verdict, _entries  # noqa: F401  (re-exported)

_RECORDED: dict[str, Any] = {}


def _lookup(key: Any) -> tuple[Prediction | None, str]:
    if isinstance(key, str) and key in PREDICTIONS:
        return PREDICTIONS[key], ""
    close = difflib.get_close_matches(str(key), list(PREDICTIONS), n=1)
    guess = f" Did you mean {close[0]!r}?" if close else ""
    return (
        None,
        f"no prediction called {key!r}.{guess} Valid names: {', '.join(sorted(PREDICTIONS))}.",
    )


def predict(key: str, answer: Any) -> Feedback:
    """Record the reader's prediction for ``key`` (before the cell that measures it); never raises."""
    entry, problem = _lookup(key)
    if entry is None:
        return Verdict(False, problem)
    value, hint = entry.parse(answer)
    if value is None:
        _RECORDED.pop(key, None)
        return Verdict(False, hint, answered=answer is not Ellipsis and answer is not None)
    _RECORDED[key] = value
    return Verdict(
        True,
        f"prediction recorded: {value!r}. Now run the next cells, which measure it.",
        stage="recorded",
    )


def reveal(key: str, measured: Any, why: str | None = None) -> Feedback:
    """Compare the recorded prediction with the ``measured`` result and explain; never raises.

    ``why``: the notebook's own explanation (defaults to the registry's).
    """
    entry, problem = _lookup(key)
    if entry is None:
        return Verdict(False, problem)
    actual, hint = entry.measured_as_answer(measured)
    if actual is None:  # the notebook passed something unexpected: say so, don't crash
        return Verdict(False, f"cannot read the measured result {measured!r}: {hint}")
    shown = f"{actual:.3g}" if isinstance(actual, float) else repr(actual)
    because = why or entry.why
    if key not in _RECORDED:
        return Verdict(
            False,
            f"measured: {shown}. You made no prediction (run ex.predict({key!r}, ...) first). Why: {because}",
            answered=False,
        )
    predicted = _RECORDED[key]
    said = f"{predicted:.3g}" if isinstance(predicted, float) else repr(predicted)
    return Verdict(
        entry.agrees(predicted, actual),
        f"you predicted {said}; measured: {shown}. Why: {because}",
        stage="revealed",
    )


def clear() -> None:
    """Forget every recorded prediction."""
    _RECORDED.clear()
