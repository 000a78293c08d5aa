"""Every exercise accepts its reference solution and rejects typical mistakes with the right hint."""

import pytest

from godeep.exercises import Feedback, all_exercises, close_to

EXERCISES = all_exercises()
WRONG = [(key, i) for key, ex in EXERCISES.items() for i in range(len(ex.wrong_answers))]


CODING = sorted(key for key, ex in EXERCISES.items() if ex.frameworks)


@pytest.mark.parametrize("chapter", [1, 2, 3, 4, 5])
def test_every_chapter_has_three_coding_exercises_in_both_frameworks(chapter):
    coding = [k for k in CODING if k.startswith(f"ch{chapter}.")]
    assert len(coding) >= 3, coding
    for key in coding:
        assert EXERCISES[key].frameworks == ("torch", "keras")


@pytest.mark.parametrize("key", CODING)
def test_reference_solutions_pass_in_both_frameworks(key):
    """The PyTorch and the Keras reference answers are accepted, and each is written in its framework."""
    from godeep.exercises import framework_of

    ex = EXERCISES[key]
    answers = {"torch": ex.solution(), "keras": ex.keras_solution()}
    for framework, answer in answers.items():
        feedback = ex.check(answer)
        assert feedback.correct, (framework, feedback.message)
        assert framework_of(answer) in (framework, None), (framework, framework_of(answer))
    assert answers["torch"] is not answers["keras"]


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_reference_solution_is_accepted(key):
    feedback = EXERCISES[key].check(EXERCISES[key].solution())
    assert isinstance(feedback, Feedback) and feedback.correct, feedback.message


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_unanswered_state_is_friendly(key):
    for placeholder in (..., None):
        feedback = EXERCISES[key].check(placeholder)
        assert not feedback.correct and not feedback.answered
        assert repr(feedback).startswith("✏️ No answer yet")


@pytest.mark.parametrize("key, index", WRONG)
def test_typical_wrong_answers_get_their_hint(key, index):
    ex = EXERCISES[key]
    wrong = ex.wrong_answers[index]
    feedback = ex.check(wrong.answer)
    assert not feedback.correct
    assert wrong.says in feedback.message, feedback.message
    assert repr(feedback).startswith("❌ Not yet.")


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_every_exercise_lists_wrong_answers(key):
    assert len(EXERCISES[key].wrong_answers) >= 3


def test_an_empty_function_is_unanswered():
    def tanh_saturation(h): ...

    feedback = EXERCISES["ch1.tanh-saturation"].check(tanh_saturation)
    assert not feedback.answered and "returns None" in feedback.message


def test_a_crashing_answer_is_reported_not_raised():
    def broken(h):
        raise ZeroDivisionError("oops")

    feedback = EXERCISES["ch1.tanh-saturation"].check(broken)
    assert not feedback.correct and "ZeroDivisionError" in feedback.message


def test_close_to_messages():
    assert close_to(1.0, 1.0).correct
    assert "too large" in close_to(2.0, 1.0).message
    assert "too small" in close_to(0.5, 1.0).message
    assert "sign" in close_to(-1.0, 1.0).message
    assert "plain number" in close_to("one", 1.0).message
    assert "finite" in close_to(float("inf"), 1.0).message


@pytest.fixture(scope="module")
def lesion_answer():
    return EXERCISES["ch5.own-lesion"].solution()


def test_own_lesion_checks_the_model_itself(lesion_answer):
    from godeep import resmlp, signals

    ex = EXERCISES["ch5.own-lesion"]
    model, scores = lesion_answer
    assert ex.check((model, scores)).correct and "intact" in ex.check((model, scores)).message
    tampered = {**scores, "none": scores["none"] - 0.05}
    assert "do not match" in ex.check((model, tampered)).message
    assert "every block" in ex.check((model, {"none": scores["none"]})).message
    plain = resmlp.residual_mlp(64, 16, 8, 10, plain=True)
    assert "plain" in ex.check((plain, {})).message
    assert "at least 6" in ex.check((resmlp.residual_mlp(64, 16, 4, 10), {})).message
    assert "64 pixels" in ex.check((resmlp.residual_mlp(32, 16, 8, 10), {})).message
    untrained = resmlp.residual_mlp(64, 16, 8, 10).eval()
    names = list(resmlp.blocks(untrained))
    fresh = signals.lesion_study(untrained, names, lambda m: 0.1)
    assert "train it first" in ex.check((untrained, fresh)).message


