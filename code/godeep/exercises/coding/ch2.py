"""Chapter 2 coding exercises: an orthogonal initializer and He initialization of a whole model."""

from __future__ import annotations

import math

import numpy as np

from .. import Feedback, correct, exercise, framework_of, library_allowed, wrong
from ..native import to_numpy
from .ch1 import build_mlp

# ---------------------------------------------------------------------------------------------
# orthogonal initialization


_ORTHOGONAL_FORBIDDEN = (
    ("torch.nn.init", "orthogonal_", "torch.nn.init.orthogonal_"),
    ("torch.nn.utils.parametrizations", "orthogonal", "torch.nn.utils.parametrizations.orthogonal"),
    ("keras.initializers", "Orthogonal", "keras.initializers.Orthogonal"),
    ("keras.initializers", "OrthogonalInitializer", "keras.initializers.OrthogonalInitializer"),
    ("scipy.stats", "ortho_group", "scipy.stats.ortho_group"),
)


def _check_orthogonal(fn) -> Feedback:
    if not callable(fn) or isinstance(fn, type):
        return wrong(
            "give a function: def orthogonal(rows, cols, gain=1.0): ... returning a (rows, cols) matrix."
        )
    for rows, cols, gain in (
        (16, 16, 1.0),
        (8, 32, 1.0),
        (32, 8, 1.0),
        (24, 24, 2.0),
        (12, 20, math.sqrt(2)),
    ):
        out = fn(rows, cols, gain)
        if out is None:
            return Feedback(False, "your function returns None: return the matrix.", answered=False)
        try:
            q = to_numpy(out)
        except TypeError as error:
            return wrong(f"{error}: return a (rows, cols) tensor or array.")
        if q.shape != (rows, cols):
            return wrong(
                f"orthogonal({rows}, {cols}) has shape {q.shape}: the matrix must be (rows, cols); "
                "for rows < cols transpose the tall Q of a QR."
            )
        small = min(rows, cols)
        gram = q @ q.T if rows <= cols else q.T @ q
        target = gain**2 * np.eye(small)
        if not np.allclose(gram, target, atol=1e-4 * gain**2):
            if gain != 1.0 and np.allclose(gram, np.eye(small), atol=1e-4):
                return wrong(
                    f"with gain={gain:.3g} the rows/columns must have norm gain: multiply Q by the gain."
                )
            err = np.abs(gram - target).max()
            if np.isclose(np.diag(gram).mean(), gain**2, rtol=0.3):
                return wrong(
                    f"for ({rows}, {cols}) Q Q^T (or Q^T Q for a tall matrix) is off the identity "
                    f"by up to {err:.2g}: a scaled Gaussian is only approximately orthogonal; take "
                    "the Q factor of a QR decomposition."
                )
            return wrong(
                f"for ({rows}, {cols}) the rows (wide) or columns (tall) are not orthonormal (Q "
                f"Q^T differs from gain^2 I by up to {err:.2g})."
            )
    again = to_numpy(fn(16, 16, 1.0))
    if np.allclose(again, to_numpy(fn(16, 16, 1.0))):
        return wrong(
            "two calls return the same matrix: an initializer draws a random orthogonal matrix (QR "
            "of a Gaussian), not a fixed one such as the identity."
        )
    if np.allclose(np.abs(again), np.eye(16)):
        return wrong(
            "a signed identity is orthogonal, but every unit then copies one input: draw a random "
            "orthogonal matrix (QR of a Gaussian)."
        )
    return correct(
        "square, wide and tall matrices with orthonormal rows/columns, scaled by the gain, and a fresh draw each call."
    )


def _orthogonal_solution():
    from ..solutions.ch2_torch import orthogonal

    return orthogonal


def _orthogonal_keras_solution():
    from ..solutions.ch2_keras import orthogonal

    return orthogonal


def _scaled_gaussian(rows, cols, gain=1.0):
    import torch

    return gain * torch.randn(rows, cols) / math.sqrt(max(rows, cols))


def _no_gain(rows, cols, gain=1.0):
    return _orthogonal_solution()(rows, cols, 1.0)


def _square_q(rows, cols, gain=1.0):
    import torch

    q, _ = torch.linalg.qr(torch.randn(rows, cols))
    return gain * q


