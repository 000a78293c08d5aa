"""Block plans, checks and tables shared by both frameworks' ResNets (framework-free).

He et al. (2016a): a CIFAR ResNet of ``depth = 6n + 2`` layers has three stages of ``n``
basic blocks; the ImageNet ResNets have four stages of :data:`RESNET_STAGES` blocks.
He et al. (2016b): :data:`ACTIVATION_ORDERS`, where BN and ReLU sit around the addition.
"""

from __future__ import annotations

import inspect
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
