"""Chapter 4 coding exercise: the basic residual block, in PyTorch or Keras."""

from __future__ import annotations

from .. import exercise
from ..blocks import judge_block


def _lazy(build, *args):
    """A wrong answer built only when checked: importing the chapter must not import PyTorch or Keras."""
    return lambda *shape: build(*args)(*shape)


def _basic(x, conv, bn, relu):
    return relu(bn[1](conv[1](relu(bn[0](conv[0](x))))) + x)


_BASIC_VARIANTS = {
    (
        "your block matches relu(...) without the final ReLU: apply the ReLU after adding the "
        "shortcut, relu(F(x) + x)."
    ): lambda x, c, b, r: b[1](c[1](r(b[0](c[0](x))))) + x,
    (
        "you applied the ReLU to the residual branch before adding the shortcut: the original block is "
        "relu(F(x) + x), not relu(F(x)) + x."
    ): lambda x, c, b, r: r(b[1](c[1](r(b[0](c[0](x)))))) + x,
    "your block has no shortcut: add x to the branch's output before the final ReLU.": lambda x, c, b, r: (
        r(b[1](c[1](r(b[0](c[0](x))))))
    ),
    "the ReLU between the two convolutions is missing: relu(bn1(conv1(x))) feeds conv2.": lambda x, c, b, r: (
        r(b[1](c[1](b[0](c[0](x)))) + x)
    ),
    "you swapped BN and ReLU: the block applies BN right after each convolution, then the ReLU.": lambda x, c, b, r: (
        r(b[1](c[1](b[0](r(c[0](x))))) + x)
    ),
}

_BASIC_FORBIDDEN = (
    ("godeep.residual", "BasicBlock", "godeep.residual.BasicBlock"),
    ("torchvision.models.resnet", "BasicBlock", "torchvision.models.resnet.BasicBlock"),
    ("godeep.keras.residual", "BasicBlock", "godeep.keras.residual.BasicBlock"),
)


def _solution():
    from ..solutions.ch4_torch import BasicBlock

    return BasicBlock


def _keras_solution():
    from ..solutions.ch4_keras import BasicBlock

    return BasicBlock


def _check_basic_block(make):
    return judge_block(
        make, 8, _basic, _BASIC_VARIANTS, "BasicBlock", "relu(bn2(conv2(relu(bn1(conv1(x))))) + x)"
    )


def _wrong_basic(kind: str, framework: str = "torch"):
    """Typical mistakes: the reference block with one line changed."""
    Good = _solution() if framework == "torch" else _keras_solution()
    forward = {
        "no-final-relu": lambda s, x: s.bn2(s.conv2(s.bn1(s.conv1(x)).relu())) + x,
        "relu-before-add": lambda s, x: s.bn2(s.conv2(s.bn1(s.conv1(x)).relu())).relu() + x,
        "no-shortcut": lambda s, x: s.bn2(s.conv2(s.bn1(s.conv1(x)).relu())).relu(),
        "no-inner-relu": lambda s, x: (s.bn2(s.conv2(s.bn1(s.conv1(x)))) + x).relu(),
    }
    if framework == "torch":
        return type(f"Wrong{kind}", (Good,), {"forward": forward[kind]})
    import keras

    def always_training(self, x, training=None):  # the subclassed-block pitfall
        out = keras.ops.relu(self.bn1(self.conv1(x), training=True))
        return keras.ops.relu(self.bn2(self.conv2(out), training=True) + x)

    def no_final_relu(self, x, training=None):
        out = keras.ops.relu(self.bn1(self.conv1(x), training=training))
        return self.bn2(self.conv2(out), training=training) + x

    call = {"training-true": always_training, "no-final-relu": no_final_relu}[kind]
    return type(f"Wrong{kind}", (Good,), {"call": call})


def _biased_basic(channels: int):
    from torch import nn

    block = _solution()(channels)
    block.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=True)
    return block


def _library_basic(channels: int):
    from ...residual import BasicBlock

    return BasicBlock(channels, channels)


basic_block = exercise(
    "ch4.basic-block",
    "Write the basic residual block BasicBlock(channels): relu(bn2(conv2(relu(bn1(conv1(x))))) + x), "
    "3x3 convolutions without bias, identity shortcut; in PyTorch (nn.Module, NCHW) or Keras (Layer, NHWC, "
    "passing training= on to its BNs). Forbidden: the library BasicBlock classes.",
    solution=_solution,
    keras_solution=_keras_solution,
    wrong_answers=[
        (_lazy(_wrong_basic, "no-final-relu"), "without the final ReLU"),
        (_lazy(_wrong_basic, "relu-before-add"), "before adding the shortcut"),
        (_lazy(_wrong_basic, "no-shortcut"), "no shortcut"),
        (_lazy(_wrong_basic, "no-inner-relu"), "ReLU between the two convolutions"),
        (_biased_basic, "bias=False"),
        (_library_basic, "calls godeep.residual.BasicBlock"),
        (_lazy(_wrong_basic, "training-true", "keras"), "training=False"),
        (_lazy(_wrong_basic, "no-final-relu", "keras"), "without the final ReLU"),
        ("a block", "give a class"),
    ],
    forbidden=_BASIC_FORBIDDEN,
)(_check_basic_block)
