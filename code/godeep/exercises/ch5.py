"""Exercises of Chapter 5, "Understanding residual learning"."""

from __future__ import annotations

import math

from . import as_number, chapter_getattr, close_to, correct, exercise, wrong


def _check_gpt2_scale(answer):
    expected = 1 / math.sqrt(24)
    return close_to(answer, expected, what="the factor",
                    right=f"N = 2 x 12 = 24 residual layers, factor 1/sqrt(24) = {expected:.3f}.",
                    advice="GPT-2 scales by 1/sqrt(N), N the number of residual layers.", hints=[
        (1 / math.sqrt(12), "each block has two residual layers (attention and MLP): N = 24, not 12."),
        (1 / 24, "the factor is 1/sqrt(N), not 1/N: it keeps the *variance* of a sum of N branches in check."),
        (1 / 12, "the factor is 1/sqrt(N), with N = 24 residual layers."),
        (math.sqrt(24), "the weights are scaled down, not up: 1/sqrt(N)."),
    ])


gpt2_scale = exercise(
    "ch5.gpt2-scale",
    "Factor by which GPT-2's initialization scales each residual branch's output projection in a 12-block model.",
    solution=lambda: 1 / math.sqrt(24),
    wrong_answers=[(1 / math.sqrt(12), "two residual layers"), (1 / 24, "not 1/N"), (math.sqrt(24), "scaled down"), (0.5, "not quite"), ("a", "plain number")],
)(_check_gpt2_scale)


def _autocorrelation_solution() -> float:
    g = [1.0, 2.0, 3.0, 2.0, 1.0]
    mean = sum(g) / len(g)
    c = [v - mean for v in g]
    return sum(a * b for a, b in zip(c[:-1], c[1:])) / sum(v * v for v in c)


def _check_autocorrelation(answer):
    expected = _autocorrelation_solution()  # 0.16 / 2.8
    g = [1.0, 2.0, 3.0, 2.0, 1.0]
    return close_to(answer, expected, rtol=1e-3, what="rho(1)",
                    right=f"rho(1) = 0.16 / 2.8 = {expected:.4f}: centred, and normalized by the total energy.",
                    advice="centre g, multiply neighbours, sum, and divide by the sum of squares.", hints=[
        (sum(a * b for a, b in zip(g[:-1], g[1:])) / sum(v * v for v in g), "subtract the mean first: rho is computed on g - mean(g)."),
        (0.0, "that is np.corrcoef(g[:-1], g[1:]): it centres and normalizes each shifted piece separately; the definition uses one mean and the whole signal's energy."),
        (0.16 / 2.8 * 5 / 4, "normalize by the total energy sum (g_i - mean)^2, without rescaling by n / (n - k)."),
        (1.0, "rho(0) = 1 always; the question asks for lag k = 1."),
    ])


autocorrelation_lag1 = exercise(
    "ch5.autocorrelation-lag1",
    "Lag-1 autocorrelation rho(1) of the gradient signal g = (1, 2, 3, 2, 1).",
    solution=_autocorrelation_solution,
    wrong_answers=[(16 / 19, "subtract the mean"), (0.0, "np.corrcoef"), (1.0, "rho(0)"), (0.3, "not quite"), ("x", "plain number")],
)(_check_autocorrelation)


def _short_paths_solution() -> float:
    return sum(math.comb(20, k) for k in range(6)) / 2**20


def _check_short_paths(answer):
    expected = _short_paths_solution()
    return close_to(answer, expected, rtol=1e-3, what="the fraction", fraction=True,
                    right=f"sum_(k<=5) C(20, k) / 2^20 = {expected:.4f}: about 2% of the paths are that short.",
                    advice="count C(20, k) paths of each length k = 0..5 and divide by 2^20.", hints=[
        (sum(math.comb(20, k) for k in range(5)) / 2**20, "'at most 5' includes paths of length 5: sum k = 0..5."),
        (math.comb(20, 5) / 2**20, "that is the share of length exactly 5; the question asks for lengths 0 to 5."),
        (sum(math.comb(20, k) for k in range(1, 6)) / 2**20, "the path through no branch at all (k = 0, all shortcuts) counts too."),
        (6 / 21, "path lengths are not uniform: there are C(20, k) paths of length k."),
        (expected * 100, "give a fraction, not a percentage."),
    ])


