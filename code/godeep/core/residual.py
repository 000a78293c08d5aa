"""Block plans, checks and tables shared by both frameworks' ResNets (framework-free).

He et al. (2016a): a CIFAR ResNet of ``depth = 6n + 2`` layers has three stages of ``n``
basic blocks; the ImageNet ResNets have four stages of :data:`RESNET_STAGES` blocks.
He et al. (2016b): :data:`ACTIVATION_ORDERS`, where BN and ReLU sit around the addition.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

from .. import validate

__all__ = [
    "RESNET_STAGES",
    "ACTIVATION_ORDERS",
    "ShortcutVariant",
    "check_block",
    "check_variant_options",
    "cifar_depths",
    "blocks_per_stage",
    "check_mnist_residual_convnet",
    "STOCHASTIC_DEPTH_MODES",
    "check_stochastic_depth",
    "bottleneck_width",
    "nonlinearity_gain",
    "nf_expected_stds",
    "check_densenet",
]

#: blocks per stage of each ImageNet ResNet, and the block kind (He et al. 2016a, Table 1)
RESNET_STAGES: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}

#: Where BN and ReLU sit relative to the addition (Table 2 / Fig. 4), for
#: :class:`godeep.residual.PreActBasicBlock` (He et al. 2016b).
ACTIVATION_ORDERS: dict[str, str] = {
    "original": "y = relu(s + BN(W2 relu(BN(W1 x))))",
    "bn_after_add": "y = relu(BN(s + W2 relu(BN(W1 x))))",
    "relu_before_add": "y = s + relu(BN(W2 relu(BN(W1 x))))",
    "relu_preact": "y = s + BN(W2 relu(BN(W1 relu(x))))",
    "full_preact": "y = s + W2 relu(BN(W1 relu(BN(x))))",
}


@dataclass(frozen=True)
class ShortcutVariant:
    """A shortcut variant of He et al. (2016b, Table 1 / Fig. 2): the shortcut option it needs
    (``None``: the network's own) and its merge ``factory(channels, **options)``; ``figure`` names
    the panel of Fig. 2. Both frameworks' ``SHORTCUT_VARIANTS`` map names to these."""

    shortcut: str | None
    merge: Callable
    figure: str


def check_block(inplanes: object, planes: object, stride: object) -> None:
    """A block's channels and stride: ints >= 1 (both frameworks)."""
    for name, value in (("inplanes", inplanes), ("planes", planes), ("stride", stride)):
        validate.positive_int(name, value)


def check_variant_options(variant: str, factory: Callable, options: object, skip: int = 0) -> dict:
    """``options`` as a dict whose keys are parameters of ``factory`` (after the first ``skip``);
    shared by both frameworks' ``cifar_resnet(variant=..., variant_options=...)``."""
    names = [
        n
        for n, p in inspect.signature(factory).parameters.items()
        if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ][skip:]
    return validate.known_keys(f"variant_options of {variant!r}", options, names)


def cifar_depths(n_max: int = 18) -> list[int]:
    """The valid depths 6n+2 for n = 1 .. n_max (8, 14, 20, ...)."""
    n_max = validate.positive_int("n_max", n_max)
    return [6 * n + 2 for n in range(1, n_max + 1)]


def blocks_per_stage(depth: int) -> int:
    """``n`` of a CIFAR ResNet of ``depth = 6n + 2`` layers (He et al. 2016a, Sec. 4.2)."""
    if isinstance(depth, bool) or not isinstance(depth, int):
        raise TypeError(f"depth must be an int, got {type(depth).__name__}")
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), got {depth}"
        )
    return (depth - 2) // 6


def check_mnist_residual_convnet(
    in_channels, image_size, num_classes, widths, hidden, residual
) -> tuple[int, int]:
    """Validate :func:`mnist_residual_convnet`'s arguments (both frameworks); returns the two widths."""
    for name, value in (
        ("in_channels", in_channels),
        ("image_size", image_size),
        ("num_classes", num_classes),
        ("hidden", hidden),
    ):
        validate.positive_int(name, value)
    if image_size % 4:
        raise ValueError(f"image_size must be a multiple of 4 (two 2x2 poolings), got {image_size}")
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__len__") or len(widths) != 2:
        raise ValueError(f"widths must give the channels of 2 stages, got {widths!r}")
    validate.boolean("residual", residual)
    return validate.positive_ints("widths", widths)


