"""Chapter 5 coding exercises: the pre-activation block and ReZero, in PyTorch or Keras."""

from __future__ import annotations

import numpy as np

from .. import Feedback, correct, exercise, framework_of, wrong
from ..blocks import judge_block


def _lazy(build, *args):
    """A wrong answer built only when checked: importing the chapter must not import PyTorch or Keras."""
    return lambda *shape: build(*args)(*shape)


# ---------------------------------------------------------------------------------------------
# pre-activation block


def _preact(x, conv, bn, relu):
    return x + conv[1](relu(bn[1](conv[0](relu(bn[0](x))))))


_PREACT_VARIANTS = {
    (
        "your block ends with a ReLU after the addition: in the pre-activation block nothing follows "
        "the add, so the shortcut stays a clean identity (x + F(x))."
    ): lambda x, c, b, r: r(_preact(x, c, b, r)),
    (
        "that is the original (post-activation) block relu(bn2(conv2(relu(bn1(conv1(x))))) + x): move "
        "BN and ReLU in front of each convolution."
    ): lambda x, c, b, r: r(b[1](c[1](r(b[0](c[0](x))))) + x),
    "the first BN-ReLU is missing: the branch starts with relu(bn1(x)), before conv1.": lambda x, c, b, r: (
        x + c[1](r(b[1](c[0](x))))
    ),
    (
        "your shortcut carries relu(bn1(x)) instead of x: only the branch is pre-activated; the "
        "identity path must carry x untouched."
    ): lambda x, c, b, r: r(b[0](x)) + c[1](r(b[1](c[0](r(b[0](x)))))),
    "you applied ReLU before BN: the order is BN, then ReLU, then conv.": lambda x, c, b, r: (
        x + c[1](b[1](r(c[0](b[0](r(x))))))
    ),
}

_PREACT_FORBIDDEN = (
    ("godeep.residual", "PreActBasicBlock", "godeep.residual.PreActBasicBlock"),
    ("godeep.keras.residual", "PreActBasicBlock", "godeep.keras.residual.PreActBasicBlock"),
)


def _preact_solution():
    from ..solutions.ch5_torch import PreActBlock

    return PreActBlock


def _preact_keras_solution():
    from ..solutions.ch5_keras import PreActBlock

    return PreActBlock


def _check_preact(make):
    return judge_block(
        make,
        8,
        _preact,
        _PREACT_VARIANTS,
        "PreActBlock",
        "x + conv2(relu(bn2(conv1(relu(bn1(x))))))",
    )


def _wrong_preact(kind: str, framework: str = "torch"):
    Good = _preact_solution() if framework == "torch" else _preact_keras_solution()
    if framework == "torch":
        forward = {
            "final-relu": lambda s, x: (x + s.conv2(s.bn2(s.conv1(s.bn1(x).relu())).relu())).relu(),
            "no-first-preact": lambda s, x: x + s.conv2(s.bn2(s.conv1(x)).relu()),
            "preact-shortcut": lambda s, x: (
                s.bn1(x).relu() + s.conv2(s.bn2(s.conv1(s.bn1(x).relu())).relu())
            ),
            "relu-bn": lambda s, x: x + s.conv2(s.bn2(s.conv1(s.bn1(x.relu())).relu())),
        }[kind]
        return type(f"Wrong{kind}", (Good,), {"forward": forward})
    import keras

    def final_relu(self, x, training=None):
        out = self.conv1(keras.ops.relu(self.bn1(x, training=training)))
        return keras.ops.relu(x + self.conv2(keras.ops.relu(self.bn2(out, training=training))))

    def training_true(self, x, training=None):
        out = self.conv1(keras.ops.relu(self.bn1(x, training=True)))
        return x + self.conv2(keras.ops.relu(self.bn2(out, training=True)))

    call = {"final-relu": final_relu, "training-true": training_true}[kind]
    return type(f"Wrong{kind}", (Good,), {"call": call})


def _post_activation(channels: int):
    from ..solutions.ch4_torch import BasicBlock

    return BasicBlock(channels)


def _library_preact(channels: int):
    from ...residual import PreActBasicBlock

    return PreActBasicBlock(channels, channels)


preact_block = exercise(
    "ch5.preact-block",
    "Write the pre-activation block PreActBlock(channels): x + conv2(relu(bn2(conv1(relu(bn1(x)))))), "
    "3x3 convolutions without bias, nothing after the addition; in PyTorch (NCHW) or Keras (NHWC, "
    "passing training= on to its BNs). Forbidden: the library PreActBasicBlock.",
    solution=_preact_solution,
    keras_solution=_preact_keras_solution,
    wrong_answers=[
        (_lazy(_wrong_preact, "final-relu"), "nothing follows the add"),
        (_post_activation, "post-activation"),
        (_lazy(_wrong_preact, "no-first-preact"), "first BN-ReLU is missing"),
        (_lazy(_wrong_preact, "preact-shortcut"), "x untouched"),
        (_lazy(_wrong_preact, "relu-bn"), "ReLU before BN"),
        (_library_preact, "calls godeep.residual.PreActBasicBlock"),
        (_lazy(_wrong_preact, "final-relu", "keras"), "nothing follows the add"),
        (_lazy(_wrong_preact, "training-true", "keras"), "training=False"),
    ],
    forbidden=_PREACT_FORBIDDEN,
)(_check_preact)

