"""The twin contract: ``godeep.keras.X`` has the same public names and signatures as ``godeep.X``.

For each pair the test compares ``__all__`` and, for every name in both, the signature
(parameter names, order, kinds and defaults; annotations are ignored) of each function or
class, and the type of each constant (for a dict: its keys and the type of its values). Every
difference must be listed below with a one-line reason; a new, undocumented difference fails,
and so does a documented one that no longer exists (the table stays true).

Two general rules, applied before comparing, instead of one entry per name:

* a Keras layer or model class takes Keras' own ``**kwargs`` (``name``, ``dtype``,
  ``trainable``) last, passed on to ``keras.layers.Layer``: that trailing ``**kwargs`` is
  dropped from the Keras signature;
* a class that does not define ``__init__`` (it inherits ``nn.Module``'s or
  ``keras.layers.Layer``'s) has the signature ``()``.
"""

from __future__ import annotations

import importlib
import inspect
import types

import pytest

pytest.importorskip("keras")

PAIRS = (
    "init",
    "norms",
    "signals",
    "models",
    "residual",
    "resmlp",
    "transformer",
    "landscape",
    "train",
    "clipping",
    "rmsnorm",
    "weight_standardization",
    "deploy",
    "isometry",
    "lsuv",
)

# --------------------------------------------------------------------------------------------
# The intended differences
# --------------------------------------------------------------------------------------------

#: names in the PyTorch module only
ONLY_TORCH: dict[tuple[str, str], str] = {
    (
        "norms",
        "batch_norm",
    ): (
        "functional forms mirror torch.nn.functional (tensors in, running stats updated in place); "
        "Keras updates its statistics only inside layers"
    ),
    ("norms", "layer_norm"): "functional form of torch.nn.functional.layer_norm: see batch_norm",
    ("norms", "group_norm"): "functional form of torch.nn.functional.group_norm: see batch_norm",
    (
        "norms",
        "instance_norm",
    ): "functional form of torch.nn.functional.instance_norm: see batch_norm",
    (
        "norms",
        "ghost_batch_norm",
    ): "functional form, in the style of torch.nn.functional: see batch_norm",
    (
        "residual",
        "CifarResNet",
    ): "a PyTorch network is an nn.Module subclass; a Keras one is the keras.Sequential the builder returns",
    ("residual", "ResNet"): "as CifarResNet: Keras' ImageNet ResNets are keras.Sequential models",
    (
        "resmlp",
        "Block",
    ): (
        "PyTorch's block module; Keras builds the same block in the functional graph "
        "(stream_layers, BranchScale, BlockOutput)"
    ),
    (
        "clipping",
        "clip_grad_norm_",
    ): (
        "PyTorch keeps gradients in .grad and clips them in place; Keras variables have no "
        ".grad (use clip_by_global_norm)"
    ),
    (
        "clipping",
        "clip_grad_value_",
    ): "in place on .grad: see clip_grad_norm_ (Keras: clip_by_value)",
    (
        "weight_standardization",
        "WSConv2d",
    ): "PyTorch's name style (nn.Conv2d); the Keras twin is WSConv2D, in Keras' style (keras.layers.Conv2D)",
    (
        "norms",
        "WSConv2d",
    ): "re-exported from weight_standardization: see weight_standardization.WSConv2d",
    (
        "residual",
        "ScaledWSConv2d",
    ): "PyTorch's name style (nn.Conv2d); the Keras twin is ScaledWSConv2D (keras.layers.Conv2D)",
    (
        "clipping",
        "adaptive_clip_grad_",
    ): "in place on .grad: see clip_grad_norm_ (Keras: adaptive_clip)",
}

