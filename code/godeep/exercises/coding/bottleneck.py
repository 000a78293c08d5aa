"""Chapter 4: build a bottleneck block, in PyTorch or Keras; judged on its own weights against the reference."""

from __future__ import annotations

import sys

from .. import Feedback, correct, exercise, framework_of, wrong

# ---------------------------------------------------------------------------------------------
# 1. Build a bottleneck block
# ---------------------------------------------------------------------------------------------

#: the configuration the checker builds: 256 channels in and out, width 64, stride 1
_BOTTLENECK_ARGS = (256, 64)


def _bottleneck_params(inplanes: int = 256, planes: int = 64) -> int:
    convs = inplanes * planes + 9 * planes * planes + planes * 4 * planes
    bns = 2 * (planes + planes + 4 * planes)
    return convs + bns


def _bottleneck_solution():
    from ..solutions.ch4_torch import Bottleneck

    return Bottleneck


def _wrong_bottleneck(kind: str):
    """Typical mistakes, built lazily (the checker calls them with (256, 64))."""

    def build(inplanes: int, planes: int):
        from torch import nn

        Good = _bottleneck_solution()
        block = Good(inplanes, planes)
        if kind == "no-expansion":
            block.conv3 = nn.Conv2d(planes, planes, 1, bias=False)
            block.bn3 = nn.BatchNorm2d(planes)
        elif kind == "biases":
            block.conv1 = nn.Conv2d(inplanes, planes, 1, bias=True)
            block.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=True)
            block.conv3 = nn.Conv2d(planes, 4 * planes, 1, bias=True)
        elif kind == "all-3x3":
            block.conv1 = nn.Conv2d(inplanes, planes, 3, padding=1, bias=False)
            block.conv3 = nn.Conv2d(planes, 4 * planes, 3, padding=1, bias=False)
        elif kind == "no-shortcut":
            def forward(x, self=block):
                out = self.bn1(self.conv1(x)).relu()
                out = self.bn2(self.conv2(out)).relu()
                return self.bn3(self.conv3(out)).relu()

            block.forward = forward
        elif kind in _VARIANT_HINTS:
            block.forward = lambda x, self=block: _variant_forward(self, x, kind)
        elif kind == "library":
            from ...residual import Bottleneck

            return Bottleneck(inplanes, planes)
        elif kind == "library-subclass":
            from ...residual import Bottleneck

            class Mine(Bottleneck):
                pass

            return Mine(inplanes, planes)
        return block

    return build


#: how a typical wrong forward differs from relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1 x))))))) + x)
_VARIANT_HINTS = {
    "no-final-relu": "your block returns F(x) + x without the final ReLU: it must compute relu(F(x) + x) "
    "(on inputs with negative entries your output is negative where the reference is 0).",
    "relu-before-add": "you applied the last ReLU before adding the shortcut: relu(F(x)) + x. "
    "Add first, then apply the ReLU: relu(F(x) + x).",
    "no-inner-relus": "the ReLUs inside the branch are missing: apply one after bn1 and one after bn2.",
    "no-relu1": "the ReLU after bn1 is missing: relu(bn1(conv1(x))).",
    "no-relu2": "the ReLU after bn2 is missing: relu(bn2(conv2(out))).",
    "skip-bn1": "bn1 is created but not used: apply it after conv1 (conv -> BN -> ReLU).",
    "skip-bn2": "bn2 is created but not used: apply it after conv2 (conv -> BN -> ReLU).",
    "bn-after-relu": "BN and ReLU are swapped in the branch: each convolution is followed by BN, then the ReLU.",
}


def _variant_forward(block, x, kind: str = "right"):
    """The reference forward on ``block``'s layers, or one of the typical mistakes in it."""
    import torch

    def unit(conv, bn, relu: bool, use_bn: bool = True):
        def apply(h):
            h = conv(h)
            if kind == "bn-after-relu" and relu:
                return bn(torch.relu(h))
            h = bn(h) if use_bn else h
            return torch.relu(h) if relu else h

        return apply

    out = unit(block.conv1, block.bn1, kind not in ("no-inner-relus", "no-relu1"), kind != "skip-bn1")(x)
    out = unit(block.conv2, block.bn2, kind not in ("no-inner-relus", "no-relu2"), kind != "skip-bn2")(out)
    f = block.bn3(block.conv3(out))
    if kind == "no-final-relu":
        return f + x
    if kind == "relu-before-add":
        return torch.relu(f) + x
    return torch.relu(f + x)


