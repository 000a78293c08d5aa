"""Deep residual learning in Keras: the twin of :mod:`godeep.residual`.

Same blocks (``BasicBlock``, ``Bottleneck``), same builders (``cifar_resnet``, ``resnet18`` ...
``resnet152``), same arguments and the same parameter counts as the PyTorch module. A network is
a ``keras.Sequential`` whose layers are the stem, the blocks (one Keras layer each, named
``layer{stage}_{index}``), global average pooling and the classifier ``fc``; :func:`blocks`
and :func:`stages` list the blocks, :func:`drop_block` removes one.

Convention differences from PyTorch, all converted by :func:`copy_from_torch`:

* images are NHWC (channels last); a conv kernel is ``(kh, kw, in, out)``, PyTorch's is
  ``(out, in, kh, kw)``; a Dense kernel is the transpose of a Linear weight;
* PyTorch pads a stride-2 3x3 conv by one pixel on every side, Keras' ``padding="same"`` pads
  only the bottom and right (0 top, 1 bottom) for even inputs, so the convs here pad explicitly
  (``ZeroPadding2D``) and use ``padding="valid"``, as ``keras.applications`` does;
* BatchNormalization uses PyTorch's epsilon 1e-5 and momentum 0.9 (PyTorch's "momentum" 0.1 is
  the weight of the *new* batch, Keras' the weight of the old running value);
* Keras counts BN's moving mean and variance in ``count_params()`` (non-trainable weights);
  PyTorch keeps them as buffers, outside ``parameters()``. :func:`count_parameters` counts the
  trainable ones, which is what PyTorch's count means.

``keras.applications.ResNet50`` differs from :func:`resnet50` in two documented ways: its
convolutions have biases (26,560 extra parameters, useless before a BN, whose beta absorbs any
constant shift), and it puts the stride-2 of a bottleneck on the first 1x1 conv (the paper's
original) where torchvision, and we, put it on the 3x3 conv ("v1.5").
"""

from __future__ import annotations

import functools
from typing import Callable, Optional, Sequence

import numpy as np

from . import tf
import keras

from .. import validate
from ..core.residual import (ACTIVATION_ORDERS, RESNET_STAGES, blocks_per_stage, check_article_convnet, check_block,
                             check_variant_options)
from ..validate import positive_int as _check_positive_int
from .convert import copy_dense_block_from_torch as copy_dense_from_torch  # noqa: F401  (re-exported)
from .convert import copy_resnet_from_torch as copy_from_torch  # noqa: F401  (re-exported)

__all__ = [
    "Add",
    "ZeroPadShortcut",
    "Projection",
    "BasicBlock",
    "Bottleneck",
    "SHORTCUTS",
    "make_shortcut",
    "cifar_resnet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "blocks",
    "stages",
    "count_parameters",
    "drop_block",
    "copy_from_torch",
    "DenseResidualBlock",
    "dense_resnet",
    "residual_block",
    "ConvResidualBlock",
    "article_convnet",
    "copy_dense_from_torch",
    "ConstantScaling",
    "SHORTCUT_VARIANTS",
    "PreActBasicBlock",
    "ACTIVATION_ORDERS",
]

BN_EPSILON = 1e-5  # PyTorch's default
BN_MOMENTUM = 0.9  # = 1 - PyTorch's momentum 0.1


def _he_fan_out():
    """torchvision's conv init, kaiming_normal_(mode='fan_out'): N(0, 2 / (k*k*out))."""
    return keras.initializers.VarianceScaling(scale=2.0, mode="fan_out", distribution="untruncated_normal")


def _bn(name: str, zero: bool = False) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(
        epsilon=BN_EPSILON, momentum=BN_MOMENTUM, gamma_initializer="zeros" if zero else "ones", name=name
    )


def _conv(filters: int, kernel: int, stride: int, name: str) -> keras.layers.Conv2D:
    return keras.layers.Conv2D(filters, kernel, strides=stride, padding="valid", use_bias=False,
                               kernel_initializer=_he_fan_out(), name=name)


class Add(keras.layers.Layer):
    """The merge of a standard residual block: ``merge(f, s, x) = f + s``."""

    def call(self, f, s, x):  # noqa: ARG002
        return f + s