#: names in the Keras module only
ONLY_KERAS: dict[tuple[str, str], str] = {
    (
        "init",
        "KaimingNormal",
    ): "Keras takes initializers as objects (kernel_initializer=...); PyTorch initializes tensors in place",
    ("init", "KaimingUniform"): "Keras initializer object: see KaimingNormal",
    ("init", "XavierNormal"): "Keras initializer object: see KaimingNormal",
    ("init", "XavierUniform"): "Keras initializer object: see KaimingNormal",
    (
        "init",
        "KERAS_TRUNCATION_STD",
    ): "Keras' own truncated-normal convention, which the PyTorch side does not have",
    ("models", "copy_from_torch"): "conversion from the PyTorch twin (godeep.keras.convert)",
    ("residual", "copy_from_torch"): "conversion from the PyTorch twin (godeep.keras.convert)",
    (
        "residual",
        "copy_dense_from_torch",
    ): "conversion from the PyTorch twin (godeep.keras.convert)",
    (
        "residual",
        "PaddedConv2D",
    ): "PyTorch's Conv2d pads on every side (padding=1); Keras' padding='same' does not at stride 2",
    (
        "residual",
        "Projection",
    ): "PyTorch's projection shortcut is an nn.Sequential(conv, bn); Keras needs a layer to pass training= to its BN",
    (
        "residual",
        "residual_block",
    ): "a functional-API block (x -> y) for Keras' functional models; PyTorch's twin is the module DenseResidualBlock",
    (
        "resmlp",
        "BlockOutput",
    ): (
        "the weightless layer ending each block in Keras' functional graph, which Lesioned "
        "switches off (PyTorch replaces the module)"
    ),
    (
        "resmlp",
        "BranchScale",
    ): "a branch's scale as a Keras layer in the functional graph (PyTorch: an attribute of Block)",
    (
        "resmlp",
        "stream_layers",
    ): "lists the functional graph's per-block layers (PyTorch: model.blocks)",
    ("transformer", "copy_from_torch"): "conversion from the PyTorch twin (godeep.keras.convert)",
    (
        "landscape",
        "direction_from_torch",
    ): "conversion of a PyTorch direction to Keras' weight layout (godeep.keras.convert)",
    (
        "train",
        "reuse_traced_steps",
    ): "tf.function tracing: PyTorch's eager loop has nothing to reuse",
    ("train", "clear_step_cache"): "tf.function tracing: see reuse_traced_steps",
    (
        "train",
        "shared_step",
    ): "tf.function tracing: a training loop borrows one traced step per architecture",
    (
        "weight_standardization",
        "WSConv2D",
    ): "Keras' name style for WSConv2d (keras.layers.Conv2D's arguments plus eps)",
    (
        "isometry",
        "Orthogonal",
    ): "Keras initializer object beside keras.initializers.Orthogonal: see init.KaimingNormal",
    ("init", "Orthogonal"): "re-exported from isometry: see isometry.Orthogonal",
    (
        "norms",
        "WSConv2D",
    ): "re-exported from weight_standardization: see weight_standardization.WSConv2D",
    ("residual", "ScaledWSConv2D"): "Keras' name style for ScaledWSConv2d (keras.layers.Conv2D)",
}

_INIT_REASON = (
    "PyTorch initializes a tensor from a torch.Generator, Keras a variable from an int seed"
)
_NORM_REASON = (
    "Keras conventions: the width is inferred at build (no num_features), epsilon (1e-3) and "
    "momentum (0.99, the old value's weight), center/scale for the affine transform"
)

