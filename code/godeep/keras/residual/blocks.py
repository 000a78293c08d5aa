"""The Keras residual blocks and shortcut options; see :mod:`godeep.residual.blocks`."""

from __future__ import annotations

from collections.abc import Callable

import keras

from ... import validate
from ...core.residual import bottleneck_width, check_block
from .. import tf

BN_EPSILON = 1e-5  # PyTorch's default
BN_MOMENTUM = 0.9  # = 1 - PyTorch's momentum 0.1


def _he_fan_out():
    """torchvision's conv init, kaiming_normal_(mode='fan_out'): N(0, 2 / (k*k*out))."""
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="untruncated_normal"
    )


def _bn(name: str, zero: bool = False) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(
        epsilon=BN_EPSILON,
        momentum=BN_MOMENTUM,
        gamma_initializer="zeros" if zero else "ones",
        name=name,
    )


class PaddedConv2D(keras.layers.Conv2D):
    """A ``Conv2D`` that pads like PyTorch's ``padding=pad``: ``pad`` zeros on every side of H
    and W, then a "valid" convolution, ``y = conv(pad(x), W)`` (NHWC).

    Keras' ``padding="same"`` pads a stride-2 layer on the bottom and right only, so Keras'
    ResNets pad with a ``ZeroPadding2D`` layer before the conv. Here the padding is the conv's
    own, and runs as one TensorFlow op (``Conv2D`` with explicit padding) where TensorFlow's CPU
    kernels allow it (one group, no dilation): the same numbers as ``ZeroPadding2D`` followed by
    a "valid" ``Conv2D``, bit for bit, forward and backward, in one op less each way, on
    TensorFlow's own (Eigen) kernels, which :mod:`godeep.keras` selects; on oneDNN's the input
    gradient differs in the last bits (``tests/test_padded_conv.py``). Elsewhere the input is
    padded first (``tf.pad``, as ``ZeroPadding2D`` does).
    """

    def __init__(self, filters: int, kernel_size, pad: int = 0, **kwargs):
        padding = kwargs.pop("padding", "valid")  # from_config passes Keras' own on
        if padding != "valid":
            raise ValueError(
                f"PaddedConv2D pads by pad=int; padding must be 'valid', got {padding!r}"
            )
        super().__init__(filters, kernel_size, padding="valid", **kwargs)
        self.pad = validate.nonnegative_int("pad", pad)
        if self.data_format != "channels_last":
            raise ValueError("PaddedConv2D takes channels-last (NHWC) inputs")

    def _paddings(self) -> list[list[int]]:
        p = self.pad
        return [[0, 0], [p, p], [p, p], [0, 0]]

    def convolution_op(self, inputs, kernel):
        if not self.pad:
            return super().convolution_op(inputs, kernel)
        one_op = (
            self.groups == 1
            and tuple(self.dilation_rate) == (1, 1)
            and inputs.shape[-1] == kernel.shape[-2]
        )
        if one_op:
            return tf.nn.conv2d(inputs, kernel, list(self.strides), self._paddings())
        return super().convolution_op(tf.pad(inputs, self._paddings()), kernel)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        grow = lambda d: None if d is None else d + 2 * self.pad  # noqa: E731
        return super().compute_output_shape((n, grow(h), grow(w), c))

    def get_config(self):
        return {**super().get_config(), "pad": self.pad}


def _conv(
    filters: int, kernel: int, stride: int, name: str, groups: int = 1, pad: int = 0
) -> PaddedConv2D:
    return PaddedConv2D(
        filters,
        kernel,
        pad=pad,
        strides=stride,
        groups=groups,
        use_bias=False,
        kernel_initializer=_he_fan_out(),
        name=name,
    )


class Add(keras.layers.Layer):
    """The merge of a standard residual block: ``merge(f, s, x) = f + s``."""

    def call(self, f, s, x):  # noqa: ARG002
        return f + s


