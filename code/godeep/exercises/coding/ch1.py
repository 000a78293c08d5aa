"""Chapter 1 coding exercises: measure activations and gradients layer by layer (PyTorch or Keras).

The checker builds the same small MLP in the answer's framework (weights drawn once in NumPy,
copied into ``nn.Linear`` or ``keras.layers.Dense``, whose kernel is the transpose), runs the
answer on it and compares with the reference numbers computed from the same weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import Feedback, correct, exercise, framework_of, wrong

WIDTH, DEPTH, BATCH = 64, 6, 256


def _weights(seed: int, sizes: list[int], gain: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(W (out, in), b)`` per layer, W ~ N(0, gain^2 / fan_in), small random biases."""
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((o, i)) * gain / np.sqrt(i), rng.standard_normal(o) * 0.1)
        for i, o in zip(sizes[:-1], sizes[1:])
    ]


def build_mlp(framework: str, weights, activation: str) -> Any:
    """An MLP ``Linear/Dense -> activation layer`` per layer (none after the last if it maps to another width)."""
    if framework == "torch":
        import torch
        from torch import nn

        layers: list = []
        for k, (W, b) in enumerate(weights):
            linear = nn.Linear(W.shape[1], W.shape[0])
            with torch.no_grad():
                linear.weight.copy_(torch.as_tensor(W))
                linear.bias.copy_(torch.as_tensor(b))
            layers.append(linear)
            if activation and (k < len(weights) - 1 or W.shape[0] == W.shape[1]):
                layers.append(
                    {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU}[activation]()
                )
        return nn.Sequential(*layers)
    import keras

    layers = [keras.Input((weights[0][0].shape[1],))]
    dense = []
    for k, (W, _b) in enumerate(weights):
        dense.append(keras.layers.Dense(W.shape[0]))
        layers.append(dense[-1])
        if activation and (k < len(weights) - 1 or W.shape[0] == W.shape[1]):
            layers.append(keras.layers.Activation(activation))
    model = keras.Sequential(layers)
    for layer, (W, b) in zip(dense, weights):
        layer.kernel.assign(W.T.astype("float32"))
        layer.bias.assign(b.astype("float32"))
    return model


def _numbers(result: Any) -> np.ndarray | None:
    """A list of numbers (floats, 0-d tensors) as an array, or None."""
    if isinstance(result, (str, bytes, dict)) or not hasattr(result, "__len__"):
        return None
    try:
        return np.array([float(v) for v in result])
    except (TypeError, ValueError):
        return None


def _run(fn: Callable, make_args: Callable[[str], tuple]) -> tuple[str, Any]:
    """Run ``fn`` in its framework; a function naming neither framework is tried in PyTorch, then Keras."""
    framework = framework_of(fn)
    if framework is not None:
        return framework, fn(*make_args(framework))
    try:
        return "torch", fn(*make_args("torch"))
    except Exception:
        return "keras", fn(*make_args("keras"))


# ---------------------------------------------------------------------------------------------
# per-layer activation std


def _activation_reference(weights, x) -> dict[str, np.ndarray]:
    acts, pres, h = [], [], x.astype(np.float64)
    for W, b in weights:
        z = h @ W.T + b
        h = np.tanh(z)
        pres.append(z.std())
        acts.append(h.std())
    return {"acts": np.array(acts), "pres": np.array(pres), "input": np.array([x.std(), *acts])}