#: (torch signature, keras signature, reason) for each name whose signatures differ
SIGNATURES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("init", "kaiming_normal_"): (
        "(tensor, a=0.0, mode='fan_in', nonlinearity='leaky_relu', generator=None)",
        "(variable, a=0.0, mode='fan_in', nonlinearity='leaky_relu', seed=None)",
        _INIT_REASON,
    ),
    ("init", "kaiming_uniform_"): (
        "(tensor, a=0.0, mode='fan_in', nonlinearity='leaky_relu', generator=None)",
        "(variable, a=0.0, mode='fan_in', nonlinearity='leaky_relu', seed=None)",
        _INIT_REASON,
    ),
    ("init", "xavier_normal_"): (
        "(tensor, gain=1.0, generator=None)",
        "(variable, gain=1.0, seed=None)",
        _INIT_REASON,
    ),
    ("init", "xavier_uniform_"): (
        "(tensor, gain=1.0, generator=None)",
        "(variable, gain=1.0, seed=None)",
        _INIT_REASON,
    ),
    ("norms", "BatchNorm"): (
        "(num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)",
        "(momentum=0.99, epsilon=0.001, center=True, scale=True)",
        _NORM_REASON + "; running statistics are always tracked (a Keras BN layer has no switch)",
    ),
    ("norms", "GhostBatchNorm"): (
        "(num_features, virtual_batch_size, eps=1e-05, momentum=0.1, affine=True)",
        "(virtual_batch_size, momentum=0.99, epsilon=0.001, center=True, scale=True)",
        _NORM_REASON,
    ),
    ("norms", "GroupNorm"): (
        "(num_groups, num_channels, eps=1e-05, affine=True)",
        "(groups, epsilon=0.001, center=True, scale=True)",
        _NORM_REASON + "; keras.layers.GroupNormalization's name 'groups'",
    ),
    ("norms", "InstanceNorm"): (
        "(num_features, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)",
        "(epsilon=0.001, center=False, scale=False)",
        _NORM_REASON + "; no running statistics (PyTorch's default track_running_stats=False)",
    ),
    ("norms", "LayerNorm"): (
        "(normalized_shape, eps=1e-05, elementwise_affine=True, bias=True)",
        "(normalized_shape=None, epsilon=0.001, center=True, scale=True)",
        _NORM_REASON + "; normalized_shape None: the last axis, as keras.layers.LayerNormalization",
    ),
    ("models", "norm_layer"): (
        "(kind, features, groups=4, virtual_batch_size=8, spatial=False)",
        "(kind, spatial=False, groups=4, virtual_batch_size=8, name=None, dtype='float32')",
        "Keras layers infer the width at build (no features); name and dtype are Keras layer arguments",
    ),
    ("residual", "cifar_resnet"): (
        "(depth, num_classes=10, plain=False, in_channels=3, widths=(16, 32, 64), shortcut='A', "
        "zero_init_residual=False, block=None, merge=None, variant=None, variant_options=None, activation=None)",
        "(depth, num_classes=10, plain=False, in_channels=3, widths=(16, 32, 64), shortcut='A', "
        "zero_init_residual=False, block=None, merge=None, variant=None, variant_options=None, activation=None, "
        "input_size=None)",
        "a keras.Sequential declares its input shape (channels last); input_size fixes H = W",
    ),
    **{
        ("residual", f"resnet{d}"): (
            "(num_classes=1000, zero_init_residual=False)",
            "(num_classes=1000, zero_init_residual=False, input_size=224)",
            "a keras.Sequential declares its input shape: see cifar_resnet",
        )
        for d in (18, 34, 50, 101, 152)
    },
    **{
        ("residual", name): (
            "(num_classes=1000, zero_init_residual=False)",
            "(num_classes=1000, zero_init_residual=False, input_size=224)",
            "a keras.Sequential declares its input shape: see cifar_resnet",
        )
        for name in ("wide_resnet50_2", "resnext50_32x4d")
    },
    ("residual", "densenet121"): (
        "(num_classes=1000)",
        "(num_classes=1000, input_size=224)",
        "a keras.Sequential declares its input shape: see cifar_resnet",
    ),
    ("residual", "DenseNet"): (
        "(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4, "
        "drop_rate=0.0, num_classes=1000, in_channels=3, stem='imagenet', dense=True)",
        "(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4, "
        "drop_rate=0.0, num_classes=1000, in_channels=3, stem='imagenet', dense=True, "
        "input_size=224)",
        "a keras.Sequential declares its input shape: see cifar_resnet",
    ),
    ("residual", "densenet_cifar"): (
        "(block_config=(16, 16, 16), growth_rate=12, num_classes=10, in_channels=3, dense=True)",
        "(block_config=(16, 16, 16), growth_rate=12, num_classes=10, in_channels=3, dense=True, "
        "input_size=32)",
        "a keras.Sequential declares its input shape: see cifar_resnet",
    ),
    ("residual", "NFResNet"): (
        "(depth, num_classes=10, alpha=0.2, in_channels=3, widths=(16, 32, 64))",
        "(depth, num_classes=10, alpha=0.2, in_channels=3, widths=(16, 32, 64), input_size=32)",
        "a keras.Sequential declares its input shape: see cifar_resnet",
    ),
    ("residual", "nf_cifar_resnet"): (
        "(depth, num_classes=10, alpha=0.2, in_channels=3)",
        "(depth, num_classes=10, alpha=0.2, in_channels=3, input_size=32)",
        "a keras.Sequential declares its input shape: see cifar_resnet",
    ),
    ("residual", "stochastic_depth"): (
        "(input, p, mode, training=True)",
        "(input, p, mode, training=True, *, seed=None)",
        "Keras' random ops take a seed (an int or a keras.random.SeedGenerator); PyTorch draws "
        "from its global generator",
    ),
    ("isometry", "orthogonal_"): (
        "(tensor, gain=1, generator=None)",
        "(variable, gain=1, seed=None)",
        _INIT_REASON,
    ),
    ("init", "orthogonal_"): (
        "(tensor, gain=1, generator=None)",
        "(variable, gain=1, seed=None)",
        _INIT_REASON,
    ),
    ("norms", "RMSNorm"): (
        "(normalized_shape, eps=None, elementwise_affine=True)",
        "(normalized_shape=None, epsilon=None, scale=True)",
        "re-exported from rmsnorm: see rmsnorm.RMSNorm",
    ),
    ("rmsnorm", "RMSNorm"): (
        "(normalized_shape, eps=None, elementwise_affine=True)",
        "(normalized_shape=None, epsilon=None, scale=True)",
        "Keras conventions of godeep.keras.norms (epsilon, scale, weight gamma; None: the last axis)",
    ),
    ("transformer", "TinyTransformer"): (
        "(vocab_size, d_model=32, n_heads=4, n_layers=2, max_len=64, d_ff=None, norm='pre', n_out=None, "
        "final_norm=None, scaled_init=False, causal=False, dropout=0.0)",
        "(vocab_size, d_model=32, n_heads=4, n_layers=2, max_len=64, d_ff=None, norm='pre', n_out=None, "
        "final_norm=None, scaled_init=False, causal=False, dropout=0.0, dtype='float32')",
        "a Keras model fixes its dtype policy at construction; PyTorch converts after (model.to(dtype))",
    ),
}

