"""The Keras shortcut variants and the pre-activation block; see :mod:`godeep.residual.variants`."""

from __future__ import annotations

import keras

from ... import validate
from ...core.residual import ACTIVATION_ORDERS, ShortcutVariant, check_block
from .. import tf
from .blocks import Add, Projection, _Block, _bn, _conv, _he_fan_out


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


class _Gate(keras.layers.Layer):
    """``g = sigmoid(W_g s + b_g)``, a 1x1 convolution with bias of the shortcut's output ``s``;
    ``b_g`` starts at ``bias`` for every channel; see :class:`godeep.residual.variants._Gate`."""

    def __init__(self, channels: int, bias: float, **kwargs):
        super().__init__(**kwargs)
        validate.positive_int("channels", channels)
        self.channels, self.bias = channels, validate.number("bias", bias)
        self.gate = keras.layers.Conv2D(
            channels,
            1,
            use_bias=True,
            kernel_initializer=_he_fan_out(),
            bias_initializer=keras.initializers.Constant(self.bias),
            name="gate",
        )

    def build(self, f_shape, s_shape=None, x_shape=None):
        self.gate.build(s_shape if s_shape is not None else f_shape)

    def g(self, s):
        return tf.sigmoid(self.gate(s))


class ExclusiveGating(_Gate):
    """``merge = g * f + (1 - g) * s``, Highway-style gates (He et al. 2016b, Fig. 2c); see
    :class:`godeep.residual.ExclusiveGating`."""

    def __init__(self, channels: int, bias: float = -6.0, **kwargs):
        super().__init__(channels, bias, **kwargs)

    def call(self, f, s, x):  # noqa: ARG002
        g = self.g(s)
        return g * f + (1 - g) * s


class ShortcutGating(_Gate):
    """``merge = f + (1 - g) * s``: only the shortcut is gated (He et al. 2016b, Fig. 2d); see
    :class:`godeep.residual.ShortcutGating`."""

    def __init__(self, channels: int, bias: float = 0.0, **kwargs):
        super().__init__(channels, bias, **kwargs)

    def call(self, f, s, x):  # noqa: ARG002
        return f + (1 - self.g(s)) * s


class DropoutShortcut(keras.layers.Layer):
    """``merge = f + m * s``, ``m ~ Bernoulli(1 - p)`` per element while training, ``f + (1 - p) s``
    otherwise, the mask not rescaled (He et al. 2016b, Fig. 2f); see
    :class:`godeep.residual.DropoutShortcut`."""

    def __init__(self, p: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        p = validate.number("p", p)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p must be in [0, 1), got {p}")
        self.p = p
        self.seed_generator = keras.random.SeedGenerator()

    def call(self, f, s, x, training=None):  # noqa: ARG002
        if not training:
            return f + (1.0 - self.p) * s
        keep = keras.random.uniform(tf.shape(s), seed=self.seed_generator) >= self.p
        return f + tf.cast(keep, s.dtype) * s


#: The shortcuts of He et al. (2016b), Table 1 / Fig. 2, by name (``cifar_resnet(variant=...)``):
#: the same names, options and :class:`~godeep.core.residual.ShortcutVariant` records as
#: :data:`godeep.residual.SHORTCUT_VARIANTS`, with Keras merges.
SHORTCUT_VARIANTS: dict[str, ShortcutVariant] = {
    "identity": ShortcutVariant(None, lambda c: Add(name="merge"), "2(a)"),
    "constant_scaling": ShortcutVariant(
        None,
        lambda c, shortcut=0.5, branch=1.0: ConstantScaling(shortcut, branch, name="merge"),
        "2(b)",
    ),
    "constant_scaling_both": ShortcutVariant(
        None,
        lambda c, shortcut=0.5, branch=0.5: ConstantScaling(shortcut, branch, name="merge"),
        "2(b)",
    ),
    "exclusive_gating": ShortcutVariant(
        None, lambda c, bias=-6.0: ExclusiveGating(c, bias, name="merge"), "2(c)"
    ),
    "shortcut_gating": ShortcutVariant(
        None, lambda c, bias=0.0: ShortcutGating(c, bias, name="merge"), "2(d)"
    ),
    "conv_shortcut": ShortcutVariant("C", lambda c: Add(name="merge"), "2(e)"),
    "dropout_shortcut": ShortcutVariant(
        None, lambda c, p=0.5: DropoutShortcut(p, name="merge"), "2(f)"
    ),
}


class PreActBasicBlock(_Block):
    """A basic block with BN and ReLU placed by ``order`` (Fig. 4 of He et al., 2016b); see
    :class:`godeep.residual.PreActBasicBlock` for the five orders. Same layer names as
    :class:`BasicBlock` (``bn1`` sees the block's input under ``"full_preact"``)."""

    expansion = 1
    # every order keeps the shape of conv2's output (a BN or ReLU after it keeps it too)
    _rule_layers = ("conv1", "bn1", "conv2", "bn2")
    _rule_path = ("conv1", "conv2")

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample=None,
        *,
        shortcut: bool = True,
        merge=None,
        order: str = "full_preact",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_block(inplanes, planes, stride)
        if order not in ACTIVATION_ORDERS:
            raise ValueError(f"order must be one of {tuple(ACTIVATION_ORDERS)}, got {order!r}")
        self.order = order
        self.inplanes, self.planes, self.stride = inplanes, planes, stride
        self.conv1 = _conv(planes, 3, stride, "conv1", pad=1)
        self.conv2 = _conv(planes, 3, 1, "conv2", pad=1)
        self.bn1 = _bn("bn1")
        self.bn2 = _bn("bn2")
        self._attach_shortcut(downsample, shortcut, merge)

    @property
    def last_bn(self):
        return self.bn1 if self.order == "bn_after_add" else self.bn2

    def build(self, input_shape):
        self.conv1.build(input_shape)
        mid = self.conv1.compute_output_shape(input_shape)
        self.bn1.build(input_shape if self.order == "full_preact" else mid)
        self.conv2.build(mid)
        self.bn2.build(mid)
        if isinstance(self.downsample, Projection):
            self.downsample.build(input_shape)

    def residual(self, x, training=None):
        o, relu = self.order, tf.nn.relu
        if o == "full_preact":
            out = self.conv1(relu(self.bn1(x, training=training)))
            return self.conv2(relu(self.bn2(out, training=training)))
        if o == "relu_preact":
            out = relu(self.bn1(self.conv1(relu(x)), training=training))
            return self.bn2(self.conv2(out), training=training)
        out = relu(self.bn1(self.conv1(x), training=training))
        if o == "bn_after_add":
            return self.conv2(out)
        out = self.bn2(self.conv2(out), training=training)
        return relu(out) if o == "relu_before_add" else out

    def call(self, x, training=None):
        out = self.residual(x, training=training)
        if self.shortcut:
            out = self.merge(out, self.shortcut_of(x, training=training), x)
        if self.order == "original":
            return tf.nn.relu(out)
        if self.order == "bn_after_add":
            return tf.nn.relu(self.bn2(out, training=training))
        return out