def _check_activation_stds(fn) -> Feedback:
    if not callable(fn) or isinstance(fn, type):
        return wrong(
            "give a function: def activation_stds(model, x): ... returning a list of floats."
        )
    weights = _weights(0, [WIDTH] * (DEPTH + 1), 1.0)
    x = np.random.default_rng(1).standard_normal((BATCH, WIDTH)).astype("float32")

    def args(framework: str) -> tuple:
        model = build_mlp(framework, weights, "tanh")
        if framework == "torch":
            import torch

            return model, torch.as_tensor(x)
        return model, x

    framework, result = _run(fn, args)
    if result is None:
        return Feedback(
            False, "your function returns None: return the list of stds.", answered=False
        )
    got = _numbers(result)
    if got is None:
        return wrong(
            f"your function returned {type(result).__name__}: return a list of floats, one per activation layer."
        )
    ref = _activation_reference(weights, x)
    if len(got) == len(ref["acts"]) and np.allclose(got, ref["acts"], rtol=2e-3):
        trend = " -> ".join(f"{v:.2f}" for v in got)
        return correct(
            f"per-layer stds {trend} ({'PyTorch' if framework == 'torch' else 'Keras'}): the "
            "signal shrinks layer by layer at this weight scale."
        )
    if len(got) == 2 * DEPTH:
        return wrong(
            f"you returned {len(got)} values for {DEPTH} activation layers: record only the "
            "outputs of the activation layers (nn.Tanh / keras.layers.Activation), not of the "
            "Linear/Dense layers."
        )
    if len(got) == DEPTH + 1:
        return wrong(
            f"you returned {DEPTH + 1} values: the std of the input is not an activation layer's "
            "output; give one value per activation layer."
        )
    if len(got) == DEPTH and np.allclose(got, ref["pres"], rtol=2e-3):
        return wrong(
            "those are the stds of the pre-activations (Linear/Dense outputs): record the outputs "
            "of the activation layers."
        )
    if len(got) == DEPTH and np.allclose(got[::-1], ref["acts"], rtol=2e-3):
        return wrong("right values, reversed order: list the layers from the input to the output.")
    w_stds = np.array([W.std() for W, _ in weights])
    if len(got) == DEPTH and np.allclose(got, w_stds, rtol=2e-3):
        return wrong(
            "those are the stds of the weights: the exercise asks for the std of the activations, "
            "h_l = tanh(W_l h_{l-1} + b_l)."
        )
    if len(got) != DEPTH:
        return wrong(f"you returned {len(got)} values; the model has {DEPTH} activation layers.")
    return wrong(
        f"your stds {np.round(got, 3).tolist()} differ from the reference "
        f"{np.round(ref['acts'], 3).tolist()}: take the std over every entry of each activation "
        "layer's output (batch and units)."
    )


def _activation_solution():
    from ..solutions.ch1_torch import activation_stds

    return activation_stds


def _activation_keras_solution():
    from ..solutions.ch1_keras import activation_stds

    return activation_stds


def _stds_of_every_layer(model, x):
    import torch

    stds = []
    hooks = [m.register_forward_hook(lambda m, i, o: stds.append(o.std().item())) for m in model]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return stds


def _stds_of_linear_outputs(model, x):
    import torch

    stds = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: stds.append(o.std().item()))
        for m in model
        if isinstance(m, torch.nn.Linear)
    ]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return stds


def _stds_of_weights(model, x):
    import torch

    return [m.weight.std().item() for m in model if isinstance(m, torch.nn.Linear)]


def _keras_pre_activations(model, x):
    import keras

    stds, h = [], x
    for layer in model.layers:
        h = layer(h)
        if isinstance(layer, keras.layers.Dense):
            stds.append(float(keras.ops.std(h)))
    return stds


activation_stds = exercise(
    "ch1.activation-stds",
    "Write activation_stds(model, x): the std of the output of every activation layer (nn.Tanh / "
    "keras.layers.Activation) of a Sequential MLP on the batch x, first layer first, as a list of floats. "
    "PyTorch: forward hooks; Keras: run the layers one by one.",
    solution=_activation_solution,
    keras_solution=_activation_keras_solution,
    wrong_answers=[
        (_stds_of_every_layer, "not of the Linear/Dense"),
        (_stds_of_linear_outputs, "pre-activations"),
        (_stds_of_weights, "stds of the weights"),
        (lambda model, x: _activation_solution()(model, x)[::-1], "reversed"),
        (_keras_pre_activations, "pre-activations"),
        (lambda model, x: "0.5", "list of floats"),
    ],
)(_check_activation_stds)

# ---------------------------------------------------------------------------------------------
# per-layer weight-gradient norms


_GRAD_SIZES = [32, 32, 32, 32, 32, 32, 4]


def _grad_setup():
    weights = _weights(2, _GRAD_SIZES, 1.0)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, _GRAD_SIZES[0])).astype("float32")
    y = rng.standard_normal((64, _GRAD_SIZES[-1])).astype("float32")
    return weights, x, y


