"""The Keras CIFAR and ImageNet ResNets; see :mod:`godeep.residual.cifar` and :mod:`godeep.residual.imagenet`."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import keras

from ... import validate
from ...core.residual import (
    ACTIVATION_ORDERS,
    RESNET_STAGES,
    blocks_per_stage,
    check_variant_options,
)
from ...validate import positive_int as _check_positive_int
from .blocks import SHORTCUTS, BasicBlock, Bottleneck, _bn, _conv, _option_b, make_shortcut
from .counting import zero_init_residual_
from .variants import SHORTCUT_VARIANTS, PreActBasicBlock

#: depth -> (block class, blocks per stage) of the ImageNet ResNets (He et al. 2016a, Table 1).
RESNET_LAYERS: dict[int, tuple[type, tuple[int, int, int, int]]] = {
    depth: ({"basic": BasicBlock, "bottleneck": Bottleneck}[kind], counts)
    for depth, (kind, counts) in RESNET_STAGES.items()
}


def _head(num_classes: int) -> list:
    return [
        keras.layers.GlobalAveragePooling2D(name="avgpool"),
        keras.layers.Dense(num_classes, name="fc"),
    ]


def cifar_resnet(
    depth: int,
    num_classes: int = 10,
    plain: bool = False,
    in_channels: int = 3,
    widths: Sequence[int] = (16, 32, 64),
    shortcut: str = "A",
    zero_init_residual: bool = False,
    block=None,
    merge: Callable | None = None,
    variant: str | None = None,
    variant_options: dict | None = None,
    activation: str | None = None,
    input_size: int | None = None,
) -> keras.Sequential:
    """The CIFAR-10 ResNet (6n+2 layers) in Keras; see :func:`godeep.residual.cifar_resnet`.

    Inputs are NHWC, ``(N, H, W, in_channels)``; ``input_size`` fixes H = W (``None``: any size).
    ``block`` and ``merge`` are the extension points of the PyTorch builder (``merge``: a factory
    of no argument, called once per block); ``variant`` names one of the shortcut variants of
    :data:`SHORTCUT_VARIANTS` (all seven of the PyTorch module); ``activation`` one of :data:`ACTIVATION_ORDERS`
    (:class:`PreActBasicBlock`, with the final BN-ReLU ``post_bn``/``post_relu`` of full
    pre-activation, or ``post_relu`` of ReLU-only pre-activation, before the pooling).
    """
    if activation is not None:
        if activation not in ACTIVATION_ORDERS:
            raise ValueError(
                f"activation must be one of {tuple(ACTIVATION_ORDERS)}, got {activation!r}"
            )
        if block is not None:
            raise ValueError("give either activation or block, not both")
        block = functools.partial(PreActBasicBlock, order=activation)
    merge_for = None
    if variant is not None:
        if variant not in SHORTCUT_VARIANTS:
            raise ValueError(f"variant must be one of {tuple(SHORTCUT_VARIANTS)}, got {variant!r}")
        if merge is not None:
            raise ValueError("give either variant or merge, not both")
        if plain:
            raise ValueError("a plain net (plain=True) has no shortcut to vary")
        spec = SHORTCUT_VARIANTS[variant]
        options = check_variant_options(variant, spec.merge, variant_options, skip=1)
        spec.merge(1, **options)  # bad option values fail here
        if spec.shortcut is not None:
            shortcut = spec.shortcut
        merge_for = lambda planes: spec.merge(planes, **options)  # noqa: E731
    elif variant_options:
        raise ValueError("variant_options needs a variant")
    n = blocks_per_stage(depth)
    _check_positive_int("num_classes", num_classes)
    _check_positive_int("in_channels", in_channels)
    widths = tuple(widths)
    if len(widths) != 3:
        raise ValueError(f"widths must give the channels of 3 stages, got {widths!r}")
    for i, w in enumerate(widths):
        _check_positive_int(f"widths[{i}]", w)
    if shortcut not in SHORTCUTS:
        raise ValueError(f"shortcut must be one of {tuple(SHORTCUTS)}, got {shortcut!r}")
    if not isinstance(plain, bool):
        raise TypeError(f"plain must be a bool, got {type(plain).__name__}")
    validate.boolean("zero_init_residual", zero_init_residual)
    if plain and zero_init_residual:
        raise ValueError(
            "zero_init_residual=True would silence every layer of a plain net (plain=True)"
        )
    if plain and merge is not None:
        raise ValueError("a plain net (plain=True) has no shortcut to merge")
    block = BasicBlock if block is None else block
    layers: list = [
        keras.Input(shape=(input_size, input_size, in_channels)),
        keras.layers.ZeroPadding2D(1, name="conv1_pad"),
        _conv(widths[0], 3, 1, "conv1"),
        _bn("bn1"),
        keras.layers.ReLU(name="relu"),
    ]
    inplanes = widths[0]
    for s, planes in enumerate(widths):
        for b in range(n):
            stride = 2 if (s > 0 and b == 0) else 1
            down = None if plain else make_shortcut(shortcut, inplanes, planes, stride)
            kwargs = {"shortcut": not plain, "name": f"layer{s + 1}_{b}"}
            if merge_for is not None:
                kwargs["merge"] = merge_for(planes)
            elif merge is not None:
                kwargs["merge"] = merge()
            layers.append(block(inplanes, planes, stride, down, **kwargs))
            inplanes = planes
    if activation == "full_preact":
        layers += [_bn("post_bn"), keras.layers.ReLU(name="post_relu")]
    elif activation == "relu_preact":
        layers.append(keras.layers.ReLU(name="post_relu"))
    layers += _head(num_classes)
    model = keras.Sequential(layers, name=f"{'plain' if plain else 'resnet'}{depth}")
    return zero_init_residual_(model) if zero_init_residual else model


def _resnet(
    depth: int,
    num_classes: int,
    zero_init_residual: bool,
    input_size: int | None,
    groups: int = 1,
    width_per_group: int = 64,
    name: str | None = None,
) -> keras.Sequential:
    _check_positive_int("num_classes", num_classes)
    block, counts = RESNET_LAYERS[depth]
    width = {"groups": groups, "base_width": width_per_group} if block is Bottleneck else {}
    layers: list = [
        keras.Input(shape=(input_size, input_size, 3)),
        keras.layers.ZeroPadding2D(3, name="conv1_pad"),
        _conv(64, 7, 2, "conv1"),
        _bn("bn1"),
        keras.layers.ReLU(name="relu"),
        keras.layers.ZeroPadding2D(1, name="maxpool_pad"),  # zeros are safe after a ReLU
        keras.layers.MaxPooling2D(3, strides=2, name="maxpool"),
    ]
    inplanes = 64
    for s, (planes, count) in enumerate(zip((64, 128, 256, 512), counts)):
        for b in range(count):
            stride = 2 if (s > 0 and b == 0) else 1
            down = _option_b(inplanes, planes * block.expansion, stride) if b == 0 else None
            layers.append(block(inplanes, planes, stride, down, name=f"layer{s + 1}_{b}", **width))
            inplanes = planes * block.expansion
    layers += _head(num_classes)
    validate.boolean("zero_init_residual", zero_init_residual)
    model = keras.Sequential(layers, name=name or f"resnet{depth}")
    return zero_init_residual_(model) if zero_init_residual else model


def resnet18(
    num_classes: int = 1000, zero_init_residual: bool = False, input_size: int | None = 224
):
    """ResNet-18 (torchvision's architecture, NHWC); 11,689,512 trainable parameters."""
    return _resnet(18, num_classes, zero_init_residual, input_size)


def resnet34(
    num_classes: int = 1000, zero_init_residual: bool = False, input_size: int | None = 224
):
    """ResNet-34; 21,797,672 trainable parameters."""
    return _resnet(34, num_classes, zero_init_residual, input_size)


def resnet50(
    num_classes: int = 1000, zero_init_residual: bool = False, input_size: int | None = 224
):
    """ResNet-50 (v1.5); 25,557,032 trainable parameters."""
    return _resnet(50, num_classes, zero_init_residual, input_size)


def resnet101(
    num_classes: int = 1000, zero_init_residual: bool = False, input_size: int | None = 224
):
    """ResNet-101 (v1.5)."""
    return _resnet(101, num_classes, zero_init_residual, input_size)


def resnet152(
    num_classes: int = 1000, zero_init_residual: bool = False, input_size: int | None = 224
):
    """ResNet-152 (v1.5)."""
    return _resnet(152, num_classes, zero_init_residual, input_size)


def wide_resnet50_2(
    num_classes: int = 1000, zero_init_residual: bool = False, input_size: int | None = 224
):
    """Wide ResNet-50-2: 3x3 convs twice as wide; 68,883,240 trainable parameters."""
    return _resnet(
        50, num_classes, zero_init_residual, input_size, width_per_group=128, name="wide_resnet50_2"
    )


def resnext50_32x4d(
    num_classes: int = 1000, zero_init_residual: bool = False, input_size: int | None = 224
):
    """ResNeXt-50 32x4d: 3x3 convs in 32 groups; 25,028,904 trainable parameters."""
    return _resnet(
        50,
        num_classes,
        zero_init_residual,
        input_size,
        groups=32,
        width_per_group=4,
        name="resnext50_32x4d",
    )