#: (torch value type, keras value type, reason) for constants whose types differ
VALUES: dict[tuple[str, str], tuple[str, str, str]] = {}


# --------------------------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------------------------


def _framework_base(cls: type) -> bool:
    """Whether ``cls`` inherits ``__init__`` from a framework's base class (torch, keras)."""
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            return klass.__module__.split(".")[0] in ("torch", "keras", "tensorflow", "builtins")
    return True


def signature(obj, keras_side: bool) -> str:
    """``obj``'s signature without annotations, after the two general rules of the module docstring."""
    if inspect.isclass(obj) and _framework_base(obj):
        return "()"
    sig = inspect.signature(obj)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    if (
        keras_side
        and inspect.isclass(obj)
        and params
        and params[-1].kind is inspect.Parameter.VAR_KEYWORD
    ):
        import keras

        if issubclass(obj, keras.layers.Layer) and params[-1].name == "kwargs":
            params = params[:-1]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


def value_type(value) -> str:
    if isinstance(value, dict):
        kinds = sorted({type(v).__name__ for v in value.values()})
        return f"dict[{', '.join(sorted({type(k).__name__ for k in value}))}, {' | '.join(kinds)}]"
    return type(value).__name__


def differences(
    label: str,
    torch_mod,
    keras_mod,
    only_torch: dict,
    only_keras: dict,
    signatures: dict,
    values: dict,
) -> list[str]:
    """Every difference between the two modules not documented in the tables, and every table
    entry of ``label`` that no longer describes a difference (stale)."""
    problems = []
    t_names, k_names = set(torch_mod.__all__), set(keras_mod.__all__)
    for names, other, table, side in (
        (t_names, k_names, only_torch, "PyTorch"),
        (k_names, t_names, only_keras, "Keras"),
    ):
        for name in sorted(names - other):
            if (label, name) not in table:
                problems.append(f"{label}.{name}: only in {side}, not documented")
        for lab, name in table:
            if lab == label and not (name in names and name not in other):
                problems.append(
                    f"{label}.{name}: documented as {side}-only, but it is not (stale entry)"
                )
    for name in sorted(t_names & k_names):
        t_obj, k_obj = getattr(torch_mod, name), getattr(keras_mod, name)
        if callable(t_obj) and callable(k_obj):
            got, table = (signature(t_obj, False), signature(k_obj, True)), signatures
        else:
            got, table = (value_type(t_obj), value_type(k_obj)), values
        documented = table.get((label, name))
        if got[0] == got[1]:
            if documented is not None:
                problems.append(
                    f"{label}.{name}: documented difference no longer exists (stale entry)"
                )
        elif documented is None:
            problems.append(f"{label}.{name}: PyTorch {got[0]} but Keras {got[1]}, not documented")
        elif documented[:2] != got:
            problems.append(
                f"{label}.{name}: documented as PyTorch {documented[0]} / Keras {documented[1]}, "
                f"now PyTorch {got[0]} / Keras {got[1]}"
            )
    for table in (signatures, values):
        for lab, name in table:
            if lab == label and not (name in t_names and name in k_names):
                problems.append(
                    f"{label}.{name}: documented difference of a name not in both modules (stale entry)"
                )
    return problems