_BOTTLENECK_FORBIDDEN = (
    ("godeep.residual", "Bottleneck", "godeep.residual.Bottleneck"),
    ("torchvision.models.resnet", "Bottleneck", "torchvision.models.resnet.Bottleneck"),
    ("godeep.keras.residual", "Bottleneck", "godeep.keras.residual.Bottleneck"),
)


def _find_layers(block):
    """The reader's three convolutions (by weight shape) and BNs (64, 64, 256 channels, in order), or a message."""
    from torch import nn

    planes = _BOTTLENECK_ARGS[1]
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    by_shape = {tuple(c.weight.shape): c for c in convs}
    shapes = {"conv1": (planes, 4 * planes, 1, 1), "conv2": (planes, planes, 3, 3), "conv3": (4 * planes, planes, 1, 1)}
    if len(convs) != 3 or any(shape not in by_shape for shape in shapes.values()):
        found = ", ".join(str(tuple(c.weight.shape)) for c in convs) or "none"
        return (f"the checker compares your block with the reference on the same weights, so it looks for three "
                f"nn.Conv2d modules with weights {', '.join(map(str, shapes.values()))}; found {found}.")
    bns = [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)]
    narrow = [b for b in bns if b.num_features == planes]
    wide = [b for b in bns if b.num_features == 4 * planes]
    if len(bns) != 3 or len(narrow) != 2 or len(wide) != 1 or not all(b.affine for b in bns):
        return "the checker looks for three nn.BatchNorm2d modules (with their default affine=True): two of planes = 64 channels and one of 4 * planes = 256."
    return {name: by_shape[shape] for name, shape in shapes.items()}, narrow, wide[0]


def _reference_on(layers, bn_order) -> "torch.nn.Module":
    """The reference block holding copies of the reader's weights (BN eps and momentum included)."""
    import copy

    convs, narrow, wide = layers
    ref = _bottleneck_solution()(*_BOTTLENECK_ARGS)
    for name, conv in convs.items():
        setattr(ref, name, copy.deepcopy(conv))
    ref.bn1, ref.bn2 = (copy.deepcopy(narrow[i]) for i in bn_order)
    ref.bn3 = copy.deepcopy(wide)
    return ref


def _close(a, b) -> bool:
    import torch

    return tuple(a.shape) == tuple(b.shape) and torch.allclose(a, b, rtol=1e-4, atol=1e-4)