def _grad_reference(weights, x, y) -> np.ndarray:
    import torch

    model = build_mlp("torch", weights, "sigmoid").double()
    return np.array(
        _grad_solution()(
            model, torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
        )
    )


def _check_grad_norms(fn) -> Feedback:
    if not callable(fn) or isinstance(fn, type):
        return wrong(
            "give a function: def weight_grad_norms(model, x, y): ... returning a list of floats."
        )
    weights, x, y = _grad_setup()

    def args(framework: str) -> tuple:
        model = build_mlp(framework, weights, "sigmoid")
        if framework == "torch":
            import torch

            return model, torch.as_tensor(x), torch.as_tensor(y)
        return model, x, y

    framework, result = _run(fn, args)
    if result is None:
        return Feedback(
            False, "your function returns None: return the list of gradient norms.", answered=False
        )
    got = _numbers(result)
    if got is None:
        return wrong(
            f"your function returned {type(result).__name__}: return a list of floats, one per weight matrix."
        )
    ref = _grad_reference(weights, x, y)
    n = len(ref)
    if len(got) == n and np.allclose(got, ref, rtol=2e-3):
        return correct(
            f"gradient norms from {got[0]:.2g} (first layer) to {got[-1]:.2g} (last): "
            f"{got[-1] / got[0]:.0f}x smaller at the bottom of this sigmoid net."
        )
    if len(got) == 2 * n:
        return wrong(
            f"you returned {2 * n} values: give the weight matrices' gradients only "
            "(nn.Linear.weight / Dense.kernel), not the biases'."
        )
    if len(got) != n:
        return wrong(f"you returned {len(got)} values; the model has {n} weight matrices.")
    if np.allclose(got[::-1], ref, rtol=2e-3):
        return wrong("right values, reversed order: list the layers from the input to the output.")
    ratio = got / ref
    if np.allclose(ratio, ratio[0], rtol=2e-3):
        if np.isclose(ratio[0], y.size, rtol=1e-2):
            return wrong(
                f"every norm is {ratio[0]:.0f} times too large: you summed the squared errors; the loss is their mean."
            )
        return wrong(
            f"every norm is off by the same factor {ratio[0]:.3g}: check the loss, L = mean((model(x) - y)^2)."
        )
    w_norms = np.array([np.linalg.norm(W) for W, _ in weights])
    if np.allclose(got, w_norms, rtol=2e-3):
        return wrong(
            "those are the norms of the weights themselves: the exercise asks for the norms of their gradients dL/dW."
        )
    return wrong(
        f"your norms {np.round(got, 5).tolist()} differ from the reference {np.round(ref, 5).tolist()}."
    )


def _grad_solution():
    from ..solutions.ch1_torch import weight_grad_norms

    return weight_grad_norms


def _grad_keras_solution():
    from ..solutions.ch1_keras import weight_grad_norms

    return weight_grad_norms


def _grad_with_biases(model, x, y):
    model.zero_grad()
    ((model(x) - y) ** 2).mean().backward()
    return [p.grad.norm().item() for p in model.parameters()]


def _grad_summed(model, x, y):
    import torch

    model.zero_grad()
    ((model(x) - y) ** 2).sum().backward()
    return [m.weight.grad.norm().item() for m in model if isinstance(m, torch.nn.Linear)]


def _weight_norms(model, x, y):
    import torch

    return [m.weight.norm().item() for m in model if isinstance(m, torch.nn.Linear)]


weight_grad_norms = exercise(
    "ch1.weight-grad-norms",
    "Write weight_grad_norms(model, x, y): the Frobenius norm of dL/dW for every weight matrix "
    "(nn.Linear.weight / keras Dense.kernel) of a Sequential MLP, first layer first, for the loss "
    "L = mean((model(x) - y)^2). PyTorch: backward(); Keras: tf.GradientTape.",
    solution=_grad_solution,
    keras_solution=_grad_keras_solution,
    wrong_answers=[
        (_grad_with_biases, "not the biases"),
        (_grad_summed, "you summed"),
        (_weight_norms, "norms of the weights themselves"),
        (lambda model, x, y: _grad_solution()(model, x, y)[::-1], "reversed"),
        (lambda model, x, y: 1.0, "list of floats"),
    ],
)(_check_grad_norms)
