"""Chapter 5 coding exercise: ReZero (x + alpha * F(x), alpha a trainable scalar starting at 0),
in PyTorch or Keras."""

from __future__ import annotations

import numpy as np

from .. import Feedback, correct, exercise, framework_of, wrong
from ._lazy import _lazy


def _rezero_solution():
    from ..solutions.ch5_torch import ReZero

    return ReZero


def _rezero_keras_solution():
    from ..solutions.ch5_keras import ReZero

    return ReZero


def _rezero_parts(make, framework_hint: str):
    """``(x, block, f, run, own weights)``: the answer wrapped around a small tanh layer."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 16)).astype("float32")
    if framework_hint == "torch":
        import torch
        from torch import nn

        torch.manual_seed(0)
        f = nn.Sequential(nn.Linear(16, 16), nn.Tanh())
        block = make(f)
        xt = torch.as_tensor(x)

        def run(module):
            with torch.no_grad():
                return module(xt.clone()).numpy().astype(np.float64)

        inner = {id(p) for p in f.parameters()}
        own = (
            [p for p in block.parameters() if id(p) not in inner]
            if isinstance(block, nn.Module)
            else []
        )
        return x.astype(np.float64), block, f, run, own
    import keras

    f = keras.Sequential([keras.layers.Dense(16, activation="tanh")])
    f(x)
    block = make(f)

    def run(layer):
        return np.asarray(keras.ops.convert_to_numpy(layer(x)), dtype=np.float64)

    inner = {id(v) for v in f.trainable_weights}
    if isinstance(block, keras.layers.Layer):
        run(block)  # build
        own = [v for v in block.trainable_weights if id(v) not in inner]
    else:
        own = []
    return x.astype(np.float64), block, f, run, own


def _set(var, value: float) -> None:
    if hasattr(var, "assign"):
        var.assign(np.full(var.shape, value, dtype="float32"))
    else:
        import torch

        with torch.no_grad():
            var.fill_(value)


def _check_rezero(make) -> Feedback:
    if not isinstance(make, type) and framework_of(type(make)) is not None:
        return wrong(
            "give the class ReZero (the checker builds ReZero(sublayer)), not an instance."
        )
    if not callable(make):
        return wrong("give a class: ReZero(sublayer) -> nn.Module (or a keras.layers.Layer).")
    framework = framework_of(make) or "torch"
    tries = [framework] if isinstance(make, type) or framework == "keras" else ["torch", "keras"]
    for k, framework in enumerate(
        tries
    ):  # a plain function naming neither framework: PyTorch, then Keras
        last = k == len(tries) - 1
        try:
            x, block, f, run, own = _rezero_parts(make, framework)
        except Exception:
            if last:
                raise
            continue
        if block is None or framework_of(block) == framework or last:
            break
    if block is None:
        return Feedback(False, "your class returned None.", answered=False)
    if framework_of(block) != framework:
        return wrong(
            f"ReZero(sublayer) should be an nn.Module (or a keras.layers.Layer), got {type(block).__name__}."
        )
    y, fx = run(block), run(f)
    if y.shape != x.shape:
        return wrong(
            f"output shape {y.shape}, expected {x.shape}: ReZero keeps the shape, x + alpha * sublayer(x)."
        )
    if np.allclose(y, x + fx, atol=1e-5):
        return wrong(
            "at initialization your layer computes x + sublayer(x): alpha starts at 0, so that "
            "every ReZero layer is the identity at the start of training."
        )
    if not np.allclose(y, x, atol=1e-6):
        return wrong(
            "at initialization the layer must be the identity (alpha = 0): your output differs from x."
        )
    if len(own) != 1 or int(np.prod(own[0].shape)) != 1:
        return wrong(
            "alpha must be one trainable scalar (nn.Parameter(torch.zeros(())) / "
            f"self.add_weight(shape=())), registered with the layer; found {len(own)} trainable "
            "weights besides the sublayer's."
        )
    _set(own[0], 0.7)
    y = run(block)
    _set(own[0], 0.0)
    if np.allclose(y, x + 0.7 * fx, atol=1e-5):
        return correct(
            "identity at initialization, one trainable scalar alpha, and x + alpha * sublayer(x) when alpha = 0.7."
        )
    if np.allclose(y, 0.7 * (x + fx), atol=1e-5):
        return wrong(
            "with alpha = 0.7 you return alpha * (x + sublayer(x)): scale only the residual "
            "branch, x + alpha * sublayer(x)."
        )
    return wrong(
        "with alpha = 0.7 your output is not x + 0.7 * sublayer(x): multiply the sublayer's output by alpha and add x."
    )


def _rezero_wrong(kind: str):
    import torch
    from torch import nn

    class WrongReZero(nn.Module):
        def __init__(self, sublayer):
            super().__init__()
            self.sublayer = sublayer
            if kind == "float":
                self.alpha = 0.0
            elif kind == "vector":
                self.alpha = nn.Parameter(torch.zeros(16))
            else:
                self.alpha = nn.Parameter(torch.ones(()) if kind == "one" else torch.zeros(()))

        def forward(self, x):
            if kind == "both":
                return self.alpha * (x + self.sublayer(x))
            if kind == "both-plus":
                return x + self.alpha * (x + self.sublayer(x))
            return x + self.alpha * self.sublayer(x)

    return WrongReZero


def _rezero_keras_one():
    import keras

    Good = _rezero_keras_solution()

    class StartsAtOne(Good):
        def __init__(self, sublayer, **kwargs):
            keras.layers.Layer.__init__(self, **kwargs)
            self.sublayer = sublayer
            self.alpha = self.add_weight(shape=(), initializer="ones", name="alpha")

    return StartsAtOne


rezero = exercise(
    "ch5.rezero",
    "Write ReZero(sublayer): x + alpha * sublayer(x) with one trainable scalar alpha initialized to 0, "
    "in PyTorch (nn.Module) or Keras (Layer).",
    solution=_rezero_solution,
    keras_solution=_rezero_keras_solution,
    wrong_answers=[
        (_lazy(_rezero_wrong, "one"), "alpha starts at 0"),
        (_lazy(_rezero_wrong, "float"), "one trainable scalar"),
        (_lazy(_rezero_wrong, "vector"), "one trainable scalar"),
        (_lazy(_rezero_wrong, "both-plus"), "not x + 0.7 * sublayer(x)"),
        (_lazy(_rezero_wrong, "both"), "must be the identity"),
        (_lazy(_rezero_keras_one), "alpha starts at 0"),
        (3.0, "give a class"),
    ],
)(_check_rezero)