def _check_bottleneck_torch(block) -> Feedback:
    import torch
    from torch import nn

    from ...residual import _Block

    if any(isinstance(m, _Block) for m in block.modules()):
        return wrong("your block is (or contains) godeep.residual.Bottleneck: the exercise asks you to write it yourself.")
    torch.manual_seed(0)
    x = torch.relu(torch.randn(2, 256, 8, 8))
    block.train()
    try:
        y = block(x.clone())
    except RuntimeError as error:
        return wrong(f"Bottleneck(256, 64) fails on a (2, 256, 8, 8) input: {error}. The block must output 4 * planes = 256 channels.")
    if not isinstance(y, torch.Tensor):
        return wrong(f"the block's forward returned {type(y).__name__}: return the output tensor.")
    if tuple(y.shape) != (2, 256, 8, 8):
        return wrong(f"output shape {tuple(y.shape)}, expected (2, 256, 8, 8): the last 1x1 conv expands to 4 * planes channels.")
    n = sum(p.numel() for p in block.parameters())
    expected = _bottleneck_params()
    if n != expected:
        convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
        if any(c.bias is not None for c in convs):
            return wrong(f"{n:,} parameters, {n - expected:,} too many: your convolutions have biases. A BN follows each conv and its beta already adds a per-channel shift: use bias=False.")
        if n > expected:
            return wrong(f"{n:,} parameters, expected {expected:,}: the first and last convolutions are 1x1 (they only mix channels); only the middle one is 3x3.")
        return wrong(f"{n:,} parameters, expected {expected:,}: 1x1 conv 256->64, 3x3 conv 64->64, 1x1 conv 64->256, each followed by a BN (2 parameters per channel).")
    layers = _find_layers(block)
    if isinstance(layers, str):
        return wrong(layers)
    convs, narrow, wide = layers
    # the shortcut: zero the last BN's gamma and beta, then the block must be the identity on x >= 0
    with torch.no_grad():
        keep = wide.weight.clone(), wide.bias.clone()
        wide.weight.zero_()
        wide.bias.zero_()
        y0 = block(x.clone())
        wide.weight.copy_(keep[0])
        wide.bias.copy_(keep[1])
    if not _close(y0, x):
        return wrong("with the last BN's gamma and beta set to 0 the block should compute relu(0 + x) = x for x >= 0: did you add the shortcut x before the final ReLU?")
    # behaviour: random BN parameters, an input with negative entries, the reference on the same weights
    names = {id(m): name for name, m in block.named_modules()}
    with torch.no_grad():
        gen = torch.Generator().manual_seed(1)
        for bn in (*narrow, wide):
            bn.weight.copy_(torch.rand(bn.num_features, generator=gen) + 0.5)
            bn.bias.copy_(torch.randn(bn.num_features, generator=gen) * 0.5)
        x = torch.randn(2, 256, 6, 6, generator=gen)
        y = block(x.clone())
        for bn in (*narrow, wide):  # zero each BN's gamma in turn: the output must change
            keep = bn.weight.clone()
            bn.weight.zero_()
            changed = not _close(block(x.clone()), y)
            bn.weight.copy_(keep)
            if not changed:
                name = names.get(id(bn), "a BN")
                return wrong(f"zeroing the gamma of {name} does not change the block's output: {name} is created but not used in forward (a BN follows each convolution).")
        matches = [order for order in ((0, 1), (1, 0)) if _close(y, _reference_on(layers, order).train()(x))]
        if not matches:
            ref = _reference_on(layers, (0, 1)).train()
            for kind, hint in _VARIANT_HINTS.items():
                if _close(y, _variant_forward(ref, x, kind)):
                    return wrong(hint)
            if (y < 0).any():
                return wrong("your output has negative entries: the block ends with a ReLU applied after the addition, relu(F(x) + x).")
            gap = (y - ref(x)).abs().max().item()
            return wrong(f"on the same weights your block differs from the reference by up to {gap:.3g}: "
                         "compute relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + x).")
        block.eval()  # inference mode: the running statistics, as the reference's
        ref = _reference_on(layers, matches[0]).eval()
        same = _close(block(x.clone()), ref(x))
        block.train()
    if not same:
        return wrong("in training mode your block matches the reference, but not in eval mode: use nn.BatchNorm2d modules "
                     "(which switch to their running statistics in eval mode), not batch statistics computed by hand.")
    return correct(f"{n:,} parameters, and on random weights your block computes relu(F(x) + x) exactly like the reference, "
                   "in training and in eval mode; every BN and ReLU is where it belongs.")


