"""Chapter 4 bottleneck block, the Keras side: judged against the PyTorch reference on the same weights."""

from __future__ import annotations

import sys

from .. import Feedback, correct, wrong
from .bottleneck_torch import (
    _BOTTLENECK_ARGS,
    _VARIANT_HINTS,
    _bottleneck_params,
    _bottleneck_solution,
    _close,
    _variant_forward,
)


def _bottleneck_keras_solution():
    """The Keras twin: a Layer with the same signature; kernels (kh, kw, in, out), NHWC inputs."""
    from ..solutions.ch4_keras import Bottleneck

    return Bottleneck


def _wrong_bottleneck_keras(kind: str):
    """Keras twins of the typical mistakes ("no-final-relu", "biases", "skip-bn2")."""

    def build(inplanes: int, planes: int):
        import keras

        Good = _bottleneck_keras_solution()

        class Wrong(Good):
            def __init__(self, inplanes, planes, **kwargs):
                keras.layers.Layer.__init__(self, **kwargs)
                self.conv1 = keras.layers.Conv2D(planes, 1, use_bias=kind == "biases")
                self.bn1 = keras.layers.BatchNormalization()
                self.conv2 = keras.layers.Conv2D(planes, 3, padding="same", use_bias=False)
                self.bn2 = keras.layers.BatchNormalization()
                self.conv3 = keras.layers.Conv2D(4 * planes, 1, use_bias=False)
                self.bn3 = keras.layers.BatchNormalization()

            def call(self, x, training=None):
                out = keras.ops.relu(self.bn1(self.conv1(x), training=training))
                out = self.conv2(out)
                out = keras.ops.relu(
                    out if kind == "skip-bn2" else self.bn2(out, training=training)
                )
                f = self.bn3(self.conv3(out), training=training)
                return f + x if kind == "no-final-relu" else keras.ops.relu(f + x)

        return Wrong(inplanes, planes)

    return build


def _keras_reference_on(block, convs, narrow, wide, bn_order):
    """The PyTorch reference holding the Keras block's weights (kernels transposed to (out, in, kh, kw))."""
    import numpy as np
    import torch

    ref = _bottleneck_solution()(*_BOTTLENECK_ARGS)
    with torch.no_grad():
        for name, conv in convs.items():
            kernel = np.asarray(
                conv.kernel.numpy() if hasattr(conv.kernel, "numpy") else conv.kernel
            )
            getattr(ref, name).weight.copy_(torch.as_tensor(kernel.transpose(3, 2, 0, 1).copy()))
        for target, bn in zip(
            (ref.bn1, ref.bn2, ref.bn3), (narrow[bn_order[0]], narrow[bn_order[1]], wide)
        ):
            for t_name, k_name in (
                ("weight", "gamma"),
                ("bias", "beta"),
                ("running_mean", "moving_mean"),
                ("running_var", "moving_variance"),
            ):
                getattr(target, t_name).copy_(
                    torch.as_tensor(np.asarray(getattr(bn, k_name).numpy()))
                )
            target.eps = float(bn.epsilon)
    return ref


