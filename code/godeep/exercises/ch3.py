"""Exercises of Chapter 3, "Normalization modules"."""

from __future__ import annotations

import math

import numpy as np

from . import Feedback, as_number, chapter_getattr, close_to, correct, exercise, framework_of, wrong
from .native import call_native, solutions, to_numpy


def _solutions(framework: str):
    return solutions(3, framework)


# ------------------------------------------------------------------ 3.1 the largest stable learning rate

MEAN, STD = 3.0, 1.0


def _check_max_lr(answer) -> Feedback:
    curvature = STD**2 + MEAN**2  # L(w) = 1/2 E[(w x - y)^2]  =>  L''(w) = E[x^2]
    return close_to(
        answer,
        2.0 / curvature,
        rtol=1e-2,
        what="the largest stable learning rate",
        hints=[
            (2.0 / STD**2, "that would hold for centred inputs: L''(w) = E[x^2] = Var[x] + E[x]^2 includes the mean."),
            (1.0 / curvature, "1 / L'' is the step that lands on the minimum in one step; divergence starts at twice that."),
            (2.0 / (STD**2 + MEAN), "E[x]^2 = 9, not 3: the curvature is Var[x] + E[x]^2."),
            (2.0 / MEAN**2, "the variance adds to the curvature too: E[x^2] = Var[x] + E[x]^2."),
        ],
    )


max_stable_lr = exercise(
    "ch3.max-stable-lr",
    "Gradient descent on L(w) = 1/2 E[(w x - y)^2] with inputs of mean 3 and variance 1: the learning rate above which it diverges.",
    solution=lambda: 2.0 / (STD**2 + MEAN**2),
    wrong_answers=[(2.0, "centred inputs"), (0.1, "twice that"), (2.0 / 4.0, "E[x]^2 = 9"), (2.0 / 9.0, "variance adds")],
)(_check_max_lr)


# ------------------------------------------------------------------ 3.2 predict LayerNorm's output

LN_INPUT = np.array([[1.0, 2.0, 3.0, 6.0], [4.0, 4.0, 0.0, 0.0]])


def _layer_norm_answer() -> np.ndarray:
    x = LN_INPUT
    mean = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    return (x - mean) / np.sqrt(var)


def _check_layer_norm(answer) -> Feedback:
    try:
        got = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        return wrong("give a 2 x 4 array (a nested list or a NumPy array of numbers).")
    expected = _layer_norm_answer()
    if got.shape != expected.shape:
        return wrong(f"LayerNorm keeps the shape of its input: expected shape {expected.shape}, got {got.shape}.")
    if np.allclose(got, expected, atol=1e-3):
        return correct("each row has mean 0 and (biased) variance 1: row 1 is (x - 3) / sqrt(3.5), row 2 is (x - 2) / 2.")
    x = LN_INPUT
    unbiased = (x - x.mean(1, keepdims=True)) / x.std(1, ddof=1, keepdims=True)
    if np.allclose(got, unbiased, atol=1e-3):
        return wrong("you divided by the unbiased standard deviation (n - 1 = 3): normalization layers use the biased one, 1/n.")
    batch = (x - x.mean(0, keepdims=True)) / np.where(x.std(0, keepdims=True) > 0, x.std(0, keepdims=True), 1.0)
    if np.allclose(got, batch, atol=1e-3) or np.allclose(np.nan_to_num(got), np.nan_to_num((x - x.mean(0)) / x.std(0)), atol=1e-3):
        return wrong("you normalized each column (over the batch): that is BatchNorm. LayerNorm normalizes each row (each example) over its features.")
    if np.allclose(got, x - x.mean(1, keepdims=True), atol=1e-3):
        return wrong("you centred each row but did not divide by its standard deviation.")
    return wrong("compute, for each row, its mean and biased variance over the 4 features, then (x - mean) / sqrt(var).")