def _check_bottleneck(make) -> Feedback:
    """Build ``make(256, 64)`` and judge it in its own framework (PyTorch module or Keras layer)."""
    if not isinstance(make, type) and framework_of(type(make)) is not None:
        return wrong("give the class (or a function (inplanes, planes) -> module), not an instance: the checker builds it.")
    if not callable(make):
        return wrong("give a class or function: Bottleneck(inplanes, planes) -> nn.Module (or a Keras layer).")
    block = make(*_BOTTLENECK_ARGS)
    if block is None:
        return Feedback(False, "your function returns None: build and return the block.", answered=False)
    framework = framework_of(block)
    if framework == "torch":
        from torch import nn

        if isinstance(block, nn.Module):
            return _check_bottleneck_torch(block)
    if framework == "keras":
        import keras

        if isinstance(block, keras.layers.Layer):
            return _check_bottleneck_keras(block)
    return wrong(f"Bottleneck(256, 64) should be an nn.Module (or a keras.layers.Layer), got {type(block).__name__}.")


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
                out = keras.ops.relu(out if kind == "skip-bn2" else self.bn2(out, training=training))
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
            kernel = np.asarray(conv.kernel.numpy() if hasattr(conv.kernel, "numpy") else conv.kernel)
            getattr(ref, name).weight.copy_(torch.as_tensor(kernel.transpose(3, 2, 0, 1).copy()))
        for target, bn in zip((ref.bn1, ref.bn2, ref.bn3), (narrow[bn_order[0]], narrow[bn_order[1]], wide)):
            for t_name, k_name in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"), ("running_var", "moving_variance")):
                getattr(target, t_name).copy_(torch.as_tensor(np.asarray(getattr(bn, k_name).numpy())))
            target.eps = float(bn.epsilon)
    return ref


