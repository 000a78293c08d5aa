"""Exercises of Chapter 4, "Deep residual learning"."""

from __future__ import annotations

import math

from . import Feedback, close_to, correct, exercise, wrong

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
    from torch import nn

    class MyBottleneck(nn.Module):
        def __init__(self, inplanes: int, planes: int):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, 4 * planes, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(4 * planes)

        def forward(self, x):
            out = self.bn1(self.conv1(x)).relu()
            out = self.bn2(self.conv2(out)).relu()
            return (self.bn3(self.conv3(out)) + x).relu()

    return MyBottleneck


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
        return block

    return build


def _check_bottleneck(make) -> Feedback:
    import torch
    from torch import nn

    if isinstance(make, nn.Module):
        return wrong("give the class (or a function (inplanes, planes) -> module), not an instance: the checker builds it.")
    if not callable(make):
        return wrong("give a class or function: Bottleneck(inplanes, planes) -> nn.Module.")
    block = make(*_BOTTLENECK_ARGS)
    if block is None:
        return Feedback(False, "your function returns None: build and return the block.", answered=False)
    if not isinstance(block, nn.Module):
        return wrong(f"Bottleneck(256, 64) should be an nn.Module, got {type(block).__name__}.")
    torch.manual_seed(0)
    x = torch.relu(torch.randn(2, 256, 8, 8))
    block.train()
    try:
        y = block(x)
    except RuntimeError as error:
        return wrong(f"Bottleneck(256, 64) fails on a (2, 256, 8, 8) input: {error}. The block must output 4 * planes = 256 channels.")
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
    # the shortcut: zero the last BN's gamma and beta, then the block must be the identity on x >= 0
    bns = [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        bns[-1].weight.zero_()
        bns[-1].bias.zero_()
        y0 = block(x)
    if not torch.allclose(y0, x, atol=1e-6):
        return wrong("with the last BN's gamma and beta set to 0 the block should compute relu(0 + x) = x for x >= 0: did you add the shortcut x before the final ReLU?")
    return correct(f"shapes (2, 256, 8, 8) -> (2, 256, 8, 8), {n:,} parameters, and a zeroed last BN gives the identity: a bottleneck block.")


bottleneck_block = exercise(
    "ch4.bottleneck-block",
    "Write a bottleneck block Bottleneck(inplanes, planes): 1x1 conv to planes, 3x3 conv, 1x1 conv to 4*planes, BN after each, identity shortcut.",
    solution=_bottleneck_solution,
    wrong_answers=[
        (_wrong_bottleneck("no-expansion"), "4 * planes"),
        (_wrong_bottleneck("biases"), "bias=False"),
        (_wrong_bottleneck("all-3x3"), "1x1"),
        (_wrong_bottleneck("no-shortcut"), "shortcut"),
    ],
)(_check_bottleneck)


# ---------------------------------------------------------------------------------------------
# 2. Count a ResNet's parameters by hand
# ---------------------------------------------------------------------------------------------


def _resnet20_params() -> int:
    stem = 3 * 3 * 3 * 16 + 2 * 16
    total, prev = stem, 16
    for width in (16, 32, 64):
        for _ in range(3):
            total += 9 * prev * width + 9 * width * width + 2 * 2 * width
            prev = width
    return total + 64 * 10 + 10


_BN_PARAMS_20 = 2 * 16 + 3 * 2 * 2 * (16 + 32 + 64)


def _check_resnet20(answer) -> Feedback:
    expected = _resnet20_params()
    hints = [
        (expected - _BN_PARAMS_20, f"you left out the BatchNorm layers: each has 2 parameters (gamma, beta) per channel, {_BN_PARAMS_20:,} in all."),
        (expected + _BN_PARAMS_20, "you counted BN's running mean and variance: they are statistics (buffers), not trained parameters."),
        (expected - 10, "you forgot the bias of the final fully connected layer (10 values)."),
        (expected + (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64), "you added 1x1 projection shortcuts (option B); the CIFAR ResNets use option A, which has no parameters."),
    ]
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return wrong(f"give the count as an integer, not {type(answer).__name__}.")
    if value == expected:
        return correct(f"{expected:,} parameters, which the paper rounds to 0.27M.")
    for typical, message in hints:
        if value == typical:
            return wrong(message)
    if abs(value - 0.27e6) < 0.005e6:
        return wrong(f"{value:,.0f} rounds to 0.27M like the exact answer, but it is not exact: count conv weights (k*k*in*out), BN (2 per channel) and the fc layer (64*10 + 10).")
    return close_to(value, expected, rtol=1e-9, what="the parameter count")


resnet20_params = exercise(
    "ch4.resnet20-params",
    "The exact number of trainable parameters of the CIFAR ResNet-20 (option A, 10 classes), by hand.",
    solution=_resnet20_params,
    wrong_answers=[
        (_resnet20_params() - _BN_PARAMS_20, "BatchNorm"),
        (_resnet20_params() + _BN_PARAMS_20, "buffers"),
        (_resnet20_params() - 10, "bias"),
        (_resnet20_params() + 16 * 32 + 2 * 32 + 32 * 64 + 2 * 64, "option A"),
        (270_000, "not exact"),
    ],
)(_check_resnet20)


# ---------------------------------------------------------------------------------------------
# 3. Implement the option-A shortcut
# ---------------------------------------------------------------------------------------------


def _option_a_solution():
    import torch.nn.functional as F

    def shortcut_a(x, out_channels: int, stride: int):
        x = x[:, :, ::stride, ::stride]
        return F.pad(x, (0, 0, 0, 0, 0, out_channels - x.shape[1]))

    return shortcut_a


def _wrong_option_a(kind: str):
    def shortcut_a(x, out_channels: int, stride: int):
        import torch
        import torch.nn.functional as F

        if kind == "no-subsample":
            return F.pad(x, (0, 0, 0, 0, 0, out_channels - x.shape[1]))
        if kind == "avgpool":
            x = F.avg_pool2d(x, stride) if stride > 1 else x
            return F.pad(x, (0, 0, 0, 0, 0, out_channels - x.shape[1]))
        if kind == "repeat":
            x = x[:, :, ::stride, ::stride]
            return torch.cat([x] * (out_channels // x.shape[1]), dim=1)
        if kind == "pad-spatial":
            x = x[:, :, ::stride, ::stride]
            return F.pad(x, (0, out_channels - x.shape[1]))
        raise AssertionError(kind)

    return shortcut_a


def _check_option_a(fn) -> Feedback:
    import torch

    from ..residual import ZeroPadShortcut

    if not callable(fn):
        return wrong("give a function shortcut_a(x, out_channels, stride) returning a tensor.")
    torch.manual_seed(0)
    for c_in, c_out, stride, size in ((16, 32, 2, 8), (8, 8, 1, 5), (4, 16, 2, 6)):
        x = torch.randn(3, c_in, size, size)
        got = fn(x.clone(), c_out, stride)
        if got is None:
            return Feedback(False, "your function returns None: write its body and run the cell again.", answered=False)
        got = torch.as_tensor(got)
        expected = ZeroPadShortcut(c_in, c_out, stride)(x)
        if tuple(got.shape) != tuple(expected.shape):
            if stride > 1 and got.shape[-1] == size:
                return wrong(f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}: subsample the feature map by the stride (x[:, :, ::stride, ::stride]).")
            return wrong(f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}: the new channels are zeros appended along dim 1 (F.pad pads the last dimensions first).")
        if not torch.allclose(got, expected):
            if torch.count_nonzero(got[:, c_in:]) > 0:
                return wrong("the extra channels must be zeros: option A adds no information and no parameters.")
            return wrong("the kept channels differ from x[:, :, ::stride, ::stride]: option A subsamples (keeps every stride-th pixel), it does not average.")
    return correct("your shortcut matches godeep.residual.ZeroPadShortcut: subsample by the stride, append zero channels.")


option_a = exercise(
    "ch4.option-a",
    "Implement the option-A shortcut: shortcut_a(x, out_channels, stride) for NCHW tensors.",
    solution=_option_a_solution,
    wrong_answers=[
        (_wrong_option_a("no-subsample"), "subsample"),
        (_wrong_option_a("avgpool"), "does not average"),
        (_wrong_option_a("repeat"), "zeros"),
        (_wrong_option_a("pad-spatial"), "dim 1"),
    ],
)(_check_option_a)


# ---------------------------------------------------------------------------------------------
# 4. Why does plain-56 train worse? (a numeric prediction)
# ---------------------------------------------------------------------------------------------


def _check_identity_ratio(answer) -> Feedback:
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return wrong(f"give the ratio as a number, not {type(answer).__name__}.")
    if math.isclose(value, 1.0, rel_tol=1e-3):
        return correct(
            "the constructed 56-layer net computes exactly the 20-layer net's function, so its training loss is "
            "the same: a solution at least as good as plain-20 exists. Plain-56 ends higher because SGD does not "
            "find it in the same budget: degradation is an optimization problem, not a lack of capacity or overfitting."
        )
    if math.isclose(value, 56 / 20, rel_tol=1e-3) or math.isclose(value, 20 / 56, rel_tol=1e-3):
        return wrong("the loss does not scale with the number of layers: identity layers leave the function, hence every prediction, unchanged.")
    if value > 1:
        return wrong("the extra layers compute the identity, so the 56-layer net outputs exactly what the 20-layer one does: same predictions, same loss. The higher loss you saw is not forced by the architecture.")
    if 0 <= value < 1:
        return wrong("identity layers add nothing: the function, and so the loss, is unchanged. A lower loss would need the extra layers to be trained.")
    return wrong("a ratio of two losses is positive.")


identity_ratio = exercise(
    "ch4.identity-ratio",
    "Copy a trained plain-20 into a 56-layer net whose 36 extra layers compute the identity: "
    "the ratio of its training loss to plain-20's?",
    solution=lambda: 1.0,
    wrong_answers=[(56 / 20, "scale with the number"), (1.5, "not forced"), (0.5, "add nothing"), ("one", "as a number")],
)(_check_identity_ratio)


# ---------------------------------------------------------------------------------------------
# 5. The cost of ResNet-50's first convolution
# ---------------------------------------------------------------------------------------------

_STEM_MACS = 112 * 112 * 64 * 7 * 7 * 3


def _check_stem_macs(answer) -> Feedback:
    return close_to(
        answer,
        _STEM_MACS,
        rtol=1e-6,
        what="the number of multiply-accumulates",
        hints=[
            (224 * 224 * 64 * 7 * 7 * 3, "the conv has stride 2: its output is 112 x 112, not 224 x 224."),
            (2 * _STEM_MACS, "that counts a multiply and an add separately (FLOPs = 2 x MACs); the paper's 'FLOPs' are multiply-adds."),
            (112 * 112 * 64 * 7 * 7, "each output value sums over all 3 input channels: multiply by C_in = 3."),
            (64 * 7 * 7 * 3, "that is the number of weights; each is used once per output position (112 x 112 of them)."),
        ],
    )


stem_macs = exercise(
    "ch4.stem-macs",
    "Multiply-accumulates of ResNet-50's first layer (7x7 conv, stride 2, 3 -> 64 channels) on a 224x224 image.",
    solution=lambda: _STEM_MACS,
    wrong_answers=[
        (224 * 224 * 64 * 7 * 7 * 3, "stride 2"),
        (2 * _STEM_MACS, "multiply-adds"),
        (112 * 112 * 64 * 7 * 7, "C_in = 3"),
        (64 * 7 * 7 * 3, "number of weights"),
    ],
)(_check_stem_macs)

__all__ = ["bottleneck_block", "resnet20_params", "option_a", "identity_ratio", "stem_macs"]