predict_layer_norm = exercise(
    "ch3.predict-layer-norm",
    "Output of LayerNorm(4, eps=0, no affine) on [[1, 2, 3, 6], [4, 4, 0, 0]].",
    solution=_layer_norm_answer,
    wrong_answers=[
        ((LN_INPUT - LN_INPUT.mean(1, keepdims=True)) / LN_INPUT.std(1, ddof=1, keepdims=True), "unbiased"),
        ((LN_INPUT - LN_INPUT.mean(0)) / LN_INPUT.std(0), "that is BatchNorm"),
        (LN_INPUT - LN_INPUT.mean(1, keepdims=True), "did not divide"),
        ([1.0, 2.0], "keeps the shape"),
        (np.zeros((2, 4)), "for each row"),
    ],
)(_check_layer_norm)


# ------------------------------------------------------------------ 3.2 GroupNorm with one einsum


def _reference_group_norm(x: np.ndarray, num_groups: int, eps: float = 1e-5) -> np.ndarray:
    """GroupNorm of an NCHW array without affine: statistics per (example, group) by einsum."""
    N, C, H, W = x.shape
    g = x.reshape(N, num_groups, C // num_groups, H, W)
    count = C // num_groups * H * W
    mean = np.einsum("ngchw->ng", g) / count
    centred = g - mean[:, :, None, None, None]
    var = np.einsum("ngchw,ngchw->ng", centred, centred) / count
    return (centred / np.sqrt(var[:, :, None, None, None] + eps)).reshape(N, C, H, W)


_GROUP_NORM_FORBIDDEN = (
    ("torch.nn.functional", "group_norm", "torch.nn.functional.group_norm"),
    ("torch", "group_norm", "torch.group_norm"),
    ("torch.nn", "GroupNorm", "torch.nn.GroupNorm"),
    ("keras.layers", "GroupNormalization", "keras.layers.GroupNormalization"),
    ("godeep.norms", "group_norm", "godeep.norms.group_norm"),
)


def _check_group_norm(fn) -> Feedback:
    if not callable(fn) or isinstance(fn, type):
        return wrong("give a function: def group_norm(x, num_groups, eps=1e-5): ... returning an array of x's shape.")
    rng = np.random.default_rng(0)
    for shape, G in (((2, 6, 3, 3), 3), ((3, 8, 2, 4), 2), ((2, 4, 3, 3), 4), ((2, 4, 3, 3), 1)):
        x = rng.standard_normal(shape) * 2 + 1
        got = call_native(fn, x.copy(), G)
        if got is None:
            return Feedback(False, "your function returns None: write its body and run the cell again.", answered=False)
        try:
            got = to_numpy(got)
        except TypeError:
            return wrong(f"your function returned {type(got).__name__}: return a NumPy array of x's shape.")
        expected = _reference_group_norm(x, G)  # equal to torch.nn.functional.group_norm (tested)
        if got.shape != expected.shape:
            return wrong(f"the output must have the input's shape {shape}, got {got.shape}.")
        if np.allclose(got, expected, atol=1e-6):
            continue
        per_channel = (x - x.mean((2, 3), keepdims=True)) / np.sqrt(x.var((2, 3), keepdims=True) + 1e-5)
        if np.allclose(got, per_channel, atol=1e-6):
            return wrong(f"with num_groups={G} you normalized each channel on its own (InstanceNorm): the statistics must pool the C/G channels of a group.")
        g = x.reshape(shape[0], G, -1)
        unbiased = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, ddof=1, keepdims=True) + 1e-5)).reshape(shape)
        if np.allclose(got, unbiased, atol=1e-6):
            return wrong("you used the unbiased variance (ddof=1): normalization layers divide by the count |S|.")
        if G not in (1, shape[1]) and np.allclose(got, _wrong_interleaved(x, G), atol=1e-6):
            return wrong("your groups interleave the channels: group g holds the C/G *consecutive* channels g*C/G ... (g+1)*C/G - 1 (reshape to (N, G, C/G, H, W)).")
        return wrong(f"on an input of shape {shape} with num_groups={G} your output differs from torch.nn.functional.group_norm by up to {np.nanmax(np.abs(got - expected)):.2g}.")
    return correct("your function matches torch.nn.functional.group_norm for G = 1 (LayerNorm), G = C (InstanceNorm) and in between.")


def _calls_f_group_norm(x, G, eps=1e-5):
    import torch
    import torch.nn.functional as F

    return F.group_norm(torch.as_tensor(x), G, eps=eps).numpy()


def _calls_torch_group_norm(x, G, eps=1e-5):
    import torch

    return torch.group_norm(torch.as_tensor(x), G, eps=eps).numpy()