def _check_bottleneck_keras(block) -> Feedback:
    """The same checks as for PyTorch, on NHWC inputs, against the PyTorch reference with the same weights."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # Keras warns about sublayers built lazily; the checks below say what matters
        return _judge_keras_block(block)


def _judge_keras_block(block) -> Feedback:
    import keras
    import numpy as np
    import torch

    if "godeep.keras.residual" in sys.modules and isinstance(
        block, sys.modules["godeep.keras.residual"]._Block
    ):
        return wrong(
            "your block is godeep.keras.residual.Bottleneck: the exercise asks you to write it yourself."
        )
    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal((2, 8, 8, 256)), 0).astype("float32")
    try:
        y = block(x, training=True)
    except Exception as error:  # Keras raises ValueError and TF errors alike
        return wrong(
            f"Bottleneck(256, 64) fails on a (2, 8, 8, 256) input: {error}. The block must output "
            "4 * planes = 256 channels."
        )
    y = np.asarray(keras.ops.convert_to_numpy(y))
    layers = list(block._flatten_layers(include_self=False, recursive=True))
    attribute = {id(v): k for k, v in vars(block).items() if isinstance(v, keras.layers.Layer)}
    unused = [
        attribute.get(id(l), l.name)
        for l in layers
        if not l.built and isinstance(l, (keras.layers.Conv2D, keras.layers.BatchNormalization))
    ]
    if unused:
        return wrong(
            f"{', '.join(unused)} is created but not used in call (Keras builds a layer's weights at its first call): "
            "a BN follows each convolution."
        )
    if tuple(y.shape) != (2, 8, 8, 256):
        return wrong(
            f"output shape {tuple(y.shape)}, expected (2, 8, 8, 256): the last 1x1 conv expands to 4 * planes channels."
        )
    n = int(sum(np.prod(w.shape) for w in block.trainable_weights))
    expected = _bottleneck_params()
    convs = [l for l in layers if isinstance(l, keras.layers.Conv2D)]
    if n != expected:
        if any(c.use_bias for c in convs):
            return wrong(
                f"{n:,} parameters, {n - expected:,} too many: your convolutions have biases. A BN "
                "follows each conv and its beta already adds a per-channel shift: use "
                "use_bias=False."
            )
        if n > expected:
            return wrong(
                f"{n:,} parameters, expected {expected:,}: the first and last convolutions are 1x1 "
                "(they only mix channels); only the middle one is 3x3."
            )
        return wrong(
            f"{n:,} parameters, expected {expected:,}: 1x1 conv 256->64, 3x3 conv 64->64, 1x1 conv "
            "64->256, each followed by a BN (2 parameters per channel)."
        )
    planes = _BOTTLENECK_ARGS[1]
    shapes = {
        "conv1": (1, 1, 4 * planes, planes),
        "conv2": (3, 3, planes, planes),
        "conv3": (1, 1, planes, 4 * planes),
    }
    by_shape = {tuple(c.kernel.shape): c for c in convs}
    bns = [l for l in layers if isinstance(l, keras.layers.BatchNormalization)]
    narrow = (
        [b for b in bns if tuple(b.gamma.shape) == (planes,)]
        if all(b.scale and b.center for b in bns)
        else []
    )
    wide = [b for b in bns if tuple(b.gamma.shape) == (4 * planes,)] if narrow else []
    if (
        len(convs) != 3
        or any(shape not in by_shape for shape in shapes.values())
        or len(bns) != 3
        or len(narrow) != 2
        or len(wide) != 1
    ):
        return wrong(
            "the checker compares your block with the reference on the same weights, so it looks "
            "for three keras.layers.Conv2D "
            f"with kernels {', '.join(map(str, shapes.values()))} and three BatchNormalization "
            "layers (64, 64 and 256 channels)."
        )
    convs = {name: by_shape[shape] for name, shape in shapes.items()}
    wide = wide[0]
    x = np.ascontiguousarray(x)
    keep = wide.gamma.numpy(), wide.beta.numpy()
    wide.gamma.assign(np.zeros_like(keep[0]))
    wide.beta.assign(np.zeros_like(keep[1]))
    y0 = np.asarray(keras.ops.convert_to_numpy(block(x, training=True)))
    wide.gamma.assign(keep[0])
    wide.beta.assign(keep[1])
    if not np.allclose(y0, x, atol=1e-4):
        return wrong(
            "with the last BN's gamma and beta set to 0 the block should compute relu(0 + x) = x "
            "for x >= 0: did you add the shortcut x before the final ReLU?"
        )
    for bn in (*narrow, wide):
        bn.gamma.assign((rng.random(bn.gamma.shape) + 0.5).astype("float32"))
        bn.beta.assign((rng.standard_normal(bn.beta.shape) * 0.5).astype("float32"))
    x = rng.standard_normal((2, 6, 6, 256)).astype("float32")

    def run(training: bool) -> np.ndarray:
        return np.asarray(keras.ops.convert_to_numpy(block(x, training=training)))

    y = run(True)
    for bn in (*narrow, wide):
        keep = bn.gamma.numpy()
        bn.gamma.assign(np.zeros_like(keep))
        changed = not np.allclose(run(True), y, atol=1e-4)
        bn.gamma.assign(keep)
        if not changed:
            name = attribute.get(id(bn), bn.name)
            return wrong(
                f"zeroing the gamma of {name} does not change the block's output: {name} is "
                "created but not used in call (a BN follows each convolution)."
            )
    x_t = torch.as_tensor(x.transpose(0, 3, 1, 2).copy())
    got = torch.as_tensor(y.transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        orders = [
            o
            for o in ((0, 1), (1, 0))
            if _close(got, _keras_reference_on(block, convs, narrow, wide, o).train()(x_t))
        ]
        if not orders:
            ref = _keras_reference_on(block, convs, narrow, wide, (0, 1)).train()
            for kind, hint in _VARIANT_HINTS.items():
                if _close(got, _variant_forward(ref, x_t, kind)):
                    return wrong(hint)
            gap = (got - ref(x_t)).abs().max().item()
            return wrong(
                f"on the same weights your block differs from the reference by up to {gap:.3g}: "
                "compute relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + x)."
            )
        ref = _keras_reference_on(
            block, convs, narrow, wide, orders[0]
        ).eval()  # Keras' moving statistics, as they are now
        same = _close(torch.as_tensor(run(False).transpose(0, 3, 1, 2).copy()), ref(x_t))
    if not same:
        return wrong(
            "with training=True your block matches the reference, but not with training=False: "
            "pass training= on to every "
            "BatchNormalization (or let Keras propagate it), so that inference uses the moving statistics."
        )
    return correct(
        f"{n:,} parameters, and on random weights your Keras block computes relu(F(x) + x) exactly like the reference, "
        "with training=True and training=False; every BN and ReLU is where it belongs."
    )