class ZeroPadShortcut(keras.layers.Layer):
    """Option A: subsample by ``stride``, append ``out - in`` zero channels (NHWC)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, **kwargs):
        super().__init__(**kwargs)
        check_block(in_channels, out_channels, stride)
        if out_channels < in_channels:
            raise ValueError(f"option A cannot reduce channels: {in_channels} -> {out_channels}")
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        s = self.stride
        return (
            n,
            None if h is None else -(-h // s),
            None if w is None else -(-w // s),
            self.out_channels,
        )

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

    def compute_output_shape(self, input_shape):
        return self.bn.compute_output_shape(self.conv.compute_output_shape(input_shape))

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


def _check_merge_shapes(shortcut: tuple, branch: tuple) -> None:
    if tuple(shortcut[1:]) != tuple(branch[1:]):
        raise ValueError(
            f"shortcut shape {tuple(shortcut)} differs from the residual branch's {tuple(branch)}: "
            "use a shortcut option that changes the shape (A, B or C)"
        )


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

    def shortcut_of(self, x, training=None):
        """The shortcut branch s(x): the input, or its projection / zero-padded subsample."""
        if self.downsample is None:
            return x
        if isinstance(self.downsample, Projection):
            return self.downsample(x, training=training)
        return self.downsample(x)

    def call(self, x, training=None):
        out = self.residual(x, training=training)
        if self.shortcut:
            s = self.shortcut_of(x, training=training)
            _check_merge_shapes(tuple(s.shape), tuple(out.shape))
            out = self.merge(out, s, x)
        return tf.nn.relu(out)

    #: the sublayers that :meth:`build` builds, and those of them whose output shapes chain into
    #: the block's (the shape rule of :meth:`_output_shape_by_rule`); a class declares both
    _rule_layers: tuple = ()
    _rule_path: tuple = ()

    def _output_shape_by_rule(self, shape: tuple) -> tuple | None:
        """The output shape of :meth:`call` on an input of ``shape``, worked out from the
        sublayers' ``compute_output_shape`` without running the call; ``None`` where the rule
        may not hold (a subclass, a merge other than :class:`Add`, a sublayer not yet built)."""
        # a class that does not declare its own rule (a subclass) may have changed ``call``
        if not _SHAPE_RULE or "_rule_path" not in vars(type(self)) or type(self.merge) is not Add:
            return None
        if type(self.downsample) not in (type(None), ZeroPadShortcut, Projection):
            return None
        layers = [getattr(self, name) for name in self._rule_layers]
        if isinstance(self.downsample, Projection):
            layers += [self.downsample.conv, self.downsample.bn]
        if not all(layer.built for layer in layers):
            return None
        out = shape
        for name in self._rule_path:
            out = tuple(getattr(self, name).compute_output_shape(out))
        if self.shortcut:
            s = shape if self.downsample is None else self.downsample.compute_output_shape(shape)
            _check_merge_shapes(tuple(s), out)
        return out

    def compute_output_spec(self, x, training=None):
        """The output of a symbolic call (building a model), by the shape rule of
        :meth:`_output_shape_by_rule` where it holds: Keras' default traces :meth:`call` into a
        scratch graph, which takes most of the time of building a deep ResNet (1.2 of 1.6 s
        CPU for ResNet-56); the layers, their weights and the model are the same either way."""
        dtype = getattr(self, self._rule_path[-1]).compute_dtype if self._rule_path else None
        shape = self._output_shape_by_rule(tuple(x.shape)) if x.dtype == dtype else None
        if shape is None:
            return super().compute_output_spec(x, training=training)
        return keras.KerasTensor(shape, dtype=dtype)


class BasicBlock(_Block):
    """Two 3x3 conv-BN layers, ``y = relu(F(x) + s(x))``; see :class:`godeep.residual.BasicBlock`."""

    expansion = 1
    _branch = ("conv1", "bn1", "conv2", "bn2")
    _rule_layers = _rule_path = _branch

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample=None,
        *,
        shortcut: bool = True,
        merge=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_block(inplanes, planes, stride)
        self.inplanes, self.planes, self.stride = inplanes, planes, stride
        self.conv1 = _conv(planes, 3, stride, "conv1", pad=1)
        self.bn1 = _bn("bn1")
        self.conv2 = _conv(planes, 3, 1, "conv2", pad=1)
        self.bn2 = _bn("bn2")
        self._attach_shortcut(downsample, shortcut, merge)

    @property
    def last_bn(self):
        return self.bn2

    def residual(self, x, training=None):
        out = tf.nn.relu(self.bn1(self.conv1(x), training=training))
        return self.bn2(self.conv2(out), training=training)


class Bottleneck(_Block):
    """1x1 reduce, 3x3 (stride here, "v1.5"; ``groups`` groups of ``base_width``), 1x1 expand x4;
    see :class:`godeep.residual.Bottleneck`."""

    expansion = 4
    _branch = ("conv1", "bn1", "conv2", "bn2", "conv3", "bn3")
    _rule_layers = _rule_path = _branch

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample=None,
        *,
        shortcut: bool = True,
        merge=None,
        groups: int = 1,
        base_width: int = 64,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_block(inplanes, planes, stride)
        self.inplanes, self.planes, self.stride = inplanes, planes, stride
        width = bottleneck_width(planes, groups, base_width)
        self.conv1 = _conv(width, 1, 1, "conv1")
        self.bn1 = _bn("bn1")
        self.conv2 = _conv(width, 3, stride, "conv2", groups=groups, pad=1)
        self.bn2 = _bn("bn2")
        self.conv3 = _conv(planes * 4, 1, 1, "conv3")
        self.bn3 = _bn("bn3")
        self._attach_shortcut(downsample, shortcut, merge)

    @property
    def last_bn(self):
        return self.bn3

    def residual(self, x, training=None):
        out = tf.nn.relu(self.bn1(self.conv1(x), training=training))
        out = tf.nn.relu(self.bn2(self.conv2(out), training=training))
        return self.bn3(self.conv3(out), training=training)


#: whether blocks that declare a shape rule use it (``False``: Keras' symbolic call, for the tests)
_SHAPE_RULE = True