def _calls_group_norm_module(x, G, eps=1e-5):
    import torch

    return torch.nn.GroupNorm(G, x.shape[1], eps=eps, affine=False)(torch.as_tensor(x)).detach().numpy()


def _returns_a_string(x, G, eps=1e-5):
    return "normalized"


def _wrong_instance(x, G, eps=1e-5):
    return (x - x.mean((2, 3), keepdims=True)) / np.sqrt(x.var((2, 3), keepdims=True) + eps)


def _wrong_unbiased(x, G, eps=1e-5):
    g = x.reshape(x.shape[0], G, -1)
    return ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, ddof=1, keepdims=True) + eps)).reshape(x.shape)


def _wrong_interleaved(x, G, eps=1e-5):
    """Groups of channels g, g + G, g + 2G, ... (a strided reshape) instead of consecutive ones."""
    N, C, H, W = x.shape
    order = np.arange(C).reshape(C // G, G).T.reshape(C)  # channel order that makes strided groups consecutive
    out = np.empty_like(x)
    out[:, order] = _reference_group_norm(x[:, order], G, eps)
    return out


group_norm_einsum = exercise(
    "ch3.group-norm-einsum",
    "Write group_norm(x, num_groups, eps=1e-5) for an NCHW array (no affine), with the statistics computed by einsum.",
    solution=lambda: _solutions("torch").group_norm,
    keras_solution=lambda: _solutions("keras").group_norm,
    wrong_answers=[
        (_wrong_instance, "InstanceNorm"),
        (_wrong_unbiased, "unbiased"),
        (_wrong_interleaved, "interleave"),
        ("einsum", "give a function"),
        (_calls_f_group_norm, "calls torch.nn.functional.group_norm"),
        (_calls_torch_group_norm, "calls torch.group_norm"),
        (_calls_group_norm_module, "calls torch.nn.GroupNorm"),
        (lambda x, G, eps=1e-5: x[:1], "input's shape"),
        (_returns_a_string, "return a NumPy array"),
    ],
    forbidden=_GROUP_NORM_FORBIDDEN,
)(_check_group_norm)


# ------------------------------------------------------------------ 3.3 BatchNorm's backward pass by hand


def _reference_bn_backward(dy: np.ndarray, x: np.ndarray, gamma: np.ndarray, eps: float = 1e-5):
    """Gradients of y = gamma * x_hat + beta, x_hat = (x - mu) / sqrt(var + eps), over a (N, D) batch.

    dbeta = sum_n dy,  dgamma = sum_n dy * x_hat,
    dx = gamma / sqrt(var + eps) * (dy - mean_n dy - x_hat * mean_n(dy * x_hat)).
    """
    mu = x.mean(0)
    var = x.var(0)
    x_hat = (x - mu) / np.sqrt(var + eps)
    dbeta = dy.sum(0)
    dgamma = (dy * x_hat).sum(0)
    dx = gamma / np.sqrt(var + eps) * (dy - dy.mean(0) - x_hat * (dy * x_hat).mean(0))
    return dx, dgamma, dbeta


def _bn_forward(x, gamma, beta, eps=1e-5):
    return gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + eps) + beta


def _relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def _numerical_gradients(dy, x, gamma, beta, h=1e-5):
    """Central differences of L = sum(dy * BN(x)) with respect to x, gamma and beta (float64)."""
    grads = []
    for target in (x, gamma, beta):
        g = np.zeros_like(target)
        for index in np.ndindex(target.shape):
            keep = target[index]
            target[index] = keep + h
            plus = np.sum(dy * _bn_forward(x, gamma, beta))
            target[index] = keep - h
            minus = np.sum(dy * _bn_forward(x, gamma, beta))
            target[index] = keep
            g[index] = (plus - minus) / (2 * h)
        grads.append(g)
    return grads


_AUTOGRAD_FORBIDDEN = (
    ("torch.autograd", "grad", "torch.autograd.grad"),
    ("torch.autograd", "backward", "torch.autograd.backward"),
    ("torch", "Tensor.backward", "Tensor.backward (autograd)"),
    ("torch.func", "grad", "torch.func.grad"),
    ("torch.func", "vjp", "torch.func.vjp"),
    ("tensorflow", "GradientTape.gradient", "tf.GradientTape (autodiff)"),
    ("jax", "grad", "jax.grad"),
    ("jax", "vjp", "jax.vjp"),
)


