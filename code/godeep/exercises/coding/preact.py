"""Chapter 5 coding exercise: the pre-activation residual block, in PyTorch or Keras."""

from __future__ import annotations

from .. import exercise
from ..blocks import judge_block
from ._lazy import _lazy


def _preact(x, conv, bn, relu):
    return x + conv[1](relu(bn[1](conv[0](relu(bn[0](x))))))


_PREACT_VARIANTS = {
    (
        "your block ends with a ReLU after the addition: in the pre-activation block nothing follows "
        "the add, so the shortcut stays a clean identity (x + F(x))."
    ): lambda x, c, b, r: r(_preact(x, c, b, r)),
    (
        "that is the original (post-activation) block relu(bn2(conv2(relu(bn1(conv1(x))))) + x): move "
        "BN and ReLU in front of each convolution."
    ): lambda x, c, b, r: r(b[1](c[1](r(b[0](c[0](x))))) + x),
    "the first BN-ReLU is missing: the branch starts with relu(bn1(x)), before conv1.": lambda x, c, b, r: (
        x + c[1](r(b[1](c[0](x))))
    ),
    (
        "your shortcut carries relu(bn1(x)) instead of x: only the branch is pre-activated; the "
        "identity path must carry x untouched."
    ): lambda x, c, b, r: r(b[0](x)) + c[1](r(b[1](c[0](r(b[0](x)))))),
    "you applied ReLU before BN: the order is BN, then ReLU, then conv.": lambda x, c, b, r: (
        x + c[1](b[1](r(c[0](b[0](r(x))))))
    ),
}

_PREACT_FORBIDDEN = (
    ("godeep.residual", "PreActBasicBlock", "godeep.residual.PreActBasicBlock"),
    ("godeep.keras.residual", "PreActBasicBlock", "godeep.keras.residual.PreActBasicBlock"),
)


def _preact_solution():
    from ..solutions.ch5_torch import PreActBlock

    return PreActBlock


def _preact_keras_solution():
    from ..solutions.ch5_keras import PreActBlock

    return PreActBlock


def _check_preact(make):
    return judge_block(
        make,
        8,
        _preact,
        _PREACT_VARIANTS,
        "PreActBlock",
        "x + conv2(relu(bn2(conv1(relu(bn1(x))))))",
    )


def _wrong_preact(kind: str, framework: str = "torch"):
    Good = _preact_solution() if framework == "torch" else _preact_keras_solution()
    if framework == "torch":
        forward = {
            "final-relu": lambda s, x: (x + s.conv2(s.bn2(s.conv1(s.bn1(x).relu())).relu())).relu(),
            "no-first-preact": lambda s, x: x + s.conv2(s.bn2(s.conv1(x)).relu()),
            "preact-shortcut": lambda s, x: (
                s.bn1(x).relu() + s.conv2(s.bn2(s.conv1(s.bn1(x).relu())).relu())
            ),
            "relu-bn": lambda s, x: x + s.conv2(s.bn2(s.conv1(s.bn1(x.relu())).relu())),
        }[kind]
        return type(f"Wrong{kind}", (Good,), {"forward": forward})
    import keras

    def final_relu(self, x, training=None):
        out = self.conv1(keras.ops.relu(self.bn1(x, training=training)))
        return keras.ops.relu(x + self.conv2(keras.ops.relu(self.bn2(out, training=training))))

    def training_true(self, x, training=None):
        out = self.conv1(keras.ops.relu(self.bn1(x, training=True)))
        return x + self.conv2(keras.ops.relu(self.bn2(out, training=True)))

    call = {"final-relu": final_relu, "training-true": training_true}[kind]
    return type(f"Wrong{kind}", (Good,), {"call": call})


def _post_activation(channels: int):
    from ..solutions.ch4_torch import BasicBlock

    return BasicBlock(channels)


def _library_preact(channels: int):
    from ...residual import PreActBasicBlock

    return PreActBasicBlock(channels, channels)


preact_block = exercise(
    "ch5.preact-block",
    "Write the pre-activation block PreActBlock(channels): x + conv2(relu(bn2(conv1(relu(bn1(x)))))), "
    "3x3 convolutions without bias, nothing after the addition; in PyTorch (NCHW) or Keras (NHWC, "
    "passing training= on to its BNs). Forbidden: the library PreActBasicBlock.",
    solution=_preact_solution,
    keras_solution=_preact_keras_solution,
    wrong_answers=[
        (_lazy(_wrong_preact, "final-relu"), "nothing follows the add"),
        (_post_activation, "post-activation"),
        (_lazy(_wrong_preact, "no-first-preact"), "first BN-ReLU is missing"),
        (_lazy(_wrong_preact, "preact-shortcut"), "x untouched"),
        (_lazy(_wrong_preact, "relu-bn"), "ReLU before BN"),
        (_library_preact, "calls godeep.residual.PreActBasicBlock"),
        (_lazy(_wrong_preact, "final-relu", "keras"), "nothing follows the add"),
        (_lazy(_wrong_preact, "training-true", "keras"), "training=False"),
    ],
    forbidden=_PREACT_FORBIDDEN,
)(_check_preact)
