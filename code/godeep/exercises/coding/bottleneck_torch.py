"""Chapter 4 bottleneck block, the PyTorch side: the reference, typical mistakes, and the judge."""

from __future__ import annotations

from .. import Feedback, correct, wrong

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

    out = unit(
        block.conv1, block.bn1, kind not in ("no-inner-relus", "no-relu1"), kind != "skip-bn1"
    )(x)
    out = unit(
        block.conv2, block.bn2, kind not in ("no-inner-relus", "no-relu2"), kind != "skip-bn2"
    )(out)
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
    shapes = {
        "conv1": (planes, 4 * planes, 1, 1),
        "conv2": (planes, planes, 3, 3),
        "conv3": (4 * planes, planes, 1, 1),
    }
    if len(convs) != 3 or any(shape not in by_shape for shape in shapes.values()):
        found = ", ".join(str(tuple(c.weight.shape)) for c in convs) or "none"
        return (
            f"the checker compares your block with the reference on the same weights, so it looks for three "
            f"nn.Conv2d modules with weights {', '.join(map(str, shapes.values()))}; found {found}."
        )
    bns = [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)]
    narrow = [b for b in bns if b.num_features == planes]
    wide = [b for b in bns if b.num_features == 4 * planes]
    if len(bns) != 3 or len(narrow) != 2 or len(wide) != 1 or not all(b.affine for b in bns):
        return (
            "the checker looks for three nn.BatchNorm2d modules (with their default affine=True): "
            "two of planes = 64 channels and one of 4 * planes = 256."
        )
    return {name: by_shape[shape] for name, shape in shapes.items()}, narrow, wide[0]


def _reference_on(layers, bn_order):
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
        return wrong(
            "your block is (or contains) godeep.residual.Bottleneck: the exercise asks you to write it yourself."
        )
    torch.manual_seed(0)
    x = torch.relu(torch.randn(2, 256, 8, 8))
    block.train()
    try:
        y = block(x.clone())
    except RuntimeError as error:
        return wrong(
            f"Bottleneck(256, 64) fails on a (2, 256, 8, 8) input: {error}. The block must output "
            "4 * planes = 256 channels."
        )
    if not isinstance(y, torch.Tensor):
        return wrong(f"the block's forward returned {type(y).__name__}: return the output tensor.")
    if tuple(y.shape) != (2, 256, 8, 8):
        return wrong(
            f"output shape {tuple(y.shape)}, expected (2, 256, 8, 8): the last 1x1 conv expands to 4 * planes channels."
        )
    n = sum(p.numel() for p in block.parameters())
    expected = _bottleneck_params()
    if n != expected:
        convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
        if any(c.bias is not None for c in convs):
            return wrong(
                f"{n:,} parameters, {n - expected:,} too many: your convolutions have biases. A BN "
                "follows each conv and its beta already adds a per-channel shift: use bias=False."
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
        return wrong(
            "with the last BN's gamma and beta set to 0 the block should compute relu(0 + x) = x "
            "for x >= 0: did you add the shortcut x before the final ReLU?"
        )
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
                return wrong(
                    f"zeroing the gamma of {name} does not change the block's output: {name} is "
                    "created but not used in forward (a BN follows each convolution)."
                )
        matches = [
            order
            for order in ((0, 1), (1, 0))
            if _close(y, _reference_on(layers, order).train()(x))
        ]
        if not matches:
            ref = _reference_on(layers, (0, 1)).train()
            for kind, hint in _VARIANT_HINTS.items():
                if _close(y, _variant_forward(ref, x, kind)):
                    return wrong(hint)
            if (y < 0).any():
                return wrong(
                    "your output has negative entries: the block ends with a ReLU applied after "
                    "the addition, relu(F(x) + x)."
                )
            gap = (y - ref(x)).abs().max().item()
            return wrong(
                f"on the same weights your block differs from the reference by up to {gap:.3g}: "
                "compute relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + x)."
            )
        block.eval()  # inference mode: the running statistics, as the reference's
        ref = _reference_on(layers, matches[0]).eval()
        same = _close(block(x.clone()), ref(x))
        block.train()
    if not same:
        return wrong(
            "in training mode your block matches the reference, but not in eval mode: use nn.BatchNorm2d modules "
            "(which switch to their running statistics in eval mode), not batch statistics computed by hand."
        )
    return correct(
        f"{n:,} parameters, and on random weights your block computes relu(F(x) + x) exactly like the reference, "
        "in training and in eval mode; every BN and ReLU is where it belongs."
    )