def test_own_lesion_accepts_a_keras_net(lesion_answer):
    from godeep.exercises.ch5 import _digits_accuracy
    from godeep.keras import models as kmodels, resmlp as kresmlp, signals as ksignals

    ex = EXERCISES["ch5.own-lesion"]
    model, _ = lesion_answer
    twin = kmodels.copy_from_torch(kresmlp.residual_mlp(64, 32, 10, 10, batch_norm=True), model)
    scores = ksignals.lesion_study(twin, list(kresmlp.blocks(twin)), _digits_accuracy)
    feedback = ex.check((twin, scores))
    assert feedback.correct, feedback.message
    assert "plain" in ex.check((kresmlp.residual_mlp(64, 16, 8, 10, plain=True), {})).message


# ------------------------------------------------------------------ predict, then run


def _toc_sections():
    import pathlib
    import re

    toc = (pathlib.Path(__file__).parents[1] / "_toc.yml").read_text()
    return [
        s
        for s in re.findall(r"file: (chapters/\S+)", toc)
        if not s.endswith(("intro", "reproducing"))
    ]


def test_every_section_of_the_book_has_a_prediction():
    from godeep.exercises import PREDICTIONS

    sections = _toc_sections()
    assert len(sections) == 34
    covered = {p.section for p in PREDICTIONS.values()}
    assert set(sections) <= covered, sorted(set(sections) - covered)
    assert covered <= set(sections), sorted(covered - set(sections))


def _exercise_cells(path) -> tuple[bool, bool]:
    """Whether the notebook at ``path`` has an ``{exercise}`` directive in a markdown cell and
    a code cell that calls ``.check(`` (comments ignored)."""
    import json

    cells = json.loads(path.read_text())["cells"]
    markdown = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    code = [
        "\n".join(line.split("#", 1)[0] for line in "".join(c["source"]).splitlines())
        for c in cells
        if c["cell_type"] == "code"
    ]
    directive = any("```{exercise}" in source for source in markdown)
    return directive, any(".check(" in source for source in code)


#: Sections allowed to lack a checked exercise: none since December 2026, when the last eleven
#: got theirs. A section added without one fails the test below.
WITHOUT_EXERCISE: set[str] = set()


def test_every_section_of_the_book_ends_with_a_checked_exercise():
    """Every section (a notebook of _toc.yml under chapters/, its source, not the derived
    per-framework copies) has an {exercise} directive and a code cell calling a checker,
    except the listed ones, which must still lack it."""
    import pathlib

    sections = _toc_sections()
    assert len(sections) >= 34
    root = pathlib.Path(__file__).parents[1]
    found = {s: _exercise_cells(root / f"{s}.ipynb") for s in sections}
    missing = {s for s, cells in found.items() if not all(cells)}
    assert missing <= WITHOUT_EXERCISE, "no exercise (directive, .check(): " + str(
        {s: found[s] for s in sorted(missing - WITHOUT_EXERCISE)}
    )
    assert WITHOUT_EXERCISE <= missing, (
        f"these sections have an exercise now: remove them from WITHOUT_EXERCISE: "
        f"{sorted(WITHOUT_EXERCISE - missing)}"
    )


def test_a_section_without_its_exercise_is_caught(tmp_path):
    """The scan finds a directive only in markdown and a check only in live code."""
    import json

    directive = {"cell_type": "markdown", "source": ["```{exercise}\n", ":label: x\n", "```"]}
    check = {"cell_type": "code", "source": ["answer = ...\n", "ch4.dense_width.check(answer)"]}
    commented = {"cell_type": "code", "source": ["answer = ...  # ch4.dense_width.check(answer)"]}
    as_code = {"cell_type": "code", "source": ["# ```{exercise}"]}
    cases = {
        (True, True): [directive, check],
        (True, False): [directive, commented],
        (False, True): [as_code, check],
    }
    for expected, cells in cases.items():
        path = tmp_path / "section.ipynb"
        path.write_text(json.dumps({"cells": cells}))
        assert _exercise_cells(path) == expected, cells


@pytest.fixture()
def ex():
    from godeep import exercises
    from godeep.exercises import predictions

    predictions.clear()
    yield exercises
    predictions.clear()


