"""Chapter 3.3: a conv-BN-ReLU block whose BN follows the training/inference mode, in PyTorch or Keras."""

from __future__ import annotations

from .. import exercise
from ..blocks import judge_block


def _lazy(build, *args):
    """A wrong answer built only when checked: importing the chapter must not import PyTorch or Keras."""
    return lambda *shape: build(*args)(*shape)


def _conv_bn_relu(x, conv, bn, relu):
    return relu(bn[0](conv[0](x)))


_VARIANTS = {
    "you applied the ReLU before the BN: the block is relu(bn(conv(x))).": lambda x, c, b, r: b[0](
        r(c[0](x))
    ),
    "the ReLU is missing: the block is relu(bn(conv(x))).": lambda x, c, b, r: b[0](c[0](x)),
}


def _solution():
    from ..solutions.ch3_torch import ConvBNReLU

    return ConvBNReLU


def _keras_solution():
    from ..solutions.ch3_keras import ConvBNReLU

    return ConvBNReLU


def _check(make):
    return judge_block(
        make, 8, _conv_bn_relu, _VARIANTS, "ConvBNReLU", "relu(bn(conv(x)))", n_convs=1, n_bns=1
    )


def _wrong(kind: str):
    import keras

    Good = _keras_solution()

    def always_training(self, x, training=None):  # the subclassed-block pitfall
        return keras.ops.relu(self.bn(self.conv(x), training=True))

    def never_training(self, x, training=None):
        return keras.ops.relu(self.bn(self.conv(x), training=False))

    call = {"training-true": always_training, "training-false": never_training}[kind]
    return type(f"Wrong{kind}", (Good,), {"call": call})


def _torch_relu_first(channels: int):
    Good = _solution()
    return type("ReluFirst", (Good,), {"forward": lambda s, x: s.bn(s.conv(x).relu())})(channels)


def _torch_frozen_bn(channels: int):
    """Switches its BN to eval mode inside forward: model.train() no longer reaches it."""
    Good = _solution()

    def forward(s, x):
        s.bn.eval()
        return s.bn(s.conv(x)).relu()

    return type("FrozenBN", (Good,), {"forward": forward})(channels)


def _torch_by_hand(channels: int):
    """Batch statistics computed by hand: right in training mode, wrong in eval mode."""
    Good = _solution()

    def forward(s, x):
        h = s.conv(x)
        mean, var = h.mean((0, 2, 3), keepdim=True), h.var((0, 2, 3), unbiased=False, keepdim=True)
        h = (h - mean) / (var + s.bn.eps).sqrt() * s.bn.weight[None, :, None, None] + s.bn.bias[
            None, :, None, None
        ]
        return h.relu()

    return type("ByHand", (Good,), {"forward": forward})(channels)


conv_bn_relu = exercise(
    "ch3.conv-bn-relu",
    "Write ConvBNReLU(channels): relu(bn(conv(x))) with a 3x3 convolution without bias, as a PyTorch module "
    "(NCHW) or a Keras layer (NHWC) whose call(x, training=None) passes training on to its BatchNormalization, "
    "so that inference uses the moving statistics.",
    solution=_solution,
    keras_solution=_keras_solution,
    wrong_answers=[
        (_lazy(_wrong, "training-true"), "training=False"),
        (_lazy(_wrong, "training-false"), "always runs in inference mode"),
        (_torch_relu_first, "ReLU before the BN"),
        (_torch_frozen_bn, "always runs in inference mode"),
        (_torch_by_hand, "eval mode"),
        ("a block", "give a class"),
    ],
)(_check)