def _check_bottleneck_keras(block) -> Feedback:
    """The same checks as for PyTorch, on NHWC inputs, against the PyTorch reference with the same weights."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns about sublayers built lazily; the checks below say what matters
        return _judge_keras_block(block)


def _judge_keras_block(block) -> Feedback:
    import keras
    import numpy as np
    import torch

    if "godeep.keras.residual" in sys.modules and isinstance(block, sys.modules["godeep.keras.residual"]._Block):
        return wrong("your block is godeep.keras.residual.Bottleneck: the exercise asks you to write it yourself.")
    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal((2, 8, 8, 256)), 0).astype("float32")
    try:
        y = block(x, training=True)
    except Exception as error:  # Keras raises ValueError and TF errors alike
        return wrong(f"Bottleneck(256, 64) fails on a (2, 8, 8, 256) input: {error}. The block must output 4 * planes = 256 channels.")
    y = np.asarray(keras.ops.convert_to_numpy(y))
    layers = list(block._flatten_layers(include_self=False, recursive=True))
    attribute = {id(v): k for k, v in vars(block).items() if isinstance(v, keras.layers.Layer)}
    unused = [attribute.get(id(l), l.name) for l in layers if not l.built and isinstance(l, (keras.layers.Conv2D, keras.layers.BatchNormalization))]
    if unused:
        return wrong(f"{', '.join(unused)} is created but not used in call (Keras builds a layer's weights at its first call): "
                     "a BN follows each convolution.")
    if tuple(y.shape) != (2, 8, 8, 256):
        return wrong(f"output shape {tuple(y.shape)}, expected (2, 8, 8, 256): the last 1x1 conv expands to 4 * planes channels.")
    n = int(sum(np.prod(w.shape) for w in block.trainable_weights))
    expected = _bottleneck_params()
    convs = [l for l in layers if isinstance(l, keras.layers.Conv2D)]
    if n != expected:
        if any(c.use_bias for c in convs):
            return wrong(f"{n:,} parameters, {n - expected:,} too many: your convolutions have biases. A BN follows each conv and its beta already adds a per-channel shift: use use_bias=False.")
        if n > expected:
            return wrong(f"{n:,} parameters, expected {expected:,}: the first and last convolutions are 1x1 (they only mix channels); only the middle one is 3x3.")
        return wrong(f"{n:,} parameters, expected {expected:,}: 1x1 conv 256->64, 3x3 conv 64->64, 1x1 conv 64->256, each followed by a BN (2 parameters per channel).")
    planes = _BOTTLENECK_ARGS[1]
    shapes = {"conv1": (1, 1, 4 * planes, planes), "conv2": (3, 3, planes, planes), "conv3": (1, 1, planes, 4 * planes)}
    by_shape = {tuple(c.kernel.shape): c for c in convs}
    bns = [l for l in layers if isinstance(l, keras.layers.BatchNormalization)]
    narrow = [b for b in bns if tuple(b.gamma.shape) == (planes,)] if all(b.scale and b.center for b in bns) else []
    wide = [b for b in bns if tuple(b.gamma.shape) == (4 * planes,)] if narrow else []
    if len(convs) != 3 or any(shape not in by_shape for shape in shapes.values()) or len(bns) != 3 or len(narrow) != 2 or len(wide) != 1:
        return wrong("the checker compares your block with the reference on the same weights, so it looks for three keras.layers.Conv2D "
                     f"with kernels {', '.join(map(str, shapes.values()))} and three BatchNormalization layers (64, 64 and 256 channels).")
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
        return wrong("with the last BN's gamma and beta set to 0 the block should compute relu(0 + x) = x for x >= 0: did you add the shortcut x before the final ReLU?")
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
            return wrong(f"zeroing the gamma of {name} does not change the block's output: {name} is created but not used in call (a BN follows each convolution).")
    x_t = torch.as_tensor(x.transpose(0, 3, 1, 2).copy())
    got = torch.as_tensor(y.transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        orders = [o for o in ((0, 1), (1, 0)) if _close(got, _keras_reference_on(block, convs, narrow, wide, o).train()(x_t))]
        if not orders:
            ref = _keras_reference_on(block, convs, narrow, wide, (0, 1)).train()
            for kind, hint in _VARIANT_HINTS.items():
                if _close(got, _variant_forward(ref, x_t, kind)):
                    return wrong(hint)
            gap = (got - ref(x_t)).abs().max().item()
            return wrong(f"on the same weights your block differs from the reference by up to {gap:.3g}: "
                         "compute relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + x).")
        ref = _keras_reference_on(block, convs, narrow, wide, orders[0]).eval()  # Keras' moving statistics, as they are now
        same = _close(torch.as_tensor(run(False).transpose(0, 3, 1, 2).copy()), ref(x_t))
    if not same:
        return wrong("with training=True your block matches the reference, but not with training=False: pass training= on to every "
                     "BatchNormalization (or let Keras propagate it), so that inference uses the moving statistics.")
    return correct(f"{n:,} parameters, and on random weights your Keras block computes relu(F(x) + x) exactly like the reference, "
                   "with training=True and training=False; every BN and ReLU is where it belongs.")


bottleneck_block = exercise(
    "ch4.bottleneck-block",
    "Write a bottleneck block Bottleneck(inplanes, planes): 1x1 conv to planes, 3x3 conv, 1x1 conv to 4*planes, BN after each, identity shortcut.",
    solution=_bottleneck_solution,
    keras_solution=_bottleneck_keras_solution,
    wrong_answers=[
        (_wrong_bottleneck("no-expansion"), "4 * planes"),
        (_wrong_bottleneck("biases"), "bias=False"),
        (_wrong_bottleneck("all-3x3"), "1x1"),
        (_wrong_bottleneck("no-shortcut"), "shortcut"),
        (_wrong_bottleneck("no-final-relu"), "without the final ReLU"),
        (_wrong_bottleneck("relu-before-add"), "before adding the shortcut"),
        (_wrong_bottleneck("no-inner-relus"), "ReLUs inside the branch are missing"),
        (_wrong_bottleneck("no-relu1"), "ReLU after bn1"),
        (_wrong_bottleneck("skip-bn1"), "bn1 is created but not used"),
        (_wrong_bottleneck("skip-bn2"), "bn2 is created but not used"),
        (_wrong_bottleneck("bn-after-relu"), "swapped"),
        (_wrong_bottleneck("library"), "godeep.residual.Bottleneck"),
        (_wrong_bottleneck("library-subclass"), "godeep.residual.Bottleneck"),
        ("a block", "class or function"),
        (_wrong_bottleneck_keras("no-final-relu"), "without the final ReLU"),
        (_wrong_bottleneck_keras("biases"), "use_bias=False"),
        (_wrong_bottleneck_keras("skip-bn2"), "created but not used"),
    ],
    forbidden=_BOTTLENECK_FORBIDDEN,
)(_check_bottleneck)
