"""Chapter 3: find the bug in evaluate(): a BN network measured in inference mode, without side effects."""

from __future__ import annotations

import math

import numpy as np

from .. import Feedback, as_number, correct, exercise, framework_of, wrong
from ..native import solutions


def _solutions(framework: str):
    return solutions(3, framework)


# ------------------------------------------------------------------ 3.3 find the bug: evaluating in training mode


def _reference_evaluate(model, x, y) -> float:
    """Accuracy of a PyTorch model in inference mode, leaving its mode as it was."""
    import torch

    was_training = model.training
    model.eval()
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).double().mean().item()
    model.train(was_training)
    return accuracy


def _buggy_evaluate(model, x, y) -> float:
    import torch

    with torch.no_grad():  # no_grad stops gradients, not BatchNorm's training mode
        return (model(x).argmax(1) == y).double().mean().item()


def _evaluate_no_restore(model, x, y) -> float:
    import torch

    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).double().mean().item()


def _bn_case():
    """A small BN network with non-trivial running statistics, and a batch whose statistics differ from them."""
    import torch

    from ...models import mlp

    torch.manual_seed(0)
    model = mlp(6, 8, 2, 3, "relu", norm="batch", dtype="float64")
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for _ in range(30):  # the running statistics see a centred input distribution
            model(torch.as_tensor(rng.standard_normal((32, 6))))
    x = torch.as_tensor(
        rng.standard_normal((200, 6)) + 1.5
    )  # test inputs drawn from a shifted distribution
    model.eval()
    with torch.no_grad():
        y = model(torch.as_tensor(rng.standard_normal((200, 6)) + 1.5)).argmax(1)
        y = model(x).argmax(1)  # labels: the model's own inference-mode predictions
    model.train()
    return model, x, y


def _accuracy_value(accuracy, example: str):
    """The returned accuracy as a float, or the Feedback that says what is wrong with it."""
    if accuracy is None:
        return Feedback(
            False,
            "your function returns None: write its body and run the cell again.",
            answered=False,
        )
    try:
        return as_number(accuracy, "the accuracy as a number")
    except TypeError as error:
        return wrong(f"{error}: return the accuracy as a float{example}.")


def _check_evaluate(fn) -> Feedback:
    """Three probes: labels the model gets all right, half right, and a model that arrives in eval mode."""
    import copy

    try:
        import torch
    except (
        ImportError
    ):  # a Keras-only kernel (the TensorFlow notebook): judge the answer as Keras code
        if not callable(fn) or isinstance(fn, type):
            return wrong(
                "give a function: def evaluate(model, x, y): ... returning the accuracy (a float)."
            )
        return _check_evaluate_keras(fn)
    if not callable(fn) or isinstance(fn, type) or isinstance(fn, torch.nn.Module):
        return wrong(
            "give a function: def evaluate(model, x, y): ... returning the accuracy (a float)."
        )
    if framework_of(fn) == "keras":
        return _check_evaluate_keras(fn)
    model, x, y = _bn_case()
    half = y.clone()
    half[::2] = (half[::2] + 1) % 3  # every other label wrong: inference-mode accuracy exactly 1/2
    for labels, start_training in ((y, True), (half, True), (half, False)):
        model.train(start_training)
        with torch.no_grad():
            expected = _reference_evaluate(model, x, labels)
            batch_stats = copy.deepcopy(model).train()
            in_training_mode = (batch_stats(x).argmax(1) == labels).double().mean().item()
        before = [b.clone() for b in model.buffers()]
        value = _accuracy_value(fn(model, x, labels), ", e.g. (pred == y).double().mean().item()")
        if isinstance(value, Feedback):
            return value
        changed = any(not torch.equal(a, b) for a, b in zip(before, model.buffers()))
        if changed:
            return wrong(
                "evaluating changed the BatchNorm running statistics: the model ran in training "
                "mode (torch.no_grad() does not switch BatchNorm to inference; model.eval() does)."
            )
        if not math.isclose(value, expected, abs_tol=1e-9):
            if math.isclose(value, in_training_mode, abs_tol=1e-9):
                return wrong(
                    f"your accuracy {value:.3f} is the training-mode one (batch statistics); in "
                    f"inference mode the model gets {expected:.3f}: use the running statistics "
                    "(model.eval())."
                )
            if math.isclose(value, 100 * expected, rel_tol=1e-9):
                return wrong("give the accuracy as a fraction between 0 and 1, not a percentage.")
            return wrong(
                f"your function returns {value:.3f}, but in inference mode the model gets "
                f"{expected:.3f} of these labels right: compute it from model(x) and y, as the "
                "fraction of argmax predictions equal to y."
            )
        if model.training != start_training:
            if start_training:
                return wrong(
                    "right accuracy, but the model is left in eval mode: the next training epoch "
                    "would silently use running statistics. Restore the mode "
                    "(model.train(was_training))."
                )
            return wrong(
                "right accuracy, but a model that came in eval mode leaves in training mode: "
                "restore the mode it had (was_training = model.training ... "
                "model.train(was_training))."
            )
    return correct(
        "inference mode for the evaluation, running statistics untouched, training mode restored afterwards."
    )