short_paths = exercise(
    "ch5.short-paths",
    "Fraction of the 2^20 paths through a 20-block residual net that pass through at most 5 branches.",
    solution=_short_paths_solution,
    wrong_answers=[(sum(math.comb(20, k) for k in range(5)) / 2**20, "includes paths of length 5"), (math.comb(20, 5) / 2**20, "exactly 5"),
                   (6 / 21, "not uniform"), (2.07, "percentage"), (0.5, "not quite"), ("x", "plain number")],
)(_check_short_paths)


#: He et al. (2016b), Table 1: CIFAR-10 test error (%) of ResNet-110 with each shortcut
#: ("fail": above 20%). The rows quoted in section 5.2.
PAPER_TABLE1 = {
    "identity": 6.61,
    "constant_scaling_both": 12.35,  # 0.5 on the shortcut and on F ("frozen gating")
    "exclusive_gating": 8.70,  # b_g = -6
    "shortcut_gating": 12.86,  # b_g = 0
    "conv_shortcut": 12.22,
    "dropout_shortcut": float("inf"),  # fail
    "constant_scaling": float("inf"),  # 0.5 on the shortcut only: fail
}

_WHY = {
    "constant_scaling_both": "0.5 on every shortcut multiplies the direct path by 0.5^54 (12.35%).",
    "constant_scaling": "0.5 on the shortcut alone did not even converge (fail, > 20%).",
    "shortcut_gating": "with b_g = 0 the gate 1 - g starts near 1/2: a scaling by about 0.5 per block again (12.86%).",
    "conv_shortcut": "54 stacked 1x1 convolutions make the direct path a product of matrices (12.22%).",
    "dropout_shortcut": "a 0.5 dropout mask is a random scaling with mean 0.5: it failed to converge (> 20%).",
}


def _check_shortcut_winner(answer):
    if not isinstance(answer, str):
        return wrong("give the variant's name as a string, e.g. 'conv_shortcut'.")
    name = answer.strip()
    if name == "identity":
        return wrong("the identity is the baseline (6.61%): the question asks which of the *other* variants came closest.")
    if name == "exclusive_gating":
        return correct("8.70%: with b_g = -6 the shortcut's gate 1 - g(x) starts at 1 - sigmoid(-6) = 0.9975, "
                       "the nearest to an identity of all the variants, though the same gate nearly shuts F.")
    if name in _WHY:
        return wrong(f"{_WHY[name]} Which variant starts closest to the identity?")
    return wrong(f"{name!r} is not one of the variants: use a name of godeep.residual.SHORTCUT_VARIANTS.")


shortcut_winner = exercise(
    "ch5.shortcut-winner",
    "Of the non-identity shortcuts of He et al.'s Table 1 (constant_scaling_both, exclusive_gating with b_g = -6, "
    "shortcut_gating with b_g = 0, conv_shortcut, dropout_shortcut), which gave ResNet-110 the lowest test error?",
    solution=lambda: min((v, k) for k, v in PAPER_TABLE1.items() if k != "identity")[1],
    wrong_answers=[("identity", "baseline"), ("conv_shortcut", "1x1 convolutions"), ("shortcut_gating", "near 1/2"),
                   ("constant_scaling_both", "0.5^54"), ("dropout_shortcut", "random scaling"), ("highway", "not one of"),
                   (3, "string")],
)(_check_shortcut_winner)


def _gate_factor_solution() -> float:
    return (1 - 1 / (1 + math.exp(6.0))) ** 54


def _check_gate_factor(answer):
    expected = _gate_factor_solution()
    sig = 1 / (1 + math.exp(6.0))
    return close_to(answer, expected, rtol=1e-3, hint_rtol=1e-2, what="the factor",
                    right=f"(1 - sigmoid(-6))^54 = 0.99753^54 = {expected:.3f}: the direct path keeps most of the signal.",
                    advice="one block multiplies the direct path by 1 - sigmoid(b_g); take the 54th power.", hints=[
        (sig**54, "that is g^54, the gate on F; the shortcut is multiplied by 1 - g."),
        (1 - sig, "that is one block's factor; the direct path goes through 54 of them."),
        ((1 - 1 / (1 + math.exp(-6.0))) ** 54, "sigmoid(-6) is small (0.0025), not close to 1: check the sign."),
        (0.5**54, "that would be a gate of 1/2, i.e. b_g = 0; here b_g = -6."),
    ])


