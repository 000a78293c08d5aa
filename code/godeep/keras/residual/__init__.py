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
  only the bottom and right (0 top, 1 bottom) for even inputs, so the convs here pad like
  PyTorch: a block's 3x3 convs are :class:`~godeep.keras.residual.blocks.PaddedConv2D`
  (``pad=1``, one TensorFlow op), a stem pads with a ``ZeroPadding2D`` layer before a
  ``padding="valid"`` conv, as ``keras.applications`` does;
* BatchNormalization uses PyTorch's epsilon 1e-5 and momentum 0.9 (PyTorch's "momentum" 0.1 is
  the weight of the *new* batch, Keras' the weight of the old running value);
* Keras counts BN's moving mean and variance in ``count_params()`` (non-trainable weights);
  PyTorch keeps them as buffers, outside ``parameters()``. :func:`count_parameters` counts the
  trainable ones, which is what PyTorch's count means.

``keras.applications.ResNet50`` differs from :func:`resnet50` in two documented ways: its
convolutions have biases (26,560 extra parameters, useless before a BN, whose beta absorbs any
constant shift), and it puts the stride-2 of a bottleneck on the first 1x1 conv (the paper's
original) where torchvision, and we, put it on the 3x3 conv ("v1.5").

One topic per module, every name importable from :mod:`godeep.keras.residual` itself:
:mod:`~godeep.keras.residual.blocks` (blocks and shortcut options),
:mod:`~godeep.keras.residual.variants` (merges, pre-activation), :mod:`~godeep.keras.residual.nets`
(CIFAR and ImageNet ResNets), :mod:`~godeep.keras.residual.counting` (listing, counting, dropping
blocks) and :mod:`~godeep.keras.residual.examples` (dense residual blocks, a residual ConvNet);
weights are copied from PyTorch by :mod:`godeep.keras.convert`.
"""

from __future__ import annotations

from ... import validate  # noqa: F401
from ...core.residual import (  # noqa: F401
    ACTIVATION_ORDERS,
    RESNET_STAGES,
    blocks_per_stage,
    check_block,
    check_mnist_residual_convnet,
    check_variant_options,
    cifar_depths,
)
from ...validate import positive_int as _check_positive_int  # noqa: F401
from ..convert import (
    copy_dense_block_from_torch as copy_dense_from_torch,  # noqa: F401  (re-exported)
    copy_resnet_from_torch as copy_from_torch,  # noqa: F401  (re-exported)
)
from .blocks import (  # noqa: F401
    BN_EPSILON,
    BN_MOMENTUM,
    SHORTCUTS,
    Add,
    BasicBlock,
    Bottleneck,
    PaddedConv2D,
    Projection,
    ZeroPadShortcut,
    _Block,
    _bn,
    _conv,
    _he_fan_out,
    _option_a,
    _option_b,
    _option_c,
    make_shortcut,
)
from .counting import (  # noqa: F401
    blocks,
    count_macs,
    count_parameters,
    drop_block,
    residual_blocks,
    stages,
    zero_init_residual_,
)
from .densenet import DenseBlock, DenseLayer, DenseNet, Transition, densenet121, densenet_cifar  # noqa: F401
from .examples import (  # noqa: F401
    ConvResidualBlock,
    DenseResidualBlock,
    dense_resnet,
    mnist_residual_convnet,
    residual_block,
)
from .highway import Highway, highway_net  # noqa: F401
from .nets import (  # noqa: F401
    RESNET_LAYERS,
    _head,
    _resnet,
    cifar_resnet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnext50_32x4d,
    wide_resnet50_2,
)
from .normalizer_free import (  # noqa: F401
    NF_RELU_GAIN,
    NFBlock,
    NFResNet,
    ScaledWSConv2D,
    nf_cifar_resnet,
)
from .stochastic_depth import STOCHASTIC_DEPTH_MODES, StochasticDepth, stochastic_depth  # noqa: F401
from .variants import (  # noqa: F401
    SHORTCUT_VARIANTS,
    ConstantScaling,
    DropoutShortcut,
    ExclusiveGating,
    PreActBasicBlock,
    ShortcutGating,
)

__all__ = [
    "Add",
    "PaddedConv2D",
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
    "residual_blocks",
    "zero_init_residual_",
    "count_parameters",
    "count_macs",
    "drop_block",
    "cifar_depths",
    "RESNET_LAYERS",
    "copy_from_torch",
    "DenseResidualBlock",
    "dense_resnet",
    "residual_block",
    "ConvResidualBlock",
    "mnist_residual_convnet",
    "copy_dense_from_torch",
    "ConstantScaling",
    "ExclusiveGating",
    "ShortcutGating",
    "DropoutShortcut",
    "SHORTCUT_VARIANTS",
    "PreActBasicBlock",
    "ACTIVATION_ORDERS",
    "wide_resnet50_2",
    "resnext50_32x4d",
    "stochastic_depth",
    "StochasticDepth",
    "STOCHASTIC_DEPTH_MODES",
    "Highway",
    "highway_net",
    "DenseLayer",
    "DenseBlock",
    "Transition",
    "DenseNet",
    "densenet121",
    "densenet_cifar",
    "ScaledWSConv2D",
    "NFBlock",
    "NFResNet",
    "nf_cifar_resnet",
    "NF_RELU_GAIN",
]