def _reference_evaluate_keras(model, x, y) -> float:
    """Accuracy of a Keras model in inference mode: model(x, training=False) (Keras has no mode to restore)."""
    import keras

    predictions = np.argmax(keras.ops.convert_to_numpy(model(x, training=False)), axis=1)
    return float(np.mean(predictions == np.asarray(y)))


def _buggy_evaluate_keras(model, x, y) -> float:
    import keras

    predictions = np.argmax(keras.ops.convert_to_numpy(model(x, training=True)), axis=1)
    return float(np.mean(predictions == np.asarray(y)))


def _bn_case_keras():
    """The Keras twin of :func:`_bn_case`: moving statistics from centred inputs, test inputs shifted."""
    import keras

    from ...keras import models as kmodels

    keras.utils.set_random_seed(0)
    model = kmodels.mlp(6, 8, 2, 3, "relu", norm="batch", dtype="float64")
    rng = np.random.default_rng(0)
    for _ in range(30):
        model(rng.standard_normal((32, 6)), training=True)
    x = rng.standard_normal((200, 6)) + 1.5
    y = np.argmax(keras.ops.convert_to_numpy(model(x, training=False)), axis=1)
    return model, x, y


def _check_evaluate_keras(fn) -> Feedback:
    """The Keras form: inference with training=False, moving statistics untouched (same probes)."""
    import keras

    model, x, y = _bn_case_keras()
    half = y.copy()
    half[::2] = (half[::2] + 1) % 3
    for labels in (y, half):
        expected = _reference_evaluate_keras(model, x, labels)
        before = [np.array(keras.ops.convert_to_numpy(w)) for w in model.non_trainable_weights]
        value = _accuracy_value(fn(model, x, labels), "")
        if isinstance(value, Feedback):
            return value
        after = [np.array(keras.ops.convert_to_numpy(w)) for w in model.non_trainable_weights]
        if any(not np.array_equal(a, b) for a, b in zip(before, after)):
            return wrong(
                "evaluating changed the BatchNormalization moving statistics: the model ran with "
                "training=True. Call model(x, training=False) (or model.predict)."
            )
        if not math.isclose(value, expected, abs_tol=1e-9):
            if math.isclose(value, 100 * expected, rel_tol=1e-9):
                return wrong("give the accuracy as a fraction between 0 and 1, not a percentage.")
            return wrong(
                f"your function returns {value:.3f}, but in inference mode the model gets "
                f"{expected:.3f} of these labels right: compute it from model(x, training=False) "
                "and y."
            )
    return correct(
        "inference mode (training=False) for the evaluation, moving statistics untouched."
    )


def _evaluate_always_train(model, x, y) -> float:
    import torch

    model.eval()
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).double().mean().item()
    model.train()
    return accuracy


def _evaluate_on_a_copy_in_train_mode(model, x, y) -> float:
    import copy

    import torch

    with torch.no_grad():
        return (copy.deepcopy(model)(x).argmax(1) == y).double().mean().item()


find_the_bug = exercise(
    "ch3.find-the-bug",
    "Fix evaluate(model, x, y) so that it measures a BatchNorm network's accuracy in inference "
    "mode, without side effects.",
    solution=lambda: _solutions("torch").evaluate,
    keras_solution=lambda: _solutions("keras").evaluate,
    wrong_answers=[
        (_buggy_evaluate, "does not switch BatchNorm"),
        (_evaluate_no_restore, "left in eval mode"),
        (0.9, "give a function"),
        (lambda model, x, y: 1.0, "of these labels right"),
        (_evaluate_always_train, "came in eval mode"),
        (_evaluate_on_a_copy_in_train_mode, "training-mode one"),
        (lambda model, x, y: "100%", "string"),
        (lambda model, x, y: 100 * _reference_evaluate(model, x, y), "percentage"),
        (_buggy_evaluate_keras, "training=True"),
    ],
)(_check_evaluate)
