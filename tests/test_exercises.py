"""Every exercise accepts its reference solution and rejects typical mistakes with the right hint."""

import pytest

from godeep.exercises import Exercise, Feedback, all_exercises, close_to

EXERCISES = all_exercises()
WRONG = [(key, i) for key, ex in EXERCISES.items() for i in range(len(ex.wrong_answers))]


def test_every_chapter_has_exercises():
    assert any(key.startswith("ch1.") for key in EXERCISES)


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
    def tanh_saturation(h):
        ...

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
