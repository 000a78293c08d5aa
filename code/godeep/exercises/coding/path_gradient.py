"""Chapter 5.6: the stop-gradient trick that sends the gradient along one path, in PyTorch or Keras.

``path_block(x, branch, through_branch)`` must compute ``x + branch(x)`` forward, but let the
gradient pass only through the branch (``through_branch=True``) or only through the shortcut.
The checker compares the forward value and the input gradient of ``sum(v * out)`` with
``J_F(x)^T v`` (branch) and ``v`` (shortcut), computed by the framework's autodiff.
"""

from __future__ import annotations

import numpy as np

from .. import Feedback, correct, exercise, framework_of, wrong

_WIDTH = 8


def _branch_weights():
    rng = np.random.default_rng(6)
    return rng.standard_normal((_WIDTH, _WIDTH)) / np.sqrt(_WIDTH), rng.standard_normal(
        _WIDTH
    ) * 0.1


class _NotATensor(TypeError):
    """The answer returned something other than a tensor."""


def _measure(fn, framework: str, through: bool):
    """``(forward, grad wrt x, branch forward, J^T v)`` as NumPy, for the answer in ``framework``."""
    rng = np.random.default_rng(7)
    x0 = rng.standard_normal((4, _WIDTH))
    v = rng.standard_normal((4, _WIDTH))
    W, b = _branch_weights()
    if framework == "torch":
        import torch
        from torch import nn

        branch = nn.Sequential(nn.Linear(_WIDTH, _WIDTH), nn.Tanh()).double()
        with torch.no_grad():
            branch[0].weight.copy_(torch.as_tensor(W))
            branch[0].bias.copy_(torch.as_tensor(b))
        x = torch.as_tensor(x0).requires_grad_(True)
        out = fn(x, branch, through)
        if out is None:
            return None
        if not isinstance(out, torch.Tensor):
            raise _NotATensor(type(out).__name__)
        (gx,) = torch.autograd.grad((out * torch.as_tensor(v)).sum(), x, allow_unused=True)
        xr = torch.as_tensor(x0).requires_grad_(True)
        fx = branch(xr)
        (jv,) = torch.autograd.grad((fx * torch.as_tensor(v)).sum(), xr)
        grad = np.zeros_like(x0) if gx is None else gx.detach().numpy()
        return out.detach().numpy(), grad, fx.detach().numpy(), jv.numpy()
    import keras
    import tensorflow as tf

    dense = keras.layers.Dense(_WIDTH, activation="tanh", dtype="float64")
    dense.build((None, _WIDTH))
    dense.kernel.assign(W.T)
    dense.bias.assign(b)
    x = tf.Variable(x0)
    with tf.GradientTape(persistent=True) as tape:
        out = fn(x, dense, through)
        if out is None:
            return None
        if isinstance(out, (str, bytes)) or not hasattr(out, "shape"):
            raise _NotATensor(type(out).__name__)
        target = tf.reduce_sum(out * v)
        fx = dense(x)
        branch_target = tf.reduce_sum(fx * v)
    gx = tape.gradient(target, x)
    jv = tape.gradient(branch_target, x)
    grad = np.zeros_like(x0) if gx is None else np.asarray(gx)
    return np.asarray(out), grad, np.asarray(fx), np.asarray(jv)


def _check_path_block(fn) -> Feedback:
    if not callable(fn) or isinstance(fn, type):
        return wrong(
            "give a function: def path_block(x, branch, through_branch): ... returning a tensor."
        )
    framework = framework_of(fn)
    tries = (
        [framework] if framework else ["torch", "keras"]
    )  # a function naming neither: PyTorch first
    for k, name in enumerate(tries):
        try:
            results = {t: _measure(fn, name, t) for t in (True, False)}
            break
        except _NotATensor as error:
            return wrong(
                f"your function returned {error}: return the block's output tensor, x + branch(x)."
            )
        except Exception:
            if k == len(tries) - 1:
                raise
    if any(r is None for r in results.values()):
        return Feedback(
            False, "your function returns None: return the block's output.", answered=False
        )
    rng = np.random.default_rng(7)  # the x and v of _measure
    x0, v = rng.standard_normal((4, _WIDTH)), rng.standard_normal((4, _WIDTH))
    for through, (out, gx, fx, jv) in results.items():
        if out.shape != x0.shape or not np.allclose(out, x0 + fx, atol=1e-8):
            if np.allclose(out, fx, atol=1e-8) or np.allclose(out, x0, atol=1e-8):
                return wrong(
                    "the forward value must stay x + branch(x) on every path: stop the *gradient* "
                    "of one term (detach / stop_gradient), not the term itself."
                )
            return wrong("the forward value is not x + branch(x).")
        expected = jv if through else v
        if np.allclose(gx, expected, atol=1e-8):
            continue
        if np.allclose(gx, v + jv, atol=1e-8):
            return wrong(
                f"with through_branch={through} the gradient still flows through both terms: "
                "detach (stop_gradient) the term it must not pass through."
            )
        other = v if through else jv
        if np.allclose(gx, other, atol=1e-8):
            return wrong(
                f"with through_branch={through} the gradient goes through the "
                f"{'shortcut' if through else 'branch'}: you stopped the wrong term."
            )
        return wrong(
            f"with through_branch={through} the input gradient is not the expected {'J_F(x)^T v' if through else 'v'}."
        )
    return correct(
        "forward x + F(x) either way; backward only through F (J_F^T v) or only through the "
        "shortcut (v), as in Veit et al.'s path-length measurement."
    )


def _path_solution():
    from ..solutions.ch5_torch import path_block

    return path_block


def _path_keras_solution():
    from ..solutions.ch5_keras import path_block

    return path_block


def _path_no_stop(x, branch, through_branch):
    return x + branch(x)


def _path_swapped(x, branch, through_branch):
    return x + branch(x).detach() if through_branch else x.detach() + branch(x)


def _path_drops_term(x, branch, through_branch):
    return branch(x) if through_branch else x


def _path_keras_swapped(x, branch, through_branch):
    import keras

    if through_branch:
        return x + keras.ops.stop_gradient(branch(x))
    return keras.ops.stop_gradient(x) + branch(x)


path_block = exercise(
    "ch5.path-block",
    "Write path_block(x, branch, through_branch): x + branch(x) in the forward pass, with the gradient "
    "passing only through the branch (through_branch=True) or only through the shortcut (False): "
    "the trick behind Section 5.6's gradient per path length. PyTorch: .detach(); Keras: keras.ops.stop_gradient.",
    solution=_path_solution,
    keras_solution=_path_keras_solution,
    wrong_answers=[
        (_path_no_stop, "flows through both terms"),
        (_path_swapped, "stopped the wrong term"),
        (_path_drops_term, "stop the *gradient*"),
        (_path_keras_swapped, "stopped the wrong term"),
        (lambda x, branch, through_branch: "out", "output tensor"),
    ],
)(_check_path_block)
