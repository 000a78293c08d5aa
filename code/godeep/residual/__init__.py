"""Deep residual learning (He et al., 2016) in PyTorch: residual blocks and the ResNet family.

A residual block computes

    y = relu( F(x) + s(x) )                                                     (1)

where ``F`` (the *residual branch*) is a few conv-BN(-ReLU) layers and ``s`` (the *shortcut*)
is the identity when the shapes of ``x`` and ``F(x)`` agree. When they do not (a stage that
halves the resolution and doubles the channels), the paper's three options are

* ``"A"``: a parameter-free shortcut: subsample by the stride, pad the new channels with zeros;
* ``"B"``: a projection ``W_s x`` (1x1 conv + BN) only where the shape changes, identity elsewhere;
* ``"C"``: a projection on every block.

Removing ``s`` altogether gives the *plain* network of the same depth, ``y = relu(F(x))``.

What is here:

* :class:`BasicBlock` (two 3x3 convs) and :class:`Bottleneck` (1x1 reduce, 3x3, 1x1 expand),
  with torchvision's attribute names (``conv1, bn1, conv2, bn2[, conv3, bn3], downsample``);
* :func:`resnet18` ... :func:`resnet152`: exactly torchvision's ImageNet ResNets (same modules,
  same ``state_dict`` keys, same parameter counts), without needing torchvision;
* :func:`cifar_resnet`: the CIFAR-10 ResNets of He et al. (2016a, Sec. 4.2; 6n+2 layers), and their
  plain twins (``plain=True``).

Extension points: a block's shortcut comes from :data:`SHORTCUTS` (name ->
factory), and the sum in (1) is done by a *merge* module, ``merge(f, s, x) -> tensor``
(:class:`Add` by default), so variants such as constant scaling or gating are new merge modules.
``model.stages`` lists the stages (``nn.Sequential`` of blocks) and ``model.blocks`` every block
in order; :func:`drop_block` returns a copy of a network with one block replaced by the identity.

The variants of He et al. (2016b, "Identity Mappings in Deep Residual Networks"): the six
shortcuts of their Table 1 are named in :data:`SHORTCUT_VARIANTS` (``cifar_resnet(variant=...)``:
:class:`ConstantScaling`, :class:`ExclusiveGating`, :class:`ShortcutGating`,
:class:`DropoutShortcut`, the 1x1 conv shortcut), and the five placements of BN and ReLU of their
Table 2 in :data:`ACTIVATION_ORDERS` (:class:`PreActBasicBlock`, ``cifar_resnet(activation=...)``).

One topic per module, every name importable from :mod:`godeep.residual` itself:
:mod:`~godeep.residual.blocks` (blocks, merges and shortcut options),
:mod:`~godeep.residual.imagenet` (ImageNet ResNets), :mod:`~godeep.residual.cifar` (CIFAR ResNets),
:mod:`~godeep.residual.variants` (shortcut variants and activation orders of He et al. 2016b),
:mod:`~godeep.residual.counting` (parameters, MACs, dropping a block),
:mod:`~godeep.residual.examples` (dense residual blocks, a small residual ConvNet), and the
family after ResNet: :mod:`~godeep.residual.highway` (gated shortcuts, Srivastava et al. 2015),
:mod:`~godeep.residual.stochastic_depth` (Huang et al. 2016), :mod:`~godeep.residual.densenet`
(Huang et al. 2017), wide and grouped ResNets in :mod:`~godeep.residual.imagenet`; the
framework-neutral plans and checks are in :mod:`godeep.core.residual`.
"""

from __future__ import annotations

from .. import validate  # noqa: F401
from ..core.residual import (  # noqa: F401  # noqa: F401
    ACTIVATION_ORDERS,
    RESNET_STAGES,
    blocks_per_stage as _blocks_per_stage,
    check_block as _check_block,
    check_mnist_residual_convnet,
    check_variant_options,
    cifar_depths,
)
from ..validate import positive_int as _check_positive_int  # noqa: F401
from .blocks import (  # noqa: F401
    SHORTCUTS,
    Add,
    BasicBlock,
    Bottleneck,
    ZeroPadShortcut,
    _Block,
    _check_images,
    _check_module,
    _init_weights,
    _option_a,
    _option_b,
    _option_c,
    _projection,
    conv1x1,
    conv3x3,
    make_shortcut,
    residual_blocks,
    zero_init_residual_,
)
from .cifar import (  # noqa: F401
    CifarResNet,
    cifar_resnet,
)
from .counting import (  # noqa: F401
    blocks,
    count_macs,
    count_parameters,
    drop_block,
    stages,
)
from .densenet import DenseBlock, DenseLayer, DenseNet, Transition, densenet121, densenet_cifar  # noqa: F401
from .examples import (  # noqa: F401
    ConvResidualBlock,
    DenseResidualBlock,
    dense_resnet,
    mnist_residual_convnet,
)
from .highway import Highway, highway_net  # noqa: F401
from .imagenet import (  # noqa: F401
    RESNET_LAYERS,
    ResNet,
    _resnet,
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
    ScaledWSConv2d,
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
    _check_real,
    _final_activation,
    _Gate,
    _variant_and_activation,
)

__all__ = [
    "Add",
    "ZeroPadShortcut",
    "BasicBlock",
    "Bottleneck",
    "SHORTCUTS",
    "make_shortcut",
    "ResNet",
    "CifarResNet",
    "cifar_resnet",
    "cifar_depths",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "RESNET_LAYERS",
    "count_parameters",
    "count_macs",
    "blocks",
    "stages",
    "drop_block",
    "residual_blocks",
    "zero_init_residual_",
    "DenseResidualBlock",
    "dense_resnet",
    "ConvResidualBlock",
    "mnist_residual_convnet",
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
    "ScaledWSConv2d",
    "NFBlock",
    "NFResNet",
    "nf_cifar_resnet",
    "NF_RELU_GAIN",
]