gate_factor = exercise(
    "ch5.gate-factor",
    "Factor by which 54 exclusive gates with W_g = 0 and b_g = -6 scale the direct (shortcut) path.",
    solution=_gate_factor_solution,
    wrong_answers=[(1 - 1 / (1 + math.exp(6.0)), "one block's factor"), ((1 / (1 + math.exp(6.0))) ** 54, "g^54"),
                   (0.5**54, "b_g = 0"), (0.3, "not quite"), ("x", "plain number")],
)(_check_gate_factor)


def _check_open_paths(answer):
    expected = 0.9**54
    return close_to(answer, expected, rtol=1e-3, hint_rtol=1e-2, what="the fraction", fraction=True,
                    right=f"0.9^54 = {expected:.3g}: a ReLU that blocks only 10% per block still closes almost every direct path.",
                    advice="the path is open only if no block's ReLU cuts it: multiply 54 probabilities.", hints=[
        (0.1**54, "0.1 is the chance of being blocked at one block; the path stays open with probability 0.9 per block."),
        (1 - 0.1 * 54, "the blocks multiply probabilities; they do not subtract 10% each."),
        (1 - 0.9**54, "that is the fraction *closed*; the question asks for the open ones."),
        (0.9, "that is one block; the direct path crosses 54 of them."),
        (expected * 100, "give a fraction, not a percentage."),
    ])


open_paths = exercise(
    "ch5.open-paths",
    "If the after-addition ReLU of each of 54 blocks independently zeroes 10% of the elements, what fraction of "
    "direct (shortcut-only) paths from x_0 to x_54 stays open?",
    solution=lambda: 0.9**54,
    wrong_answers=[(0.1**54, "probability 0.9"), (1 - 0.9**54, "closed"), (0.9, "54 of them"), (0.9**54 * 100, "percentage"),
                   (2.0, "between 0 and 1"), (0.5, "not quite"), ("x", "plain number")],
)(_check_open_paths)


def _check_residual_growth(answer):
    """Growth of the standard deviation of x_L over 30 He-initialized blocks without normalization."""
    expected = 2.0**15
    return close_to(answer, expected, what="the factor",
                    right=f"Var doubles per block, 2^30 in all, so the standard deviation grows by 2^15 = {expected:.0f}.",
                    advice="write Var[x_l] in terms of Var[x_(l-1)] for one block first.", hints=[
        (2.0**30, "that is the growth of the *variance*; the standard deviation grows by its square root."),
        (math.sqrt(30), "the variances add up to 2x per block, they do not grow by one unit each: multiply, do not add."),
        (31.0, "each block doubles the variance (x + F(x) with Var[F(x)] = Var[x]): the growth is a power of 2."),
        (1.0, "that is ReZero's factor (alpha = 0); here the branches are on from the start."),
        (1.5**15, "with He initialization Var[F(x)] = Var[x] (the ReLU halves, the weights' 2/n doubles): the factor per block is 2."),
    ])


residual_growth = exercise(
    "ch5.residual-growth",
    "By what factor does the standard deviation of the residual stream grow over 30 blocks x + W relu(x), "
    "He-initialized, without normalization?",
    solution=lambda: 2.0**15,
    wrong_answers=[(2.0**30, "variance"), (math.sqrt(30), "multiply"), (31.0, "power of 2"), (1.0, "ReZero"),
                   (1.5**15, "factor per block is 2"), (1000.0, "not quite"), ("big", "plain number")],
)(_check_residual_growth)


def _check_filter_scale(answer):
    """The factor filter normalization applies to one filter of a random direction."""
    return close_to(answer, 2.5, rtol=1e-3, what="the factor",
                    right="||theta_j|| / ||d_j|| = 5 / 2 = 2.5: the filter of the direction becomes (0, 5), as long as the weights' filter.",
                    advice="compute ||theta_j|| and ||d_j|| and take their ratio.", hints=[
        (0.4, "inverted: the direction is scaled *to* the weights' norm, ||theta_j|| / ||d_j||."),
        (5.0, "that is ||theta_j||; divide by ||d_j|| = 2 as well."),
        (3.5, "that is the sum of the entries of theta_j over 2; use the Euclidean (Frobenius) norms."),
        (7.0 / 2, "use the Euclidean norm ||(3, 4)|| = 5, not the sum of the entries."),
        (25 / 4, "use norms, not squared norms."),
    ])


filter_scale = exercise(
    "ch5.filter-scale",
    "A filter of the trained weights is theta_j = (3, 4) and the same filter of a random direction is d_j = (0, 2). "
    "By what factor does filter normalization multiply d_j?",
    solution=lambda: 2.5,
    wrong_answers=[(0.4, "inverted"), (5.0, "divide"), (25 / 4, "squared"), (1.0, "not quite"), ("x", "plain number")],
)(_check_filter_scale)