def _library_orthogonal(rows, cols, gain=1.0):
    import torch

    return torch.nn.init.orthogonal_(torch.empty(rows, cols), gain=gain)


def _identity(rows, cols, gain=1.0):
    import torch

    return gain * torch.eye(rows, cols)


orthogonal = exercise(
    "ch2.orthogonal-init",
    "Write orthogonal(rows, cols, gain=1.0): a random (rows, cols) matrix whose rows (if rows <= cols) or "
    "columns (if rows > cols) are orthonormal, times gain. Use a QR decomposition of a Gaussian matrix "
    "(torch.linalg.qr / keras.ops.qr). Forbidden: torch.nn.init.orthogonal_, keras.initializers.Orthogonal.",
    solution=_orthogonal_solution,
    keras_solution=_orthogonal_keras_solution,
    wrong_answers=[
        (_scaled_gaussian, "only approximately orthogonal"),
        (_no_gain, "multiply Q by the gain"),
        (_square_q, "transpose the tall Q"),
        (_library_orthogonal, "calls torch.nn.init.orthogonal_"),
        (_identity, "same matrix"),
        (lambda rows, cols, gain=1.0: "Q", "return a (rows, cols)"),
    ],
    forbidden=_ORTHOGONAL_FORBIDDEN,
)(_check_orthogonal)

# ---------------------------------------------------------------------------------------------
# He (Kaiming) normal initialization of a whole model


_HE_SIZES = [784, 512, 256, 10]
_HE_FORBIDDEN = (
    ("torch.nn.init", "kaiming_normal_", "torch.nn.init.kaiming_normal_"),
    ("torch.nn.init", "kaiming_uniform_", "torch.nn.init.kaiming_uniform_"),
    ("keras.initializers", "HeNormal", "keras.initializers.HeNormal"),
    ("keras.initializers", "HeUniform", "keras.initializers.HeUniform"),
    ("keras.initializers", "VarianceScaling", "keras.initializers.VarianceScaling"),
)