def _check_bn_backward(fn) -> Feedback:
    if not callable(fn) or isinstance(fn, type):
        return wrong("give a function: def bn_backward(dy, x, gamma, eps=1e-5): ... returning (dx, dgamma, dbeta).")
    rng = np.random.default_rng(0)
    worst = 0.0
    for N, D in ((8, 3), (5, 4), (16, 2)):
        x = rng.standard_normal((N, D)) * 1.5 + 0.7
        gamma = rng.standard_normal(D) + 1.0
        beta = rng.standard_normal(D)
        dy = rng.standard_normal((N, D))
        out = call_native(fn, dy.copy(), x.copy(), gamma.copy())
        if out is None:
            return Feedback(False, "your function returns None: write its body and run the cell again.", answered=False)
        if isinstance(out, (str, bytes, dict)) or not hasattr(out, "__len__") or len(out) != 3:
            return wrong("return three arrays: (dx, dgamma, dbeta).")
        try:
            dx, dgamma, dbeta = (to_numpy(v) for v in out)
        except TypeError:
            return wrong("return three arrays of numbers: (dx, dgamma, dbeta).")
        num_dx, num_dgamma, num_dbeta = _numerical_gradients(dy, x, gamma, beta)
        for name, got, ref in (("dbeta", dbeta, num_dbeta), ("dgamma", dgamma, num_dgamma), ("dx", dx, num_dx)):
            if got.shape != ref.shape:
                return wrong(f"{name} must have shape {ref.shape}, got {got.shape}.")
            err = _relative_error(got, ref)
            worst = max(worst, err)
            if err < 1e-6:
                continue
            if name == "dx":
                naive = gamma / np.sqrt(x.var(0) + 1e-5) * dy
                if _relative_error(dx, naive) < 1e-6:
                    return wrong("your dx treats the batch mean and variance as constants: they depend on every x_n, which adds the terms -mean(dy) and -x_hat * mean(dy * x_hat).")
                if _relative_error(dx, naive - gamma / np.sqrt(x.var(0) + 1e-5) * dy.mean(0)) < 1e-6:
                    return wrong("you included the gradient through the mean but not through the variance: add -x_hat * mean(dy * x_hat).")
            return wrong(f"{name} fails the numerical gradient check (relative error {err:.2g} > 1e-6) for a batch of shape ({N}, {D}).")
    return correct(f"all three gradients pass the float64 numerical check (largest relative error {worst:.1g}).")


def _wrong_constant_stats(dy, x, gamma, eps=1e-5):
    dx, dgamma, dbeta = _reference_bn_backward(dy, x, gamma, eps)
    return gamma / np.sqrt(x.var(0) + eps) * dy, dgamma, dbeta


def _wrong_mean_only(dy, x, gamma, eps=1e-5):
    dx, dgamma, dbeta = _reference_bn_backward(dy, x, gamma, eps)
    return gamma / np.sqrt(x.var(0) + eps) * (dy - dy.mean(0)), dgamma, dbeta


def _wrong_dgamma(dy, x, gamma, eps=1e-5):
    dx, dgamma, dbeta = _reference_bn_backward(dy, x, gamma, eps)
    return dx, (dy * x).sum(0), dbeta


def _autograd_bn_backward(dy, x, gamma, eps=1e-5):
    """The gradients by autograd: right numbers, but not 'by hand'."""
    import torch

    x_t = torch.tensor(x, requires_grad=True)
    g_t = torch.tensor(gamma, requires_grad=True)
    b_t = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    y = g_t * (x_t - x_t.mean(0)) / torch.sqrt(x_t.var(0, unbiased=False) + eps) + b_t
    (torch.as_tensor(dy) * y).sum().backward()
    return x_t.grad.numpy(), g_t.grad.numpy(), b_t.grad.numpy()


def _autograd_grad_bn_backward(dy, x, gamma, eps=1e-5):
    import torch

    x_t = torch.tensor(x, requires_grad=True)
    g_t = torch.tensor(gamma, requires_grad=True)
    b_t = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    y = g_t * (x_t - x_t.mean(0)) / torch.sqrt(x_t.var(0, unbiased=False) + eps) + b_t
    return tuple(g.numpy() for g in torch.autograd.grad((torch.as_tensor(dy) * y).sum(), (x_t, g_t, b_t)))