# ------------------------------------------------------------------ a lesion study of your own

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
    model = resmlp.residual_mlp(64, 32, 10, 10, batch_norm=True,
                                init=lambda w: torch.nn.init.kaiming_normal_(w, nonlinearity="relu"))
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
            return "build the net with godeep.keras.resmlp.residual_mlp, so that its blocks can be deleted one at a time."
        sizes = (model.inputs[0].shape[-1], model.outputs[0].shape[-1])
        return found, ksignals.lesion_study, all(b.residual for b in found.values()), sizes
    from torch import nn

    from .. import resmlp, signals

    if not isinstance(model, nn.Module):
        return (f"the first item must be your model (godeep.resmlp.residual_mlp, or its Keras twin), "
                f"got {type(model).__name__}.")
    try:
        found = resmlp.blocks(model)
    except ValueError:
        return "build the net with godeep.resmlp.residual_mlp, so that its blocks can be deleted one at a time."
    return found, signals.lesion_study, all(b.residual for b in found.values()), (model.inp.in_features, model.out.out_features)


def _check_own_lesion(answer):
    """The reader's (model, scores): a trained residual net of >= 6 blocks and its lesion study."""
    import numpy as np

    if not isinstance(answer, tuple) or len(answer) != 2:
        return wrong("give a pair (model, scores): your trained net and the dict returned by signals.lesion_study.")
    model, scores = answer
    tools = _lesion_tools(model)
    if isinstance(tools, str):
        return wrong(tools)
    found, lesion_study, residual, sizes = tools
    if not residual:
        return wrong("this net is plain (plain=True): every deletion breaks its only path. Study a residual net (plain=False).")
    if len(found) < _LESION_MIN_BLOCKS:
        return wrong(f"use at least {_LESION_MIN_BLOCKS} blocks: with {len(found)} there is little to delete.")
    if tuple(sizes) != (64, 10):
        return wrong("the net must read the 64 pixels of godeep.data.digits() and output 10 classes.")
    if not isinstance(scores, dict) or "none" not in scores:
        return wrong("the second item must be the dict returned by signals.lesion_study (with the key 'none').")
    if set(scores) != {"none", *found}:
        return wrong(f"delete every block in turn: pass list(resmlp.blocks(model)), the names {list(found)[:3]} ...")
    was_training = getattr(model, "training", None)
    if was_training is not None:  # PyTorch: evaluate in eval mode, then leave the model as it was
        model.eval()
    try:
        ours = lesion_study(model, list(found), _digits_accuracy)
    finally:
        if was_training is not None:
            model.train(was_training)
    if ours["none"] < 0.5:
        return wrong(f"your net is at {ours['none']:.0%} test accuracy: train it first (e.g. train.fit for 10 epochs), "
                     "a lesion study of an untrained net says nothing.")
    if any(not math.isclose(float(scores[k]), v, abs_tol=1e-6) for k, v in ours.items()):
        return wrong("your scores do not match a lesion study of this model with the test accuracy on data.digits(): "
                     "evaluate with train.evaluate(model, digits.x_test, digits.y_test)[1] (PyTorch: after model.eval()).")
    deleted = np.array([v for k, v in ours.items() if k != "none"])
    worst = list(found)[int(deleted.argmin())]
    kept = np.median(deleted) / ours["none"]
    return correct(f"intact {ours['none']:.1%}; with one block deleted the median accuracy is {np.median(deleted):.1%} "
                   f"({kept:.0%} of intact), the worst deletion is {worst} ({deleted.min():.1%}). "
                   + ("It degrades gracefully, as Veit et al. found." if kept > 0.8 else
                      "It degrades more than the chapter's nets: compare its depth, width and training with theirs."))


own_lesion = exercise(
    "ch5.own-lesion",
    "Train a residual MLP of your own (godeep.resmlp.residual_mlp or its Keras twin, >= 6 blocks, on "
    "godeep.data.digits()) and run the lesion study on it; answer (model, scores).",
    solution=_own_lesion_solution,
    wrong_answers=[("a net", "pair (model, scores)"), ((1, 2), "your model"), ((None, {}), "your model")],
)(_check_own_lesion)


from .coding.ch5 import filter_normalize, preact_block, rezero  # noqa: E402,F401
from .coding.path_gradient import path_block  # noqa: E402,F401  (coding exercises in both frameworks)

__getattr__ = chapter_getattr(__name__)
