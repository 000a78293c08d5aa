"""Judging a residual block written by the reader, in PyTorch or Keras, by its behaviour.

The checker builds the reader's block, randomizes every BN (gamma, beta and running
statistics, so that no layer is an identity by accident), feeds an input with negative
entries and compares the output with a *reference computation made of the block's own
layers* (``reference(x, conv, bn, relu)``): the same weights by construction. Each typical
mistake is a variant computation with its hint. Training and inference mode are compared
separately (the Keras ``training=`` pitfall; hand-made batch statistics in PyTorch).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from . import Feedback, correct, framework_of, wrong

#: reference(x, conv, bn, relu) -> output; conv[i], bn[i] are the reader's layers as callables
Reference = Callable[[Any, list, list, Callable], Any]


def _torch_parts(block, training: bool):
    import torch
    from torch import nn

    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)]
    return convs, bns, torch.relu


def _randomize_torch(bns, rng) -> None:
    import torch

    with torch.no_grad():
        for bn in bns:
            c = bn.num_features
            for tensor, values in (
                (bn.weight, rng.random(c) + 0.5),
                (bn.bias, rng.standard_normal(c) * 0.5),
                (bn.running_mean, rng.standard_normal(c) * 0.5),
                (bn.running_var, rng.random(c) + 0.5),
            ):
                if tensor is not None:
                    tensor.copy_(torch.as_tensor(values, dtype=tensor.dtype))


def _randomize_keras(bns, rng) -> None:
    for bn in bns:
        c = bn.moving_mean.shape[0]
        for var, values in (
            (bn.gamma, rng.random(c) + 0.5),
            (bn.beta, rng.standard_normal(c) * 0.5),
            (bn.moving_mean, rng.standard_normal(c) * 0.5),
            (bn.moving_variance, rng.random(c) + 0.5),
        ):
            if var is not None:
                var.assign(values.astype("float32"))


def _runner(block, framework: str, x_nchw: np.ndarray):
    """``run(training, fn)``: ``fn(x, conv, bn, relu)`` (or the block itself if ``fn`` is None) as NCHW NumPy."""
    if framework == "torch":
        import torch

        x = torch.as_tensor(x_nchw, dtype=torch.float32)

        def run(training: bool, fn=None) -> np.ndarray:
            block.train(training)
            convs, bns, relu = _torch_parts(block, training)
            with torch.no_grad():
                out = block(x.clone()) if fn is None else fn(x, convs, bns, relu)
            return np.asarray(out.detach().numpy(), dtype=np.float64)

        return run
    import keras

    x = x_nchw.transpose(0, 2, 3, 1).astype("float32").copy()

    def run(training: bool, fn=None) -> np.ndarray:
        if fn is None:
            out = block(x, training=training)
        else:
            convs, bns = keras_parts(block)
            bn_calls = [lambda h, b=b: b(h, training=training) for b in bns]
            out = fn(x, convs, bn_calls, keras.ops.relu)
        return np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float64).transpose(0, 3, 1, 2)

    return run


def keras_parts(block) -> tuple[list, list]:
    import keras

    layers = list(block._flatten_layers(include_self=False, recursive=True))
    convs = [l for l in layers if isinstance(l, keras.layers.Conv2D)]
    bns = [l for l in layers if isinstance(l, keras.layers.BatchNormalization)]
    return convs, bns


def judge_block(
    make: Any,
    channels: int,
    reference: Reference,
    variants: dict[str, Reference],
    what: str,
    formula: str,
    n_convs: int = 2,
    n_bns: int = 2,
) -> Feedback:
    """Build ``make(channels)`` and compare it with ``reference`` on its own layers (see module doc)."""
    if not isinstance(make, type) and framework_of(type(make)) is not None:
        return wrong(
            f"give the class (or a function channels -> block), not an instance: the checker builds {what}({channels})."
        )
    if not callable(make):
        return wrong(f"give a class: {what}(channels) -> nn.Module (or a keras.layers.Layer).")
    block = make(channels)
    if block is None:
        return Feedback(
            False, "your function returns None: build and return the block.", answered=False
        )
    framework = framework_of(block)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, channels, 6, 6)).astype("float32")
    if framework == "torch":
        from torch import nn

        if not isinstance(block, nn.Module):
            return wrong(f"{what}({channels}) should be an nn.Module, got {type(block).__name__}.")
    elif framework == "keras":
        import keras

        if not isinstance(block, keras.layers.Layer):
            return wrong(
                f"{what}({channels}) should be a keras.layers.Layer, got {type(block).__name__}."
            )
    else:
        return wrong(
            f"{what}({channels}) should be an nn.Module or a keras.layers.Layer, got {type(block).__name__}."
        )
    run = _runner(block, framework, x)
    y = run(True)  # builds a Keras block's layers
    if y.shape != x.shape:
        return wrong(
            f"output shape {y.shape} (as NCHW), expected {x.shape}: a block with an identity "
            f"shortcut keeps the shape (3x3 convs with padding 1, {channels} channels)."
        )
    if framework == "torch":
        convs, bns, _ = _torch_parts(block, True)
        biased = any(c.bias is not None for c in convs)
    else:
        convs, bns = keras_parts(block)
        unused = [l.name for l in (*convs, *bns) if not l.built]
        if unused:
            return wrong(f"{', '.join(unused)} is created but not used in call.")
        biased = any(c.use_bias for c in convs)
    if len(convs) != n_convs or len(bns) != n_bns:
        return wrong(
            "the checker compares your block with the reference on its own layers, so it looks "
            f"for {n_convs} convolutions and {n_bns} BN layers; found {len(convs)} and {len(bns)}."
        )
    if biased:
        return wrong(
            "your convolutions have biases: a BN's beta (or the next BN's mean) makes them "
            "redundant; use bias=False (use_bias=False in Keras)."
        )
    (_randomize_torch if framework == "torch" else _randomize_keras)(bns, rng)
    y = run(True)

    def reordered(fn: Reference, conv_order, bn_order) -> Reference:
        return lambda h, c, b, r: fn(h, [c[i] for i in conv_order], [b[i] for i in bn_order], r)

    orders = list(
        itertools.product(
            itertools.permutations(range(n_convs)), itertools.permutations(range(n_bns))
        )
    )
    # before any training-mode call of the reference moves the running statistics:
    frozen = any(
        np.allclose(y, run(False, reordered(reference, *o)), rtol=1e-4, atol=1e-4) for o in orders
    )
    match = [
        o
        for o in orders
        if np.allclose(y, run(True, reordered(reference, *o)), rtol=1e-4, atol=1e-4)
    ]
    if not match:
        if frozen:
            return wrong(
                "in training mode your block computes the inference-mode result: its BN always runs in inference mode "
                "(training=False hard-coded, or the module left in eval mode). Pass training=training on (Keras) / let "
                "model.train() and model.eval() switch it (PyTorch)."
            )
        for hint, variant in variants.items():
            if any(
                np.allclose(y, run(True, reordered(variant, *o)), rtol=1e-4, atol=1e-4)
                for o in orders
            ):
                return wrong(hint)
        gap = np.abs(y - run(True, reference)).max()
        return wrong(
            "on random weights your block differs from the reference on the same layers by up to "
            f"{gap:.3g}: compute {formula}."
        )
    inference = run(False)
    if not np.allclose(
        inference, run(False, reordered(reference, *match[0])), rtol=1e-4, atol=1e-4
    ):
        if framework == "keras":
            return wrong(
                "with training=True your block is right, but with training=False it is not: pass "
                "training=training on to every BatchNormalization (not training=True), so that "
                "inference uses the moving statistics."
            )
        return wrong(
            "in training mode your block is right, but not in eval mode: use nn.BatchNorm2d "
            "modules (they switch to their running statistics in eval mode), not batch statistics "
            "computed by hand."
        )
    return correct(
        f"on random weights your block computes {formula} exactly like the reference on the same "
        "layers, in training and in inference mode."
    )
