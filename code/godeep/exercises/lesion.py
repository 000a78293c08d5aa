"""Chapter 5 exercise: a lesion study of your own residual MLP (PyTorch or Keras)."""

from __future__ import annotations

import math

from . import correct, exercise, wrong

_LESION_MIN_BLOCKS = 6


def _is_keras(model) -> bool:
    return type(model).__module__.split(".")[0] == "keras"


def _digits_accuracy(model) -> float:
    """Test accuracy on the 8x8 digits (the evaluator the exercise asks for), either framework."""
    from .. import data

    digits = data.digits()
    if _is_keras(model):
        from ..keras import train as ktrain

        return ktrain.evaluate(model, digits.x_test, digits.y_test)[1]
    from .. import train

    return train.evaluate(model, digits.x_test, digits.y_test)[1]


def _own_lesion_solution():
    """A 10-block residual MLP with batch norm, trained for 10 epochs, and its lesion study."""
    import torch

    from .. import data, resmlp, seed_everything, signals, train

    seed_everything(0)
    model = resmlp.residual_mlp(
        64,
        32,
        10,
        10,
        batch_norm=True,
        init=lambda w: torch.nn.init.kaiming_normal_(w, nonlinearity="relu"),
    )
    train.fit(model, data.digits(), epochs=10, lr=1e-3, optimizer="adam", batch_size=64, seed=0)
    model.eval()
    return model, signals.lesion_study(model, list(resmlp.blocks(model)), _digits_accuracy)


def _lesion_tools(model):
    """(blocks, lesion_study, residual?, (inputs, outputs)) of a PyTorch or Keras residual_mlp, or a message."""
    if _is_keras(model):
        from ..keras import resmlp as kresmlp, signals as ksignals

        try:
            found = kresmlp.blocks(model)
        except (TypeError, ValueError):
            return (
                "build the net with godeep.keras.resmlp.residual_mlp, so that its blocks can be "
                "deleted one at a time."
            )
        sizes = (model.inputs[0].shape[-1], model.outputs[0].shape[-1])
        return found, ksignals.lesion_study, all(b.residual for b in found.values()), sizes
    from torch import nn

    from .. import resmlp, signals

    if not isinstance(model, nn.Module):
        return (
            f"the first item must be your model (godeep.resmlp.residual_mlp, or its Keras twin), "
            f"got {type(model).__name__}."
        )
    try:
        found = resmlp.blocks(model)
    except ValueError:
        return "build the net with godeep.resmlp.residual_mlp, so that its blocks can be deleted one at a time."
    return (
        found,
        signals.lesion_study,
        all(b.residual for b in found.values()),
        (model.inp.in_features, model.out.out_features),
    )


def _check_own_lesion(answer):
    """The reader's (model, scores): a trained residual net of >= 6 blocks and its lesion study."""
    import numpy as np

    if not isinstance(answer, tuple) or len(answer) != 2:
        return wrong(
            "give a pair (model, scores): your trained net and the dict returned by signals.lesion_study."
        )
    model, scores = answer
    tools = _lesion_tools(model)
    if isinstance(tools, str):
        return wrong(tools)
    found, lesion_study, residual, sizes = tools
    if not residual:
        return wrong(
            "this net is plain (plain=True): every deletion breaks its only path. Study a residual net (plain=False)."
        )
    if len(found) < _LESION_MIN_BLOCKS:
        return wrong(
            f"use at least {_LESION_MIN_BLOCKS} blocks: with {len(found)} there is little to delete."
        )
    if tuple(sizes) != (64, 10):
        return wrong(
            "the net must read the 64 pixels of godeep.data.digits() and output 10 classes."
        )
    if not isinstance(scores, dict) or "none" not in scores:
        return wrong(
            "the second item must be the dict returned by signals.lesion_study (with the key 'none')."
        )
    if set(scores) != {"none", *found}:
        return wrong(
            f"delete every block in turn: pass list(resmlp.blocks(model)), the names {list(found)[:3]} ..."
        )
    was_training = getattr(model, "training", None)
    if was_training is not None:  # PyTorch: evaluate in eval mode, then leave the model as it was
        model.eval()
    try:
        ours = lesion_study(model, list(found), _digits_accuracy)
    finally:
        if was_training is not None:
            model.train(was_training)
    if ours["none"] < 0.5:
        return wrong(
            f"your net is at {ours['none']:.0%} test accuracy: train it first (e.g. train.fit for 10 epochs), "
            "a lesion study of an untrained net says nothing."
        )
    if any(not math.isclose(float(scores[k]), v, abs_tol=1e-6) for k, v in ours.items()):
        return wrong(
            "your scores do not match a lesion study of this model with the test accuracy on data.digits(): "
            "evaluate with train.evaluate(model, digits.x_test, digits.y_test)[1] (PyTorch: after model.eval())."
        )
    deleted = np.array([v for k, v in ours.items() if k != "none"])
    worst = list(found)[int(deleted.argmin())]
    kept = np.median(deleted) / ours["none"]
    return correct(
        f"intact {ours['none']:.1%}; with one block deleted the median accuracy is {np.median(deleted):.1%} "
        f"({kept:.0%} of intact), the worst deletion is {worst} ({deleted.min():.1%}). "
        + (
            "It degrades gracefully, as Veit et al. found."
            if kept > 0.8
            else "It degrades more than the chapter's nets: compare its depth, width and training with theirs."
        )
    )


own_lesion = exercise(
    "ch5.own-lesion",
    "Train a residual MLP of your own (godeep.resmlp.residual_mlp or its Keras twin, >= 6 blocks, on "
    "godeep.data.digits()) and run the lesion study on it; answer (model, scores).",
    solution=_own_lesion_solution,
    wrong_answers=[
        ("a net", "pair (model, scores)"),
        ((1, 2), "your model"),
        ((None, {}), "your model"),
    ],
)(_check_own_lesion)
