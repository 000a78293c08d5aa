"""Chapter 4: build a bottleneck block, in PyTorch or Keras; judged on its own weights against the reference."""

from __future__ import annotations

from .. import Feedback, exercise, framework_of, wrong
from .bottleneck_keras import (  # noqa: F401
    _bottleneck_keras_solution,
    _check_bottleneck_keras,
    _wrong_bottleneck_keras,
)
from .bottleneck_torch import (  # noqa: F401  (re-exported for godeep.exercises.ch4 and the tests)
    _BOTTLENECK_ARGS,
    _BOTTLENECK_FORBIDDEN,
    _bottleneck_params,
    _bottleneck_solution,
    _check_bottleneck_torch,
    _wrong_bottleneck,
)


def _check_bottleneck(make) -> Feedback:
    """Build ``make(256, 64)`` and judge it in its own framework (PyTorch module or Keras layer)."""
    if not isinstance(make, type) and framework_of(type(make)) is not None:
        return wrong(
            "give the class (or a function (inplanes, planes) -> module), not an instance: the checker builds it."
        )
    if not callable(make):
        return wrong(
            "give a class or function: Bottleneck(inplanes, planes) -> nn.Module (or a Keras layer)."
        )
    block = make(*_BOTTLENECK_ARGS)
    if block is None:
        return Feedback(
            False, "your function returns None: build and return the block.", answered=False
        )
    framework = framework_of(block)
    if framework == "torch":
        from torch import nn

        if isinstance(block, nn.Module):
            return _check_bottleneck_torch(block)
    if framework == "keras":
        import keras

        if isinstance(block, keras.layers.Layer):
            return _check_bottleneck_keras(block)
    return wrong(
        f"Bottleneck(256, 64) should be an nn.Module (or a keras.layers.Layer), got {type(block).__name__}."
    )


bottleneck_block = exercise(
    "ch4.bottleneck-block",
    "Write a bottleneck block Bottleneck(inplanes, planes): 1x1 conv to planes, 3x3 conv, 1x1 conv "
    "to 4*planes, BN after each, identity shortcut.",
    solution=_bottleneck_solution,
    keras_solution=_bottleneck_keras_solution,
    wrong_answers=[
        (_wrong_bottleneck("no-expansion"), "4 * planes"),
        (_wrong_bottleneck("biases"), "bias=False"),
        (_wrong_bottleneck("all-3x3"), "1x1"),
        (_wrong_bottleneck("no-shortcut"), "shortcut"),
        (_wrong_bottleneck("no-final-relu"), "without the final ReLU"),
        (_wrong_bottleneck("relu-before-add"), "before adding the shortcut"),
        (_wrong_bottleneck("no-inner-relus"), "ReLUs inside the branch are missing"),
        (_wrong_bottleneck("no-relu1"), "ReLU after bn1"),
        (_wrong_bottleneck("skip-bn1"), "bn1 is created but not used"),
        (_wrong_bottleneck("skip-bn2"), "bn2 is created but not used"),
        (_wrong_bottleneck("bn-after-relu"), "swapped"),
        (_wrong_bottleneck("library"), "godeep.residual.Bottleneck"),
        (_wrong_bottleneck("library-subclass"), "godeep.residual.Bottleneck"),
        ("a block", "class or function"),
        (_wrong_bottleneck_keras("no-final-relu"), "without the final ReLU"),
        (_wrong_bottleneck_keras("biases"), "use_bias=False"),
        (_wrong_bottleneck_keras("skip-bn2"), "created but not used"),
    ],
    forbidden=_BOTTLENECK_FORBIDDEN,
)(_check_bottleneck)