def test_predict_then_reveal_a_choice(ex):
    recorded = ex.predict("ch4.degradation", "Plain-56")  # options match case-insensitively
    assert recorded.correct and repr(recorded).startswith("📌 prediction recorded: 'plain-56'")
    feedback = ex.reveal("ch4.degradation", "plain-20")
    assert (
        not feedback.correct
        and "you predicted 'plain-56'" in feedback.message
        and "optimization problem" in feedback.message
    )
    assert repr(feedback).startswith("❌ Your prediction was off")
    ex.predict("ch4.degradation", "plain-20")
    assert repr(ex.reveal("ch4.degradation", "plain-20")).startswith("✅ Your prediction was right")


def test_predict_then_reveal_numbers_and_signs(ex):
    ex.predict("ch2.relu-second-moment", 0.5)
    assert ex.reveal("ch2.relu-second-moment", 0.498).correct
    ex.predict("ch2.relu-second-moment", 1.0)
    assert not ex.reveal("ch2.relu-second-moment", 0.498).correct
    ex.predict("ch5.residual-gradient-ratio", 3)  # judged within a factor 5
    assert ex.reveal("ch5.residual-gradient-ratio", 12.0).correct
    assert not ex.reveal("ch5.residual-gradient-ratio", 1e7).correct
    ex.predict("ch5.shattered", "0")
    assert ex.reveal("ch5.shattered", 0.05).correct  # |rho| < 0.2 counts as 0
    assert not ex.reveal("ch5.shattered", 0.6).correct
    ex.predict("ch5.shattered", -1)
    assert ex.reveal("ch5.shattered", -0.5).correct


def test_the_explanation_can_come_from_the_notebook(ex):
    ex.predict("ch1.tanh-fade", "shrink")
    feedback = ex.reveal("ch1.tanh-fade", "shrink", why="measured std 0.63 -> 0.32")
    assert feedback.correct and "0.63 -> 0.32" in feedback.message


@pytest.mark.parametrize(
    "key, answer, says",
    [
        ("ch4.degradation", "plain-34", "not one of the options"),
        ("ch4.degradation", "plain 20", "Did you mean 'plain-20'"),
        ("ch4.degradation", 20, "a string"),
        ("ch2.relu-second-moment", "0.5", "drop the quotes"),
        ("ch2.relu-second-moment", float("nan"), "finite"),
        ("ch5.residual-gradient-ratio", -3, "> 0"),
        ("ch5.shattered", "positive", "sign"),
        ("ch4.degradaton", "plain-20", "Did you mean 'ch4.degradation'"),
        (["ch4.degradation"], "plain-20", "Valid names"),
    ],
)
def test_bad_predictions_are_a_cross_with_a_hint_never_an_error(ex, key, answer, says):
    feedback = ex.predict(key, answer)
    assert not feedback.correct and says in feedback.message, feedback.message
    assert repr(feedback).startswith("❌ Not a valid prediction")


def test_reveal_without_a_prediction_and_with_a_bad_measurement(ex):
    feedback = ex.reveal("ch4.degradation", "plain-20")
    assert not feedback.answered and "no prediction" in feedback.message
    ex.predict("ch2.relu-second-moment", 0.5)
    assert "cannot read" in ex.reveal("ch2.relu-second-moment", "half").message
    assert "Valid names" in ex.reveal("nope", 1).message
    unanswered = ex.predict("ch4.degradation", ...)
    assert not unanswered.answered and repr(unanswered).startswith("✏️")


def test_every_prediction_accepts_its_own_options_and_rejects_junk(ex):
    for key, entry in ex.PREDICTIONS.items():
        good = {"choice": entry.options[0] if entry.options else None, "number": 1.0, "sign": "+"}[
            entry.kind
        ]
        assert ex.predict(key, good).correct, key
        for junk in (object(), {"a": 1}, b"x", [1, 2]):
            assert not ex.predict(key, junk).correct
            assert isinstance(ex.reveal(key, junk).message, str)


def test_importing_the_exercises_loads_neither_framework():
    """A chapter notebook imports its exercises: that must not pull in TensorFlow (or PyTorch) by itself."""
    import os
    import subprocess
    import sys

    code = (
        "import sys, godeep.exercises as E; E.all_exercises(); "
        "print(sorted(m for m in ('torch', 'keras', 'tensorflow') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