def _layer_weights(model, framework: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(W (out, in), b)`` of every Linear/Dense layer, as NumPy."""
    if framework == "torch":
        from torch import nn

        return [
            (to_numpy(m.weight), to_numpy(m.bias))
            for m in model.modules()
            if isinstance(m, nn.Linear)
        ]
    import keras

    return [
        (to_numpy(l.kernel).T, to_numpy(l.bias))
        for l in model.layers
        if isinstance(l, keras.layers.Dense)
    ]


def _check_he_init(fn) -> Feedback:
    if not callable(fn) or isinstance(fn, type):
        return wrong(
            "give a function: def he_normal_init(model): ... that re-initializes the model in place."
        )
    start = [(np.full((o, i), 0.5), np.ones(o)) for i, o in zip(_HE_SIZES[:-1], _HE_SIZES[1:])]
    framework = framework_of(fn) or "torch"
    with library_allowed():  # nn.Linear's constructor calls kaiming_uniform_
        model = build_mlp(framework, start, "relu")
    fn(model)
    layers = _layer_weights(model, framework)
    for k, (W, b) in enumerate(layers):
        fan_in, fan_out = W.shape[1], W.shape[0]
        if np.allclose(W, 0.5):
            return wrong(
                f"layer {k + 1} ({fan_in} -> {fan_out}) still has its old weights: re-initialize "
                "every Linear/Dense layer, the last one too."
            )
        if np.abs(b).max() > 0:
            return wrong(
                f"layer {k + 1}'s biases are not zero: He initialization sets b = 0 (the variance "
                "argument assumes no offset)."
            )
        std, expected = W.std(), math.sqrt(2.0 / fan_in)
        tol = (
            4 * expected / math.sqrt(2 * W.size) + 0.01 * expected
        )  # ~4 standard errors of a sample std
        if abs(std - expected) > tol:
            for value, hint in (
                (
                    math.sqrt(2.0 / fan_out),
                    "you used fan_out: He's forward condition uses fan_in, the inputs each unit "
                    "sums (torch weight.shape[1], Keras kernel.shape[0]).",
                ),
                (
                    math.sqrt(1.0 / fan_in),
                    "std sqrt(1/fan_in) is LeCun's choice for linear/tanh units: a ReLU zeroes "
                    "half its input, so He doubles the variance to 2/fan_in.",
                ),
                (
                    math.sqrt(2.0 / (fan_in + fan_out)),
                    "that is Xavier/Glorot's average of the fans: He uses 2/fan_in.",
                ),
                (2.0 / fan_in, "you used the variance 2/fan_in as the std: take its square root."),
            ):
                if abs(std - value) <= tol:
                    return wrong(
                        f"layer {k + 1} ({fan_in} -> {fan_out}) has std {std:.4f}, expected {expected:.4f}: {hint}"
                    )
            return wrong(
                f"layer {k + 1} ({fan_in} -> {fan_out}) has std {std:.4f}, expected sqrt(2 / fan_in) = {expected:.4f}."
            )
        if abs(W.mean()) > 4 * expected / math.sqrt(W.size):
            return wrong(
                f"layer {k + 1}'s weights have mean {W.mean():.3g}: draw them centred at 0."
            )
        if W.size > 100_000:
            kurtosis = float(np.mean((W - W.mean()) ** 4) / W.var() ** 2)
            if kurtosis < 2.5:
                return wrong(
                    f"layer {k + 1}'s weights have kurtosis {kurtosis:.2f} (a Gaussian has 3, a "
                    "uniform 1.8): the exercise asks for the normal version, N(0, 2/fan_in)."
                )
    return correct(
        "every layer has std sqrt(2/fan_in) "
        f"({', '.join(f'{math.sqrt(2 / i):.3f}' for i in _HE_SIZES[:-1])}), Gaussian weights and "
        "zero biases."
    )


def _he_solution():
    from ..solutions.ch2_torch import he_normal_init

    return he_normal_init


def _he_keras_solution():
    from ..solutions.ch2_keras import he_normal_init

    return he_normal_init


def _he_wrong(kind: str):
    def he_normal_init(model):
        import torch
        from torch import nn

        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for m in linears[:-1] if kind == "skip-last" else linears:
                fan_out, fan_in = m.weight.shape
                if kind == "fan-out":
                    m.weight.normal_(0, math.sqrt(2 / fan_out))
                elif kind == "lecun":
                    m.weight.normal_(0, math.sqrt(1 / fan_in))
                elif kind == "uniform":
                    bound = math.sqrt(6 / fan_in)
                    m.weight.uniform_(-bound, bound)
                else:
                    m.weight.normal_(0, math.sqrt(2 / fan_in))
                if kind != "keep-bias":
                    m.bias.zero_()

    return he_normal_init


def _he_keras_fan_out(model):
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            fan_out = layer.kernel.shape[1]  # a Keras kernel is (fan_in, fan_out)
            layer.kernel.assign(
                np.random.normal(0, math.sqrt(2 / fan_out), layer.kernel.shape).astype("float32")
            )
            layer.bias.assign(np.zeros(layer.bias.shape, "float32"))


def _he_library(model):
    import torch

    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            torch.nn.init.zeros_(m.bias)


he_normal_init = exercise(
    "ch2.he-normal-init",
    "Write he_normal_init(model): re-initialize every nn.Linear (or Keras Dense) layer of an MLP in place, "
    "weights from N(0, 2/fan_in) and biases 0. Mind the layouts: a torch weight is (fan_out, fan_in), a Keras "
    "kernel (fan_in, fan_out). Forbidden: torch.nn.init.kaiming_*, "
    "keras.initializers.HeNormal/HeUniform/VarianceScaling.",
    solution=_he_solution,
    keras_solution=_he_keras_solution,
    wrong_answers=[
        (_he_wrong("fan-out"), "you used fan_out"),
        (_he_wrong("lecun"), "LeCun"),
        (_he_wrong("uniform"), "kurtosis"),
        (_he_wrong("keep-bias"), "biases are not zero"),
        (_he_wrong("skip-last"), "still has its old weights"),
        (_he_keras_fan_out, "you used fan_out"),
        (_he_library, "calls torch.nn.init.kaiming_normal_"),
        (3, "give a function"),
    ],
    forbidden=_HE_FORBIDDEN,
)(_check_he_init)
