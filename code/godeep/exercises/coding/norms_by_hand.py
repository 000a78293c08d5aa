"""Chapter 3: normalization by hand: GroupNorm with one einsum, BatchNorm's backward pass."""

from __future__ import annotations

import numpy as np

from .. import Feedback, correct, exercise, wrong
from ..native import call_native, solutions, to_numpy


def _solutions(framework: str):
    return solutions(3, framework)


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
        return wrong(
            "give a function: def group_norm(x, num_groups, eps=1e-5): ... returning an array of x's shape."
        )
    rng = np.random.default_rng(0)
    for shape, G in (((2, 6, 3, 3), 3), ((3, 8, 2, 4), 2), ((2, 4, 3, 3), 4), ((2, 4, 3, 3), 1)):
        x = rng.standard_normal(shape) * 2 + 1
        got = call_native(fn, x.copy(), G)
        if got is None:
            return Feedback(
                False,
                "your function returns None: write its body and run the cell again.",
                answered=False,
            )
        try:
            got = to_numpy(got)
        except TypeError:
            return wrong(
                f"your function returned {type(got).__name__}: return a NumPy array of x's shape."
            )
        expected = _reference_group_norm(x, G)  # equal to torch.nn.functional.group_norm (tested)
        if got.shape != expected.shape:
            return wrong(f"the output must have the input's shape {shape}, got {got.shape}.")
        if np.allclose(got, expected, atol=1e-6):
            continue
        per_channel = (x - x.mean((2, 3), keepdims=True)) / np.sqrt(
            x.var((2, 3), keepdims=True) + 1e-5
        )
        if np.allclose(got, per_channel, atol=1e-6):
            return wrong(
                f"with num_groups={G} you normalized each channel on its own (InstanceNorm): the "
                "statistics must pool the C/G channels of a group."
            )
        g = x.reshape(shape[0], G, -1)
        unbiased = (
            (g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, ddof=1, keepdims=True) + 1e-5)
        ).reshape(shape)
        if np.allclose(got, unbiased, atol=1e-6):
            return wrong(
                "you used the unbiased variance (ddof=1): normalization layers divide by the count |S|."
            )
        if G not in (1, shape[1]) and np.allclose(got, _wrong_interleaved(x, G), atol=1e-6):
            return wrong(
                "your groups interleave the channels: group g holds the C/G *consecutive* channels "
                "g*C/G ... (g+1)*C/G - 1 (reshape to (N, G, C/G, H, W))."
            )
        return wrong(
            f"on an input of shape {shape} with num_groups={G} your output differs from "
            f"torch.nn.functional.group_norm by up to {np.nanmax(np.abs(got - expected)):.2g}."
        )
    return correct(
        "your function matches torch.nn.functional.group_norm for G = 1 (LayerNorm), G = C "
        "(InstanceNorm) and in between."
    )


def _calls_f_group_norm(x, G, eps=1e-5):
    import torch
    import torch.nn.functional as F

    return F.group_norm(torch.as_tensor(x), G, eps=eps).numpy()


def _calls_torch_group_norm(x, G, eps=1e-5):
    import torch

    return torch.group_norm(torch.as_tensor(x), G, eps=eps).numpy()


def _calls_group_norm_module(x, G, eps=1e-5):
    import torch

    return (
        torch.nn.GroupNorm(G, x.shape[1], eps=eps, affine=False)(torch.as_tensor(x))
        .detach()
        .numpy()
    )


def _returns_a_string(x, G, eps=1e-5):
    return "normalized"


def _wrong_instance(x, G, eps=1e-5):
    return (x - x.mean((2, 3), keepdims=True)) / np.sqrt(x.var((2, 3), keepdims=True) + eps)


def _wrong_unbiased(x, G, eps=1e-5):
    g = x.reshape(x.shape[0], G, -1)
    return (
        (g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, ddof=1, keepdims=True) + eps)
    ).reshape(x.shape)


def _wrong_interleaved(x, G, eps=1e-5):
    """Groups of channels g, g + G, g + 2G, ... (a strided reshape) instead of consecutive ones."""
    N, C, H, W = x.shape
    order = (
        np.arange(C).reshape(C // G, G).T.reshape(C)
    )  # channel order that makes strided groups consecutive
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
        return wrong(
            "give a function: def bn_backward(dy, x, gamma, eps=1e-5): ... returning (dx, dgamma, dbeta)."
        )
    rng = np.random.default_rng(0)
    worst = 0.0
    for N, D in ((8, 3), (5, 4), (16, 2)):
        x = rng.standard_normal((N, D)) * 1.5 + 0.7
        gamma = rng.standard_normal(D) + 1.0
        beta = rng.standard_normal(D)
        dy = rng.standard_normal((N, D))
        out = call_native(fn, dy.copy(), x.copy(), gamma.copy())
        if out is None:
            return Feedback(
                False,
                "your function returns None: write its body and run the cell again.",
                answered=False,
            )
        if isinstance(out, (str, bytes, dict)) or not hasattr(out, "__len__") or len(out) != 3:
            return wrong("return three arrays: (dx, dgamma, dbeta).")
        try:
            dx, dgamma, dbeta = (to_numpy(v) for v in out)
        except TypeError:
            return wrong("return three arrays of numbers: (dx, dgamma, dbeta).")
        num_dx, num_dgamma, num_dbeta = _numerical_gradients(dy, x, gamma, beta)
        for name, got, ref in (
            ("dbeta", dbeta, num_dbeta),
            ("dgamma", dgamma, num_dgamma),
            ("dx", dx, num_dx),
        ):
            if got.shape != ref.shape:
                return wrong(f"{name} must have shape {ref.shape}, got {got.shape}.")
            err = _relative_error(got, ref)
            worst = max(worst, err)
            if err < 1e-6:
                continue
            if name == "dx":
                naive = gamma / np.sqrt(x.var(0) + 1e-5) * dy
                if _relative_error(dx, naive) < 1e-6:
                    return wrong(
                        "your dx treats the batch mean and variance as constants: they depend on "
                        "every x_n, which adds the terms -mean(dy) and -x_hat * mean(dy * x_hat)."
                    )
                if (
                    _relative_error(dx, naive - gamma / np.sqrt(x.var(0) + 1e-5) * dy.mean(0))
                    < 1e-6
                ):
                    return wrong(
                        "you included the gradient through the mean but not through the variance: "
                        "add -x_hat * mean(dy * x_hat)."
                    )
            return wrong(
                f"{name} fails the numerical gradient check (relative error {err:.2g} > 1e-6) for "
                f"a batch of shape ({N}, {D})."
            )
    return correct(
        f"all three gradients pass the float64 numerical check (largest relative error {worst:.1g})."
    )


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
    return tuple(
        g.numpy() for g in torch.autograd.grad((torch.as_tensor(dy) * y).sum(), (x_t, g_t, b_t))
    )


bn_backward = exercise(
    "ch3.bn-backward",
    "Write bn_backward(dy, x, gamma, eps=1e-5) -> (dx, dgamma, dbeta) for BatchNorm in training "
    "mode on an (N, D) batch.",
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