bn_backward = exercise(
    "ch3.bn-backward",
    "Write bn_backward(dy, x, gamma, eps=1e-5) -> (dx, dgamma, dbeta) for BatchNorm in training mode on an (N, D) batch.",
    solution=lambda: _solutions("torch").bn_backward,
    keras_solution=lambda: _solutions("keras").bn_backward,
    wrong_answers=[
        (_wrong_constant_stats, "as constants"),
        (_wrong_mean_only, "not through the variance"),
        (_wrong_dgamma, "dgamma fails"),
        (3, "give a function"),
        (_autograd_bn_backward, "calls Tensor.backward"),
        (_autograd_grad_bn_backward, "calls torch.autograd.grad"),
        (lambda dy, x, gamma, eps=1e-5: (dy, gamma), "three arrays"),
        (lambda dy, x, gamma, eps=1e-5: (dy, gamma, "beta"), "arrays of numbers"),
    ],
    forbidden=_AUTOGRAD_FORBIDDEN,
)(_check_bn_backward)


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

    from ..models import mlp

    torch.manual_seed(0)
    model = mlp(6, 8, 2, 3, "relu", norm="batch", dtype="float64")
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for _ in range(30):  # the running statistics see a centred input distribution
            model(torch.as_tensor(rng.standard_normal((32, 6))))
    x = torch.as_tensor(rng.standard_normal((200, 6)) + 1.5)  # test inputs drawn from a shifted distribution
    model.eval()
    with torch.no_grad():
        y = model(torch.as_tensor(rng.standard_normal((200, 6)) + 1.5)).argmax(1)
        y = model(x).argmax(1)  # labels: the model's own inference-mode predictions
    model.train()
    return model, x, y


def _accuracy_value(accuracy, example: str):
    """The returned accuracy as a float, or the Feedback that says what is wrong with it."""
    if accuracy is None:
        return Feedback(False, "your function returns None: write its body and run the cell again.", answered=False)
    try:
        return as_number(accuracy, "the accuracy as a number")
    except TypeError as error:
        return wrong(f"{error}: return the accuracy as a float{example}.")


def _check_evaluate(fn) -> Feedback:
    """Three probes: labels the model gets all right, half right, and a model that arrives in eval mode."""
    import copy

    import torch

    if not callable(fn) or isinstance(fn, type) or isinstance(fn, torch.nn.Module):
        return wrong("give a function: def evaluate(model, x, y): ... returning the accuracy (a float).")
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
            return wrong("evaluating changed the BatchNorm running statistics: the model ran in training mode (torch.no_grad() does not switch BatchNorm to inference; model.eval() does).")
        if not math.isclose(value, expected, abs_tol=1e-9):
            if math.isclose(value, in_training_mode, abs_tol=1e-9):
                return wrong(f"your accuracy {value:.3f} is the training-mode one (batch statistics); in inference mode the model gets {expected:.3f}: use the running statistics (model.eval()).")
            if math.isclose(value, 100 * expected, rel_tol=1e-9):
                return wrong("give the accuracy as a fraction between 0 and 1, not a percentage.")
            return wrong(f"your function returns {value:.3f}, but in inference mode the model gets {expected:.3f} of these labels right: compute it from model(x) and y, as the fraction of argmax predictions equal to y.")
        if model.training != start_training:
            if start_training:
                return wrong("right accuracy, but the model is left in eval mode: the next training epoch would silently use running statistics. Restore the mode (model.train(was_training)).")
            return wrong("right accuracy, but a model that came in eval mode leaves in training mode: restore the mode it had (was_training = model.training ... model.train(was_training)).")
    return correct("inference mode for the evaluation, running statistics untouched, training mode restored afterwards.")


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

    from ..keras import models as kmodels

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
            return wrong("evaluating changed the BatchNormalization moving statistics: the model ran with training=True. Call model(x, training=False) (or model.predict).")
        if not math.isclose(value, expected, abs_tol=1e-9):
            if math.isclose(value, 100 * expected, rel_tol=1e-9):
                return wrong("give the accuracy as a fraction between 0 and 1, not a percentage.")
            return wrong(f"your function returns {value:.3f}, but in inference mode the model gets {expected:.3f} of these labels right: compute it from model(x, training=False) and y.")
    return correct("inference mode (training=False) for the evaluation, moving statistics untouched.")


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
    "Fix evaluate(model, x, y) so that it measures a BatchNorm network's accuracy in inference mode, without side effects.",
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