class ConstantScaling(keras.layers.Layer):
    """``merge(f, s, x) = branch * f + shortcut * s``: the shortcut ``h(x) = lambda x``; see
    :class:`godeep.residual.ConstantScaling`."""

    def __init__(self, shortcut: float = 0.5, branch: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("shortcut", shortcut), ("branch", branch)):
            validate.number(name, value)
        self.shortcut_scale, self.branch_scale = float(shortcut), float(branch)

    def call(self, f, s, x):  # noqa: ARG002
        return self.branch_scale * f + self.shortcut_scale * s


#: The parameter-free shortcut variants of He et al. (2016b), Table 1 (merge factories).
SHORTCUT_VARIANTS: dict[str, Callable] = {
    "identity": lambda: Add(name="merge"),
    "constant_scaling": lambda shortcut=0.5, branch=1.0: ConstantScaling(shortcut, branch, name="merge"),
    "constant_scaling_both": lambda shortcut=0.5, branch=0.5: ConstantScaling(shortcut, branch, name="merge"),
}


class ZeroPadShortcut(keras.layers.Layer):
    """Option A: subsample by ``stride``, append ``out - in`` zero channels (NHWC)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, **kwargs):
        super().__init__(**kwargs)
        check_block(in_channels, out_channels, stride)
        if out_channels < in_channels:
            raise ValueError(f"option A cannot reduce channels: {in_channels} -> {out_channels}")
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def call(self, x):
        if self.stride > 1:
            x = x[:, :: self.stride, :: self.stride, :]
        extra = self.out_channels - self.in_channels
        return tf.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]]) if extra else x


class Projection(keras.layers.Layer):
    """Options B/C: ``W_s x``, a 1x1 conv with the block's stride, then BN (``downsample``)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.conv = _conv(out_channels, 1, stride, "conv")
        self.bn = _bn("bn")

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.bn.build(self.conv.compute_output_shape(input_shape))

    def call(self, x, training=None):
        return self.bn(self.conv(x), training=training)


def _option_a(i, o, s):
    return None if (s == 1 and i == o) else ZeroPadShortcut(i, o, s, name="downsample")


def _option_b(i, o, s):
    return None if (s == 1 and i == o) else Projection(i, o, s, name="downsample")


def _option_c(i, o, s):
    return Projection(i, o, s, name="downsample")


#: Shortcut name -> factory ``(in, out, stride) -> layer or None`` (identity), as in PyTorch.
SHORTCUTS: dict[str, Callable] = {"A": _option_a, "B": _option_b, "C": _option_c}


def make_shortcut(kind: str, in_channels: int, out_channels: int, stride: int):
    """The shortcut layer of :data:`SHORTCUTS` named ``kind`` (``None`` = identity)."""
    if kind not in SHORTCUTS:
        raise ValueError(f"shortcut must be one of {tuple(SHORTCUTS)}, got {kind!r}")
    return SHORTCUTS[kind](in_channels, out_channels, stride)


class _Block(keras.layers.Layer):
    """y = relu(merge(F(x), s(x), x)), or relu(F(x)) for a plain block."""

    expansion = 1

    def _attach_shortcut(self, downsample, shortcut: bool, merge) -> None:
        if merge is not None and not shortcut:
            raise ValueError("a plain block (shortcut=False) has nothing to merge")
        self.downsample = downsample
        self.shortcut = bool(shortcut)
        self.merge = merge if merge is not None else Add(name="merge")

    def residual(self, x, training=None):  # pragma: no cover - abstract
        raise NotImplementedError

    #: the sublayers of the residual branch, in order (for build)
    _branch: tuple = ()

    def build(self, input_shape):
        # build every sublayer now, so that the weights exist before the first call
        shape = input_shape
        for name in self._branch:
            layer = getattr(self, name)
            if not layer.built:
                layer.build(shape)
            shape = layer.compute_output_shape(shape)
        if isinstance(self.downsample, Projection):
            self.downsample.build(input_shape)

    def call(self, x, training=None):
        out = self.residual(x, training=training)
        if self.shortcut:
            if self.downsample is None:
                s = x
            elif isinstance(self.downsample, Projection):
                s = self.downsample(x, training=training)
            else:
                s = self.downsample(x)
            if tuple(s.shape[1:]) != tuple(out.shape[1:]):
                raise ValueError(
                    f"shortcut shape {tuple(s.shape)} differs from the residual branch's {tuple(out.shape)}: "
                    "use a shortcut option that changes the shape (A, B or C)"
                )
            out = self.merge(out, s, x)
        return tf.nn.relu(out)