# --------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("label", PAIRS)
def test_twins_differ_only_as_documented(label):
    torch_mod = importlib.import_module(f"godeep.{label}")
    keras_mod = importlib.import_module(f"godeep.keras.{label}")
    assert (
        differences(label, torch_mod, keras_mod, ONLY_TORCH, ONLY_KERAS, SIGNATURES, VALUES) == []
    )


def test_every_documented_difference_has_a_reason_and_a_pair():
    for table in (ONLY_TORCH, ONLY_KERAS):
        for (label, name), reason in table.items():
            assert label in PAIRS and isinstance(reason, str) and len(reason) > 10, (label, name)
    for table in (SIGNATURES, VALUES):
        for (label, name), (t, k, reason) in table.items():
            assert label in PAIRS and t != k and len(reason) > 10, (label, name)


def _fake_pair():
    def f(a, b=1):
        return a

    def g(x, *, y="y"):
        return x

    torch_mod, keras_mod = types.ModuleType("fake_torch"), types.ModuleType("fake_keras")
    torch_mod.f, torch_mod.g, torch_mod.C = f, g, {"a": 1}
    keras_mod.f, keras_mod.g, keras_mod.C = f, g, {"a": 1}
    torch_mod.__all__ = ["f", "g", "C"]
    keras_mod.__all__ = ["f", "g", "C"]
    return torch_mod, keras_mod


def test_an_undocumented_difference_fails():
    """The check itself, on a fake pair: identical modules pass, each kind of new difference
    is reported, a documented one passes, and a stale entry is reported."""
    t, k = _fake_pair()
    assert differences("fake", t, k, {}, {}, {}, {}) == []

    def f(a, b=2):  # a changed default
        return a

    k.f = f
    assert differences("fake", t, k, {}, {}, {}, {}) == [
        "fake.f: PyTorch (a, b=1) but Keras (a, b=2), not documented"
    ]
    documented = {("fake", "f"): ("(a, b=1)", "(a, b=2)", "a reason for the fake difference")}
    assert differences("fake", t, k, {}, {}, documented, {}) == []

    def g(x, y="y"):  # keyword-only became positional-or-keyword
        return x

    k.g = g
    assert differences("fake", t, k, {}, {}, documented, {}) == [
        "fake.g: PyTorch (x, *, y='y') but Keras (x, y='y'), not documented"
    ]
    k.g = t.g
    k.__all__ = ["f", "g", "C", "extra"]
    k.extra = 1
    assert differences("fake", t, k, {}, {}, documented, {}) == [
        "fake.extra: only in Keras, not documented"
    ]
    k.__all__ = ["f", "g", "C"]
    k.C = {"a": 1.0}  # a constant's value type
    assert differences("fake", t, k, {}, {}, documented, {}) == [
        "fake.C: PyTorch dict[str, int] but Keras dict[str, float], not documented"
    ]
    k.C, k.f = t.C, t.f  # back to identical: the documented difference is now stale
    assert differences("fake", t, k, {}, {}, documented, {}) == [
        "fake.f: documented difference no longer exists (stale entry)"
    ]
    assert differences(
        "fake", t, k, {("fake", "gone"): "a name that is not there"}, {}, {}, {}
    ) == ["fake.gone: documented as PyTorch-only, but it is not (stale entry)"]


def test_general_rules():
    """Keras' trailing ``**kwargs`` is dropped only for Keras layers; a class without its own
    ``__init__`` has the signature ``()``."""
    import keras
    from torch import nn

    class KLayer(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)

    def plain(units, **kwargs):
        return units

    class TNoInit(nn.Module):
        def forward(self, x):
            return x

    assert signature(KLayer, True) == "(units)"
    assert signature(KLayer, False) == "(units, **kwargs)"
    assert signature(plain, True) == "(units, **kwargs)"
    assert signature(TNoInit, False) == "()"