# ------------------------------------------------------------------ 3.5 converting BatchNorm's momentum


def _check_keras_momentum(answer) -> Feedback:
    return close_to(
        answer,
        0.95,
        rtol=1e-6,
        what="Keras' momentum",
        hints=[
            (0.05, "the same number means something else in Keras: its momentum weights the old average, PyTorch's the new batch."),
            (0.99, "0.99 is Keras' default; the PyTorch layer here weights each new batch by 0.05."),
            (0.9, "0.9 converts PyTorch's default 0.1; this layer has momentum=0.05."),
            (1 / 0.05, "the conversion is 1 - momentum, not 1 / momentum."),
        ],
    )


keras_momentum = exercise(
    "ch3.keras-momentum",
    "The Keras BatchNormalization momentum that keeps the same running averages as PyTorch's BatchNorm2d(momentum=0.05).",
    solution=lambda: 0.95,
    wrong_answers=[(0.05, "weights the old average"), (0.99, "Keras' default"), (0.9, "converts PyTorch's default"), (20.0, "not 1 / momentum")],
)(_check_keras_momentum)

# ------------------------------------------------------------------ 3.5 two values per channel

PAIR = np.array([0.3, 5.0])  # one channel, a normalization batch of two examples


def _two_values_answer() -> np.ndarray:
    """Training-mode BatchNorm of two values (eps = 0): (x - mu) / sigma, sigma biased = |a - b| / 2."""
    return (PAIR - PAIR.mean()) / PAIR.std()


def _check_two_values(answer) -> Feedback:
    if isinstance(answer, (str, bytes, dict)) or (
        isinstance(answer, (list, tuple)) and any(isinstance(v, (str, bytes)) for v in answer)
    ):
        return wrong("give two numbers (not text), as a list or array: [x_hat_a, x_hat_b].")
    try:
        got = np.asarray(answer, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return wrong("give the two normalized values as a list or array of two numbers, [x_hat_a, x_hat_b].")
    if got.shape != (2,):
        return wrong(f"give two numbers, one per example, got {got.size}.")
    expected = _two_values_answer()
    if np.allclose(got, expected, atol=1e-3):
        return correct("-1 and +1: with two values, mu is their midpoint and sigma half their distance, "
                       "whatever a and b are. The layer passes only which of the two is larger.")
    if np.allclose(got, -expected, atol=1e-3):
        return wrong("right size, wrong signs: a = 0.3 is the smaller value, so it lies below the mean.")
    if np.allclose(got, (PAIR - PAIR.mean()) / PAIR.std(ddof=1), atol=1e-3):
        return wrong("you divided by the unbiased standard deviation (n - 1 = 1): BatchNorm normalizes with the biased one, 1/n.")
    if np.allclose(got, PAIR - PAIR.mean(), atol=1e-3):
        return wrong("you centred the two values but did not divide by their standard deviation.")
    if np.allclose(got, PAIR, atol=1e-3):
        return wrong("in training mode BatchNorm uses the statistics of the batch, not the initial running averages (0 and 1).")
    return wrong("compute the mean and the biased variance of the two values, then (x - mean) / sqrt(var).")


two_values = exercise(
    "ch3.two-values",
    "Training-mode BatchNorm (eps = 0, no affine) of one channel over a batch of two values, 0.3 and 5.0.",
    solution=_two_values_answer,
    wrong_answers=[
        (-_two_values_answer(), "wrong signs"),
        ((PAIR - PAIR.mean()) / PAIR.std(ddof=1), "unbiased"),
        (PAIR - PAIR.mean(), "did not divide"),
        (PAIR, "statistics of the batch"),
        ([1.0, 2.0, 3.0], "give two numbers"),
    ],
)(_check_two_values)

__getattr__ = chapter_getattr(__name__)