class BasicBlock(_Block):
    """Two 3x3 conv-BN layers, ``y = relu(F(x) + s(x))``; see :class:`godeep.residual.BasicBlock`."""

    expansion = 1
    _branch = ("pad1", "conv1", "bn1", "pad2", "conv2", "bn2")

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None, *,
                 shortcut: bool = True, merge=None, zero_init_residual: bool = False, **kwargs):
        super().__init__(**kwargs)
        check_block(inplanes, planes, stride)
        self.inplanes, self.planes, self.stride = inplanes, planes, stride
        self.pad1 = keras.layers.ZeroPadding2D(1, name="pad1")
        self.conv1 = _conv(planes, 3, stride, "conv1")
        self.bn1 = _bn("bn1")
        self.pad2 = keras.layers.ZeroPadding2D(1, name="pad2")
        self.conv2 = _conv(planes, 3, 1, "conv2")
        self.bn2 = _bn("bn2", zero=zero_init_residual)
        self._attach_shortcut(downsample, shortcut, merge)

    @property
    def last_bn(self):
        return self.bn2

    def residual(self, x, training=None):
        out = tf.nn.relu(self.bn1(self.conv1(self.pad1(x)), training=training))
        return self.bn2(self.conv2(self.pad2(out)), training=training)


class PreActBasicBlock(_Block):
    """A basic block with BN and ReLU placed by ``order`` (Fig. 4 of He et al., 2016b); see
    :class:`godeep.residual.PreActBasicBlock` for the five orders. Same layer names as
    :class:`BasicBlock` (``bn1`` sees the block's input under ``"full_preact"``)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None, *,
                 shortcut: bool = True, merge=None, zero_init_residual: bool = False,
                 order: str = "full_preact", **kwargs):
        super().__init__(**kwargs)
        check_block(inplanes, planes, stride)
        if order not in ACTIVATION_ORDERS:
            raise ValueError(f"order must be one of {tuple(ACTIVATION_ORDERS)}, got {order!r}")
        self.order = order
        self.inplanes, self.planes, self.stride = inplanes, planes, stride
        self.pad1 = keras.layers.ZeroPadding2D(1, name="pad1")
        self.conv1 = _conv(planes, 3, stride, "conv1")
        self.pad2 = keras.layers.ZeroPadding2D(1, name="pad2")
        self.conv2 = _conv(planes, 3, 1, "conv2")
        zero_bn1 = zero_init_residual and order == "bn_after_add"
        self.bn1 = _bn("bn1", zero=zero_bn1)
        self.bn2 = _bn("bn2", zero=zero_init_residual and not zero_bn1)
        self._attach_shortcut(downsample, shortcut, merge)

    @property
    def last_bn(self):
        return self.bn1 if self.order == "bn_after_add" else self.bn2

    def build(self, input_shape):
        self.pad1.build(input_shape)
        padded = self.pad1.compute_output_shape(input_shape)
        self.conv1.build(padded)
        mid = self.conv1.compute_output_shape(padded)
        self.bn1.build(input_shape if self.order == "full_preact" else mid)
        self.pad2.build(mid)
        self.conv2.build(self.pad2.compute_output_shape(mid))
        self.bn2.build(mid)
        if isinstance(self.downsample, Projection):
            self.downsample.build(input_shape)

    def residual(self, x, training=None):
        o, relu = self.order, tf.nn.relu
        if o == "full_preact":
            out = self.conv1(self.pad1(relu(self.bn1(x, training=training))))
            return self.conv2(self.pad2(relu(self.bn2(out, training=training))))
        if o == "relu_preact":
            out = relu(self.bn1(self.conv1(self.pad1(relu(x))), training=training))
            return self.bn2(self.conv2(self.pad2(out)), training=training)
        out = relu(self.bn1(self.conv1(self.pad1(x)), training=training))
        if o == "bn_after_add":
            return self.conv2(self.pad2(out))
        out = self.bn2(self.conv2(self.pad2(out)), training=training)
        return relu(out) if o == "relu_before_add" else out

    def call(self, x, training=None):
        out = self.residual(x, training=training)
        if self.shortcut:
            if self.downsample is None:
                s = x
            elif isinstance(self.downsample, Projection):
                s = self.downsample(x, training=training)
            else:
                s = self.downsample(x)
            out = self.merge(out, s, x)
        if self.order == "original":
            return tf.nn.relu(out)
        if self.order == "bn_after_add":
            return tf.nn.relu(self.bn2(out, training=training))
        return out


class Bottleneck(_Block):
    """1x1 reduce, 3x3 (stride here, "v1.5"), 1x1 expand x4; see :class:`godeep.residual.Bottleneck`."""

    expansion = 4
    _branch = ("conv1", "bn1", "pad2", "conv2", "bn2", "conv3", "bn3")

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None, *,
                 shortcut: bool = True, merge=None, zero_init_residual: bool = False, **kwargs):
        super().__init__(**kwargs)
        check_block(inplanes, planes, stride)
        self.inplanes, self.planes, self.stride = inplanes, planes, stride
        self.conv1 = _conv(planes, 1, 1, "conv1")
        self.bn1 = _bn("bn1")
        self.pad2 = keras.layers.ZeroPadding2D(1, name="pad2")
        self.conv2 = _conv(planes, 3, stride, "conv2")
        self.bn2 = _bn("bn2")
        self.conv3 = _conv(planes * 4, 1, 1, "conv3")
        self.bn3 = _bn("bn3", zero=zero_init_residual)
        self._attach_shortcut(downsample, shortcut, merge)

    @property
    def last_bn(self):
        return self.bn3

    def residual(self, x, training=None):
        out = tf.nn.relu(self.bn1(self.conv1(x), training=training))
        out = tf.nn.relu(self.bn2(self.conv2(self.pad2(out)), training=training))
        return self.bn3(self.conv3(out), training=training)


def _head(num_classes: int) -> list:
    return [keras.layers.GlobalAveragePooling2D(name="avgpool"), keras.layers.Dense(num_classes, name="fc")]


def cifar_resnet(depth: int, num_classes: int = 10, plain: bool = False, in_channels: int = 3,
                 widths: Sequence[int] = (16, 32, 64), shortcut: str = "A", zero_init_residual: bool = False,
                 input_size: Optional[int] = None, block=None, merge: Optional[Callable] = None,
                 variant: Optional[str] = None, variant_options: Optional[dict] = None,
                 activation: Optional[str] = None) -> keras.Sequential:
    """The CIFAR-10 ResNet (6n+2 layers) in Keras; see :func:`godeep.residual.cifar_resnet`.

    Inputs are NHWC, ``(N, H, W, in_channels)``; ``input_size`` fixes H = W (``None``: any size).
    ``block`` and ``merge`` are the extension points of the PyTorch builder; ``variant`` names one
    of the shortcut variants of :data:`SHORTCUT_VARIANTS` (the parameter-free scalings; the
    PyTorch module has all six of He et al.'s); ``activation`` one of :data:`ACTIVATION_ORDERS`
    (:class:`PreActBasicBlock`, with the final BN-ReLU ``post_bn``/``post_relu`` of full
    pre-activation, or ``post_relu`` of ReLU-only pre-activation, before the pooling).
    """
    if activation is not None:
        if activation not in ACTIVATION_ORDERS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATION_ORDERS)}, got {activation!r}")
        if block is not None:
            raise ValueError("give either activation or block, not both")
        block = functools.partial(PreActBasicBlock, order=activation)
    if variant is not None:
        if variant not in SHORTCUT_VARIANTS:
            raise ValueError(f"variant must be one of {tuple(SHORTCUT_VARIANTS)} in Keras, got {variant!r}")
        if merge is not None:
            raise ValueError("give either variant or merge, not both")
        if plain:
            raise ValueError("a plain net (plain=True) has no shortcut to vary")
        options = check_variant_options(variant, SHORTCUT_VARIANTS[variant], variant_options)
        SHORTCUT_VARIANTS[variant](**options)  # bad option values fail here
        merge = lambda: SHORTCUT_VARIANTS[variant](**options)  # noqa: E731
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
        raise ValueError("zero_init_residual=True would silence every layer of a plain net (plain=True)")
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
            kwargs = {"shortcut": not plain, "zero_init_residual": zero_init_residual, "name": f"layer{s + 1}_{b}"}
            if merge is not None:
                kwargs["merge"] = merge()
            layers.append(block(inplanes, planes, stride, down, **kwargs))
            inplanes = planes
    if activation == "full_preact":
        layers += [_bn("post_bn"), keras.layers.ReLU(name="post_relu")]
    elif activation == "relu_preact":
        layers.append(keras.layers.ReLU(name="post_relu"))
    layers += _head(num_classes)
    return keras.Sequential(layers, name=f"{'plain' if plain else 'resnet'}{depth}")


def _resnet(depth: int, num_classes: int, zero_init_residual: bool, input_size: Optional[int]) -> keras.Sequential:
    _check_positive_int("num_classes", num_classes)
    kind, counts = RESNET_STAGES[depth]
    block = BasicBlock if kind == "basic" else Bottleneck
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
            layers.append(block(inplanes, planes, stride, down, zero_init_residual=zero_init_residual,
                                name=f"layer{s + 1}_{b}"))
            inplanes = planes * block.expansion
    layers += _head(num_classes)
    return keras.Sequential(layers, name=f"resnet{depth}")


def resnet18(num_classes: int = 1000, zero_init_residual: bool = False, input_size: Optional[int] = 224):
    """ResNet-18 (torchvision's architecture, NHWC); 11,689,512 trainable parameters."""
    return _resnet(18, num_classes, zero_init_residual, input_size)


def resnet34(num_classes: int = 1000, zero_init_residual: bool = False, input_size: Optional[int] = 224):
    """ResNet-34; 21,797,672 trainable parameters."""
    return _resnet(34, num_classes, zero_init_residual, input_size)


def resnet50(num_classes: int = 1000, zero_init_residual: bool = False, input_size: Optional[int] = 224):
    """ResNet-50 (v1.5); 25,557,032 trainable parameters."""
    return _resnet(50, num_classes, zero_init_residual, input_size)


def resnet101(num_classes: int = 1000, zero_init_residual: bool = False, input_size: Optional[int] = 224):
    """ResNet-101 (v1.5)."""
    return _resnet(101, num_classes, zero_init_residual, input_size)


def resnet152(num_classes: int = 1000, zero_init_residual: bool = False, input_size: Optional[int] = 224):
    """ResNet-152 (v1.5)."""
    return _resnet(152, num_classes, zero_init_residual, input_size)


# --------------------------------------------------------------------------------------------
# Inspection, surgery, conversion
# --------------------------------------------------------------------------------------------


def blocks(model: keras.Model) -> list:
    """The residual (or plain) blocks of ``model``, in order."""
    return [layer for layer in model.layers if isinstance(layer, _Block)]


def stages(model: keras.Model) -> list[list]:
    """The blocks grouped by stage (their names are ``layer{stage}_{index}``)."""
    grouped: dict[str, list] = {}
    for block in blocks(model):
        grouped.setdefault(block.name.split("_")[0], []).append(block)
    return list(grouped.values())


def count_parameters(model: keras.Model, trainable_only: bool = True) -> int:
    """Trainable parameters (PyTorch's meaning); ``trainable_only=False`` adds BN's moving
    statistics, which is what ``model.count_params()`` reports."""
    weights = model.trainable_weights if trainable_only else model.weights
    return int(sum(np.prod(w.shape) for w in weights))


def drop_block(model: keras.Sequential, index: int) -> keras.Sequential:
    """A Sequential model without block ``index`` (the identity in its place), sharing the other
    layers' weights with ``model``; only a shape-preserving block can be dropped."""
    all_blocks = blocks(model)
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"index must be an int, got {type(index).__name__}")
    if not -len(all_blocks) <= index < len(all_blocks):
        raise IndexError(f"index must be in [0, {len(all_blocks)}), got {index}")
    target = all_blocks[index]
    if target.downsample is not None or target.stride != 1 or target.inplanes != target.planes * target.expansion:
        raise ValueError(f"block {index} changes the shape of its input; dropping it would break the network")
    layers = [keras.Input(shape=model.inputs[0].shape[1:])] + [layer for layer in model.layers if layer is not target]
    return keras.Sequential(layers, name=f"{model.name}_without_{target.name}")


# --------------------------------------------------------------------------------------------
# The source documents' residual examples, rebuilt
# --------------------------------------------------------------------------------------------


class DenseResidualBlock(keras.layers.Layer):
    """``y = relu(BN(W2 relu(BN(W1 x))) + x)``; see :class:`godeep.residual.DenseResidualBlock`."""

    def __init__(self, features: int, *, shortcut: bool = True, zero_init_residual: bool = False,
                 bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        _check_positive_int("features", features)
        if zero_init_residual and not shortcut:
            raise ValueError("zero_init_residual=True would silence a plain block (shortcut=False)")
        self.features, self.shortcut = features, bool(shortcut)
        self.fc1 = keras.layers.Dense(features, use_bias=bias, name="fc1")
        self.bn1 = _bn("bn1")
        self.fc2 = keras.layers.Dense(features, use_bias=bias, name="fc2")
        self.bn2 = _bn("bn2", zero=zero_init_residual)

    def build(self, input_shape):
        self.fc1.build(input_shape)
        self.bn1.build(input_shape)
        self.fc2.build(input_shape)
        self.bn2.build(input_shape)

    def call(self, x, training=None):
        out = tf.nn.relu(self.bn1(self.fc1(x), training=training))
        out = self.bn2(self.fc2(out), training=training)
        if self.shortcut:
            out = out + x
        return tf.nn.relu(out)


def dense_resnet(features: int, blocks: int, plain: bool = False, zero_init_residual: bool = False) -> keras.Sequential:
    """``blocks`` :class:`DenseResidualBlock` s named ``block1 .. blockN``; see :func:`godeep.residual.dense_resnet`."""
    _check_positive_int("blocks", blocks)
    layers = [keras.Input(shape=(features,))]
    layers += [DenseResidualBlock(features, shortcut=not plain, zero_init_residual=zero_init_residual, name=f"block{i + 1}")
               for i in range(blocks)]
    return keras.Sequential(layers, name=f"dense_{'plain' if plain else 'resnet'}{blocks}")


def residual_block(x, units: int):
    """The blog's functional Keras residual block, with BN moved before the ReLU as its own
    advice says: ``relu(BN(Dense(relu(BN(Dense(x))))) + x)`` (the shortcut needs ``units``
    equal to the input's width). The PyTorch twin is :class:`godeep.residual.DenseResidualBlock`."""
    if x.shape[-1] != units:
        raise ValueError(f"the identity shortcut needs units == input width, got {units} and {x.shape[-1]}")
    shortcut = x
    x = keras.layers.Dense(units)(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM)(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Dense(units)(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM)(x)
    x = keras.layers.Add()([x, shortcut])
    return keras.layers.Activation("relu")(x)


class ConvResidualBlock(keras.layers.Layer):
    """The article's block ``relu(conv2(relu(conv1(x))) + x)``, convs with biases, no BN."""

    def __init__(self, channels: int, kernel_size: int = 3, *, shortcut: bool = True, **kwargs):
        super().__init__(**kwargs)
        _check_positive_int("channels", channels)
        self.shortcut = bool(shortcut)
        self.conv1 = keras.layers.Conv2D(channels, kernel_size, padding="same", name="conv1")
        self.conv2 = keras.layers.Conv2D(channels, kernel_size, padding="same", name="conv2")

    def build(self, input_shape):
        self.conv1.build(input_shape)
        self.conv2.build(self.conv1.compute_output_shape(input_shape))

    def call(self, x):
        out = self.conv2(tf.nn.relu(self.conv1(x)))
        if self.shortcut:
            out = out + x
        return tf.nn.relu(out)


def article_convnet(in_channels: int = 1, image_size: int = 28, num_classes: int = 10,
                    widths: Sequence[int] = (32, 64), hidden: int = 128, residual: bool = True) -> keras.Sequential:
    """The article's MNIST model (NHWC, logits out); see :func:`godeep.residual.article_convnet`."""
    w1, w2 = check_article_convnet(in_channels, image_size, num_classes, widths, hidden, residual)
    return keras.Sequential([
        keras.Input(shape=(image_size, image_size, in_channels)),
        keras.layers.Conv2D(w1, 3, padding="same", activation="relu", name="conv1"),
        ConvResidualBlock(w1, shortcut=residual, name="block1"),
        keras.layers.MaxPooling2D(2, name="pool1"),
        keras.layers.Conv2D(w2, 3, padding="same", activation="relu", name="conv2"),
        ConvResidualBlock(w2, shortcut=residual, name="block2"),
        keras.layers.MaxPooling2D(2, name="pool2"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(hidden, activation="relu", name="fc1"),
        keras.layers.Dense(num_classes, name="fc2"),
    ], name="article_convnet" if residual else "article_convnet_plain")