# ---------------------------------------------------------------------------------------------
# ReZero


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

# ---------------------------------------------------------------------------------------------
# filter normalization (Section 5.5)


def _filter_solution():
    from ..solutions.ch5_torch import filter_normalize

    return filter_normalize


def _filter_keras_solution():
    from ..solutions.ch5_keras import filter_normalize

    return filter_normalize


def _normalized(d: np.ndarray, w: np.ndarray, axes: tuple) -> np.ndarray:
    return d / np.sqrt((d**2).sum(axes, keepdims=True)) * np.sqrt((w**2).sum(axes, keepdims=True))


def _check_filter_normalize(fn) -> Feedback:
    from ..native import to_numpy

    if not callable(fn) or isinstance(fn, type):
        return wrong(
            "give a function: def filter_normalize(direction, weight): ... returning the normalized direction."
        )
    keras_answer = framework_of(fn) == "keras"
    rng = np.random.default_rng(5)
    for shape in ((8, 4, 3, 3), (6, 10)):
        w = rng.standard_normal(shape) * rng.random((shape[0],) + (1,) * (len(shape) - 1)) * 3
        d = rng.standard_normal(shape)
        if keras_answer:  # Keras layout: (kh, kw, in, out) or (in, out)
            w, d = (np.ascontiguousarray(np.moveaxis(a, 0, -1)) for a in (w, d))
            filter_axes, layout = (
                tuple(range(len(shape) - 1)),
                "the last axis (Keras kernels are (kh, kw, in, out))",
            )
            args = (d.copy(), w.copy())
        else:
            import torch

            filter_axes, layout = (
                tuple(range(1, len(shape))),
                "dim 0 (PyTorch weights are (out, in, kh, kw))",
            )
            args = (torch.as_tensor(d), torch.as_tensor(w))
        out = fn(*args)
        if out is None:
            return Feedback(
                False,
                "your function returns None: return the normalized direction.",
                answered=False,
            )
        try:
            got = to_numpy(out)
        except TypeError as error:
            return wrong(f"{error}: return a tensor of the weight's shape.")
        expected = _normalized(d, w, filter_axes)
        if got.shape != expected.shape:
            return wrong(
                f"the direction must keep the weight's shape {expected.shape}, got {got.shape}."
            )
        if np.allclose(got, expected, rtol=1e-4, atol=1e-6):
            continue
        everything = tuple(range(d.ndim))
        if np.allclose(got, _normalized(d, w, everything), rtol=1e-4, atol=1e-6):
            return wrong(
                "you normalized the whole layer at once (layer normalization of the direction): Li "
                "et al. rescale each filter on its own, ||d_i|| = ||w_i||."
            )
        if np.allclose(
            got, d / np.sqrt((d**2).sum(filter_axes, keepdims=True)), rtol=1e-4, atol=1e-6
        ):
            return wrong(
                "each filter has unit norm, but it must have the norm of the matching weight "
                "filter: multiply by ||w_i||."
            )
        wrong_axes = tuple(a for a in everything if a != (d.ndim - 1 if not keras_answer else 0))
        if np.allclose(got, _normalized(d, w, wrong_axes), rtol=1e-4, atol=1e-6):
            return wrong(
                f"you took the filters along the wrong axis: a filter (one output unit) runs along {layout}."
            )
        return wrong(
            f"for a weight of shape {w.shape} your direction differs from the filter-normalized "
            f"one by up to {np.abs(got - expected).max():.3g}."
        )
    return correct(
        "each filter of the direction now has the norm of the matching weight filter, for a conv "
        "kernel and a dense matrix."
    )


def _filter_whole_layer(direction, weight):
    return direction / direction.norm() * weight.norm()


def _filter_unit(direction, weight):
    import torch

    dims = tuple(range(1, weight.dim()))
    return direction / torch.linalg.vector_norm(direction, dim=dims, keepdim=True)


def _filter_keras_torch_axis(direction, weight):
    import keras

    axes = tuple(range(1, len(weight.shape)))  # PyTorch's axes on a Keras kernel
    d = keras.ops.sqrt(keras.ops.sum(direction**2, axis=axes, keepdims=True))
    return direction / d * keras.ops.sqrt(keras.ops.sum(weight**2, axis=axes, keepdims=True))


filter_normalize = exercise(
    "ch5.filter-normalize",
    "Write filter_normalize(direction, weight): rescale each filter d_i of a random direction to the norm of the "
    "matching weight filter, d_i / ||d_i|| * ||w_i|| (Li et al., 2018). A filter is one output unit: weight[i] for a "
    "PyTorch (out, in, kh, kw) or (out, in) weight, weight[..., i] for a Keras (kh, kw, in, out) or (in, out) kernel.",
    solution=_filter_solution,
    keras_solution=_filter_keras_solution,
    wrong_answers=[
        (_filter_whole_layer, "whole layer at once"),
        (_filter_unit, "multiply by ||w_i||"),
        (_filter_keras_torch_axis, "wrong axis"),
        (lambda direction, weight: "d", "return a tensor"),
    ],
)(_check_filter_normalize)
