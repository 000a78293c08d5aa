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
    from godeep.keras import models as kmodels, resmlp as kresmlp, signals as ksignals
    from godeep.exercises.ch5 import _digits_accuracy

    ex = EXERCISES["ch5.own-lesion"]
    model, _ = lesion_answer
    twin = kmodels.copy_from_torch(kresmlp.residual_mlp(64, 32, 10, 10, batch_norm=True), model)
    scores = ksignals.lesion_study(twin, list(kresmlp.blocks(twin)), _digits_accuracy)
    feedback = ex.check((twin, scores))
    assert feedback.correct, feedback.message
    assert "plain" in ex.check((kresmlp.residual_mlp(64, 16, 8, 10, plain=True), {})).message
