"""DenseNet in Keras; see :mod:`godeep.residual.densenet` for Eq. (1).

Same layers (``DenseLayer``, ``DenseBlock``, ``Transition``) and network (``DenseNet``,
``densenet121``: 7,978,856 trainable parameters) as the PyTorch twin, channels last. The
convolutions pad like PyTorch (the 3x3 ones as ``PaddedConv2D``, the stems with ``ZeroPadding2D``),
BN uses PyTorch's epsilon and momentum, and the initialisation is torchvision's (He normal
fan-in convs, classifier bias 0), so both frameworks start from the same distributions.
``densenet_cifar`` and ``dense=False`` (the chain control) as in the PyTorch twin.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from ... import validate
from ...core.residual import check_densenet
from .. import tf
from .blocks import PaddedConv2D, _bn

__all__ = ["DenseLayer", "DenseBlock", "Transition", "DenseNet", "densenet121", "densenet_cifar"]

DENSENET_STEMS = ("imagenet", "cifar")


def _he_fan_in():
    """torch.nn.init.kaiming_normal_ (fan_in, ReLU gain): N(0, 2 / (k*k*in))."""
    return keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")


def _conv(filters: int, kernel: int, name: str, pad: int = 0) -> PaddedConv2D:
    return PaddedConv2D(
        filters, kernel, pad=pad, use_bias=False, kernel_initializer=_he_fan_in(), name=name
    )


class DenseLayer(keras.layers.Layer):
    """BN-ReLU-1x1 conv to ``bn_size * growth_rate``, BN-ReLU-3x3 conv to ``growth_rate``; called
    on the list of earlier feature maps (NHWC), returns the new one."""

    def __init__(
        self,
        in_channels: int,
        growth_rate: int,
        bn_size: int = 4,
        drop_rate: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.in_channels = validate.positive_int("in_channels", in_channels)
        growth_rate = validate.positive_int("growth_rate", growth_rate)
        width = validate.positive_int("bn_size", bn_size) * growth_rate
        self.drop_rate = validate.number("drop_rate", drop_rate, 0.0, 1.0, high_open=True)
        self.norm1 = _bn("norm1")
        self.conv1 = _conv(width, 1, "conv1")
        self.norm2 = _bn("norm2")
        self.conv2 = _conv(growth_rate, 3, "conv2", pad=1)
        self.dropout = keras.layers.Dropout(self.drop_rate, name="dropout")

    def build(self, input_shape):
        shape = (*tuple(input_shape[0])[:-1], self.in_channels)
        for layer in (self.norm1, self.conv1, self.norm2, self.conv2):
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, features, training=None):
        x = tf.concat(list(features), axis=-1)
        if x.shape[-1] != self.in_channels:
            raise ValueError(
                f"expected {self.in_channels} input channels in all, got {x.shape[-1]}"
            )
        x = self.conv1(tf.nn.relu(self.norm1(x, training=training)))
        x = self.conv2(tf.nn.relu(self.norm2(x, training=training)))
        return self.dropout(x, training=training) if self.drop_rate > 0 else x


def chain_features(features):
    """The dense connections cut: every map but the last replaced by zeros of its shape."""
    return [tf.zeros_like(f) for f in features[:-1]] + [features[-1]]


class DenseBlock(keras.layers.Layer):
    """``num_layers`` dense layers; the output concatenates the input and every new map.
    ``dense=False``: each layer sees only the previous output (:func:`chain_features`)."""

    def __init__(
        self,
        num_layers: int,
        in_channels: int,
        growth_rate: int,
        bn_size: int = 4,
        drop_rate: float = 0.0,
        dense: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        num_layers = validate.positive_int("num_layers", num_layers)
        self.dense = validate.boolean("dense", dense)
        self.dense_layers = [
            DenseLayer(
                in_channels + i * growth_rate,
                growth_rate,
                bn_size,
                drop_rate,
                name=f"denselayer{i + 1}",
            )
            for i in range(num_layers)
        ]
        self.out_channels = in_channels + num_layers * growth_rate

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.dense_layers:
            layer.build([(*shape[:-1], layer.in_channels)])

    def call(self, x, training=None):
        cut = (lambda f: f) if self.dense else chain_features
        features = [x]
        for layer in self.dense_layers:
            features.append(layer(cut(features), training=training))
        return tf.concat(cut(features), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.out_channels)


class Transition(keras.layers.Layer):
    """BN, ReLU, 1x1 conv to ``out_channels``, 2x2 average pool."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs):
        super().__init__(**kwargs)
        validate.positive_int("in_channels", in_channels)
        self.out_channels = validate.positive_int("out_channels", out_channels)
        self.norm = _bn("norm")
        self.conv = _conv(self.out_channels, 1, "conv")
        self.pool = keras.layers.AveragePooling2D(2, name="pool")

    def build(self, input_shape):
        self.norm.build(input_shape)
        self.conv.build(input_shape)

    def call(self, x, training=None):
        return self.pool(self.conv(tf.nn.relu(self.norm(x, training=training))))

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        half = lambda d: None if d is None else d // 2
        return (n, half(h), half(w), self.out_channels)