#: the two modes of stochastic depth (torchvision.ops.stochastic_depth): drop per example or
#: the whole batch at once
STOCHASTIC_DEPTH_MODES: tuple[str, ...] = ("row", "batch")


def check_stochastic_depth(p: object, mode: object) -> float:
    """``p`` a probability in [0, 1] (of dropping) and ``mode`` one of
    :data:`STOCHASTIC_DEPTH_MODES`, with torchvision's messages; returns ``p`` as a float."""
    p = validate.number("p", p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if mode not in STOCHASTIC_DEPTH_MODES:
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    return p


def bottleneck_width(planes: object, groups: object = 1, base_width: object = 64) -> int:
    """The 3x3 conv's channels in a bottleneck: ``int(planes * base_width / 64) * groups``
    (torchvision's rule; ResNet ``1, 64``, wide ResNet-50-2 ``1, 128``, ResNeXt 32x4d ``32, 4``)."""
    planes = validate.positive_int("planes", planes)
    groups = validate.positive_int("groups", groups)
    base_width = validate.positive_int("base_width", base_width)
    width = int(planes * (base_width / 64.0)) * groups
    if width < groups:
        raise ValueError(
            f"planes={planes}, base_width={base_width} leave fewer than one channel per group"
        )
    return width


def nonlinearity_gain(activation: object) -> float:
    """``gamma = 1 / sqrt(Var(g(z)))`` for ``z ~ N(0, 1)`` (Brock et al. 2021a, Sec. 4): the factor
    that restores unit variance after the activation ``g``; ``"relu"``: ``sqrt(2 / (1 - 1/pi))``
    = 1.7128, ``"identity"``: 1. Other activations by 200-point Gauss-Hermite quadrature of the
    NumPy function ``g``."""
    import numpy as np

    if activation == "relu":
        return math.sqrt(2.0 / (1.0 - 1.0 / math.pi))
    if activation == "identity":
        return 1.0
    g = {"tanh": np.tanh, "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z))}.get(activation, activation)
    g = validate.function("activation", g)
    z, w = np.polynomial.hermite_e.hermegauss(200)
    w = w / w.sum()
    values = np.asarray(g(z), dtype=float)
    var = float(np.sum(w * values**2) - np.sum(w * values) ** 2)
    if not var > 0:
        raise ValueError("the activation's output has no variance under N(0, 1) inputs")
    return 1.0 / math.sqrt(var)


def nf_expected_stds(blocks_per_stage: object, alpha: object) -> list[float]:
    """``beta_i``: the expected std of the residual stream at the input of each block of a
    normalizer-free ResNet (Brock et al. 2021a, Sec. 4). The stem's output has unit variance;
    a block with an identity shortcut adds ``alpha^2``, ``beta_{i+1}^2 = beta_i^2 + alpha^2``; the
    first block of every stage after the first is a *transition*: its shortcut (a conv) sees
    ``h / beta`` like the branch, so its output restarts at ``1 + alpha^2``."""
    counts = validate.positive_ints("blocks_per_stage", blocks_per_stage)
    alpha = validate.number("alpha", alpha, low=0.0)
    betas: list[float] = []
    var = 1.0
    for stage, count in enumerate(counts):
        for index in range(count):
            betas.append(math.sqrt(var))
            var = (1.0 if (stage > 0 and index == 0) else var) + alpha**2
    return betas


def check_densenet(
    growth_rate: object,
    block_config: object,
    num_init_features: object,
    num_classes: object,
    in_channels: object,
) -> tuple[int, tuple[int, ...], int, int, int]:
    """A DenseNet's sizes, checked for both frameworks' ``DenseNet``: positive ints (and a
    sequence of them for ``block_config``), returned as plain Python values."""
    return (
        validate.positive_int("growth_rate", growth_rate),
        validate.positive_ints("block_config", block_config),
        validate.positive_int("num_init_features", num_init_features),
        validate.positive_int("num_classes", num_classes),
        validate.positive_int("in_channels", in_channels),
    )