def _imagenet_stem(channels: int) -> list:
    """7x7/2 conv, BN, ReLU, 3x3/2 max pool, padded like PyTorch."""
    return [
        keras.layers.ZeroPadding2D(3, name="pad0"),
        keras.layers.Conv2D(
            channels,
            7,
            strides=2,
            use_bias=False,
            kernel_initializer=_he_fan_in(),
            name="conv0",
        ),
        _bn("norm0"),
        keras.layers.ReLU(name="relu0"),
        keras.layers.ZeroPadding2D(1, name="pool0_pad"),  # zeros are safe after a ReLU
        keras.layers.MaxPooling2D(3, strides=2, name="pool0"),
    ]


class DenseNet(keras.Sequential):
    """DenseNet-BC as a ``keras.Sequential``: stem (7x7/2 conv, BN, ReLU, 3x3/2 max pool), dense
    blocks joined by transitions, final BN and ReLU, global average pool, ``classifier``.
    ``input_size``: the images' side (``None``: any). ``stem="cifar"``: a 3x3 conv (stride 1)
    alone; ``dense=False``: every block a chain (:class:`DenseBlock`)."""

    def __init__(
        self,
        growth_rate: int = 32,
        block_config: Sequence[int] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        drop_rate: float = 0.0,
        num_classes: int = 1000,
        in_channels: int = 3,
        stem: str = "imagenet",
        dense: bool = True,
        input_size: int | None = 224,
        **kwargs,
    ):
        growth_rate, block_config, channels, num_classes, in_channels = check_densenet(
            growth_rate, block_config, num_init_features, num_classes, in_channels
        )
        if input_size is not None:
            validate.positive_int("input_size", input_size)
        dense = validate.boolean("dense", dense)
        layers: list = [keras.Input((input_size, input_size, in_channels))]
        if validate.one_of("stem", stem, DENSENET_STEMS) == "cifar":
            layers += [
                keras.layers.ZeroPadding2D(1, name="pad0"),
                _conv(channels, 3, "conv0"),
            ]
        else:
            layers += _imagenet_stem(channels)
        for i, num_layers in enumerate(block_config):
            layers.append(
                DenseBlock(
                    num_layers,
                    channels,
                    growth_rate,
                    bn_size,
                    drop_rate,
                    dense,
                    name=f"denseblock{i + 1}",
                )
            )
            channels += num_layers * growth_rate
            if i < len(block_config) - 1:
                layers.append(Transition(channels, channels // 2, name=f"transition{i + 1}"))
                channels //= 2
        bound = 1.0 / channels**0.5  # nn.Linear's default weight init, bias 0 (torchvision)
        layers += [
            _bn("norm5"),
            keras.layers.ReLU(name="relu5"),
            keras.layers.GlobalAveragePooling2D(name="avgpool"),
            keras.layers.Dense(
                num_classes,
                kernel_initializer=keras.initializers.RandomUniform(-bound, bound),
                name="classifier",
            ),
        ]
        kwargs.setdefault("name", "densenet")
        super().__init__(layers, **kwargs)


def densenet121(num_classes: int = 1000, input_size: int | None = 224) -> DenseNet:
    """DenseNet-121: growth rate 32, blocks (6, 12, 24, 16); 7,978,856 trainable parameters."""
    return DenseNet(
        32, (6, 12, 24, 16), 64, num_classes=num_classes, input_size=input_size, name="densenet121"
    )


def densenet_cifar(
    block_config: Sequence[int] = (16, 16, 16),
    growth_rate: int = 12,
    num_classes: int = 10,
    in_channels: int = 3,
    dense: bool = True,
    input_size: int | None = 32,
) -> DenseNet:
    """The CIFAR DenseNet-BC (3x3 conv stem to ``2 * growth_rate``, compression 0.5); depth
    ``2 * sum(block_config) + len(block_config) + 1``; default DenseNet-BC (L=100, k=12),
    769,162 parameters. ``dense=False``: the chain control."""
    return DenseNet(
        growth_rate,
        block_config,
        2 * validate.positive_int("growth_rate", growth_rate),
        num_classes=num_classes,
        in_channels=in_channels,
        stem="cifar",
        dense=dense,
        input_size=input_size,
        name="densenet_cifar",
    )
