"""Copy PyTorch weights into the Keras twins: one module for every network of :mod:`godeep`.

Layouts differ between the frameworks, values do not:

* ``Linear.weight`` ``(out, in)`` becomes ``Dense.kernel`` ``(in, out)``;
* ``Conv2d.weight`` ``(out, in, kh, kw)`` becomes ``Conv2D.kernel`` ``(kh, kw, in, out)``;
* BatchNorm ``weight, bias, running_mean, running_var`` become ``gamma, beta, moving_mean,
  moving_variance``; LayerNorm ``weight, bias`` become ``gamma, beta``.

Every copy first checks that the two networks have the same architecture and raises a
``ValueError`` naming the first layer that differs (its kind, a shape, a shortcut, a merge, an
activation): two nets with the same weight shapes can still compute different functions (a
ResNet and its plain twin), and a copy between them would silently give different outputs.

PyTorch is imported inside the functions, so that importing this module (or any
:mod:`godeep.keras` module) never loads it.
"""

from __future__ import annotations

import copy as _copy
from collections.abc import Callable, Sequence

import keras
import numpy as np

from . import tf  # noqa: F401  (quiet TensorFlow import)

__all__ = [
    "copy_mlp_from_torch",
    "copy_resnet_from_torch",
    "copy_dense_block_from_torch",
    "copy_transformer_from_torch",
    "direction_from_torch",
    "set_weights",
]


def set_weights(layer: keras.layers.Layer, values: Sequence[np.ndarray], name: str) -> None:
    """``layer.set_weights(values)`` after checking the count and every shape (``name`` for the message)."""
    current = layer.get_weights()
    if len(values) != len(current):
        raise ValueError(
            f"cannot copy layer {name}: {len(values)} weight(s) in PyTorch, {len(current)} in Keras"
            " (a bias or an affine transform in one framework only?)"
        )
    for i, (v, w) in enumerate(zip(values, current)):
        if tuple(np.shape(v)) != tuple(w.shape):
            raise ValueError(
                f"cannot copy layer {name}: weight {i} has shape {tuple(np.shape(v))} in PyTorch "
                f"(converted to Keras' layout) but {tuple(w.shape)} in Keras"
            )
    layer.set_weights([np.asarray(v, dtype=w.dtype) for v, w in zip(values, current)])


def _mismatch(where: str, what: str, torch_value, keras_value) -> ValueError:
    return ValueError(
        f"cannot copy: the architectures differ at {where}: {what} is {torch_value!r} in PyTorch "
        f"but {keras_value!r} in Keras"
    )


# -------------------------------------------------------------------- MLPs and ConvNets


def _torch_activation(module) -> str | None:
    names = {"Identity": "linear", "Sigmoid": "sigmoid", "Tanh": "tanh", "ReLU": "relu"}
    return names.get(type(module).__name__)


def _check_mlp(keras_model: keras.Model, torch_model) -> None:
    """Same activations, normalization layers and residual/plain blocks, by layer name."""
    from .models import _flat_layers

    modules = dict(torch_model.named_modules())
    layers = list(_flat_layers(keras_model))
    for layer in layers:
        src = modules.get(layer.name)
        if isinstance(layer, keras.layers.Activation) and src is not None:
            kind = getattr(layer.activation, "__name__", None)
            if _torch_activation(src) != kind:
                raise _mismatch(
                    f"layer {layer.name}",
                    "the activation",
                    _torch_activation(src) or type(src).__name__,
                    kind,
                )
    t_norms = sorted(n for n, m in modules.items() if n and hasattr(m, "eps"))
    k_norms = sorted(layer.name for layer in layers if hasattr(layer, "epsilon"))
    if t_norms != k_norms:
        raise _mismatch("the normalization layers", "the list", t_norms, k_norms)
    k_blocks = {layer.name.split(".")[0]: layer for layer in layers if hasattr(layer, "residual")}
    for name, module in modules.items():
        if isinstance(getattr(module, "residual", None), bool) and name in k_blocks:
            if module.residual != bool(k_blocks[name].residual):
                raise _mismatch(
                    f"block {name}",
                    "residual (False: a plain block)",
                    module.residual,
                    bool(k_blocks[name].residual),
                )


def _copy_norms(keras_model: keras.Model, torch_model) -> None:
    """Copy gamma/beta and running statistics of same-named normalization layers (torch -> keras)."""
    from .models import _flat_layers

    sources = dict(torch_model.named_modules())
    for layer in _flat_layers(keras_model):
        src = sources.get(layer.name)
        if src is None or not layer.weights or not hasattr(src, "eps"):
            continue
        names = {
            "gamma": "weight",
            "beta": "bias",
            "moving_mean": "running_mean",
            "moving_variance": "running_var",
        }
        for w in layer.weights:
            attr = names.get(w.name)
            value = getattr(src, attr, None) if attr else None
            if value is None:
                raise ValueError(f"layer {layer.name}: no {attr or w.name} in the PyTorch twin")
            w.assign(np.asarray(value.detach().double().numpy().reshape(w.shape), dtype=w.dtype))


def copy_mlp_from_torch(keras_model: keras.Model, torch_model) -> keras.Model:
    """Copy the weights of a :mod:`godeep.models` / :mod:`godeep.resmlp` PyTorch model into the
    Keras model with the same layer names (and its normalization layers' statistics)."""
    from torch import nn

    from .models import weight_layers

    targets = weight_layers(keras_model)
    sources = {
        n: m for n, m in torch_model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))
    }
    if set(targets) != set(sources):
        raise ValueError(f"layer names differ: keras {sorted(targets)} vs torch {sorted(sources)}")
    _check_mlp(keras_model, torch_model)
    for name, layer in targets.items():
        src = sources[name]
        weight = src.weight.detach().double().numpy()
        # Conv2d (out, in, kh, kw) -> Conv2D (kh, kw, in, out); Linear (out, in) -> Dense (in, out)
        values = [weight.transpose(2, 3, 1, 0) if weight.ndim == 4 else weight.T]
        if src.bias is not None:
            values.append(src.bias.detach().double().numpy())
        if len(values) != len(layer.get_weights()):
            raise ValueError(f"layer {name}: bias present in one framework only")
        set_weights(layer, values, name)
    _copy_norms(keras_model, torch_model)
    return keras_model


# -------------------------------------------------------------------- ResNets


def _conv_kernel(weight) -> np.ndarray:
    """(out, in, kh, kw) -> (kh, kw, in, out)."""
    return weight.detach().cpu().numpy().transpose(2, 3, 1, 0)


def _bn_values(bn) -> list[np.ndarray]:
    return [t.detach().cpu().numpy() for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var)]


def _shortcut_kind(downsample) -> str:
    """``"identity"``, ``"zero_pad"`` (option A) or ``"projection"`` (options B/C), either framework."""
    if downsample is None:
        return "identity"
    name = type(downsample).__name__
    return (
        "zero_pad"
        if name == "ZeroPadShortcut"
        else "projection"
        if name in ("Sequential", "Projection")
        else name
    )


def _merge_kind(merge) -> tuple:
    """The merge's class and its constant scales (the gates' parameters are weights: not compared)."""
    scales = tuple(
        float(getattr(merge, a))
        for a in ("shortcut_scale", "branch_scale", "p")
        if hasattr(merge, a)
    )
    return (type(merge).__name__,) + scales


def _check_block(where: str, kb, tb) -> None:
    """Same block kind, shortcut, merge, activation order and stride in both frameworks."""
    checks = [
        ("the block type", type(tb).__name__, type(kb).__name__),
        ("the shortcut (False: a plain block)", bool(tb.shortcut), bool(kb.shortcut)),
        ("the shortcut transform", _shortcut_kind(tb.downsample), _shortcut_kind(kb.downsample)),
        ("the stride", int(tb.stride), int(kb.stride)),
        ("the activation order", getattr(tb, "order", None), getattr(kb, "order", None)),
    ]
    if tb.shortcut and kb.shortcut:
        checks.append(("the merge", _merge_kind(tb.merge), _merge_kind(kb.merge)))
    for what, t, k in checks:
        if t != k:
            raise _mismatch(where, what, t, k)


def copy_resnet_from_torch(keras_model: keras.Sequential, torch_model) -> keras.Sequential:
    """Copy a :mod:`godeep.residual` PyTorch network's weights (and BN statistics) into its Keras twin."""
    from torch import nn

    from .. import residual as pt
    from .residual import Projection, blocks

    k_blocks, t_blocks = blocks(keras_model), pt.residual_blocks(torch_model)
    if len(k_blocks) != len(t_blocks):
        raise ValueError(f"the networks have {len(k_blocks)} and {len(t_blocks)} blocks")
    t_names = {id(m): n for n, m in torch_model.named_modules()}
    for kb, tb in zip(k_blocks, t_blocks):
        _check_block(f"block {kb.name} (PyTorch {t_names[id(tb)]})", kb, tb)
    post = getattr(torch_model, "post", None)
    has_post_bn = isinstance(post, nn.Sequential) and isinstance(post[0], nn.BatchNorm2d)
    k_post_bn = any(layer.name == "post_bn" for layer in keras_model.layers)
    if has_post_bn != k_post_bn:
        raise _mismatch(
            "the layers after the last block", "a final BN (post_bn)", has_post_bn, k_post_bn
        )
    set_weights(keras_model.get_layer("conv1"), [_conv_kernel(torch_model.conv1.weight)], "conv1")
    set_weights(keras_model.get_layer("bn1"), _bn_values(torch_model.bn1), "bn1")
    for kb, tb in zip(k_blocks, t_blocks):
        names = ("1", "2", "3") if isinstance(tb, pt.Bottleneck) else ("1", "2")
        for i in names:
            set_weights(
                getattr(kb, f"conv{i}"),
                [_conv_kernel(getattr(tb, f"conv{i}").weight)],
                f"{kb.name}.conv{i}",
            )
            set_weights(
                getattr(kb, f"bn{i}"), _bn_values(getattr(tb, f"bn{i}")), f"{kb.name}.bn{i}"
            )
        if isinstance(tb.downsample, nn.Sequential):
            if not isinstance(kb.downsample, Projection):
                raise ValueError(f"block {kb.name}: projection shortcut in PyTorch only")
            set_weights(
                kb.downsample.conv,
                [_conv_kernel(tb.downsample[0].weight)],
                f"{kb.name}.downsample.conv",
            )
            set_weights(kb.downsample.bn, _bn_values(tb.downsample[1]), f"{kb.name}.downsample.bn")
        if tb.shortcut and hasattr(tb.merge, "gate"):  # the gates of exclusive / shortcut gating
            set_weights(
                kb.merge.gate,
                [_conv_kernel(tb.merge.gate.weight), tb.merge.gate.bias.detach().numpy()],
                f"{kb.name}.merge.gate",
            )
    if has_post_bn:
        set_weights(keras_model.get_layer("post_bn"), _bn_values(post[0]), "post_bn")
    set_weights(
        keras_model.get_layer("fc"),
        [torch_model.fc.weight.detach().numpy().T, torch_model.fc.bias.detach().numpy()],
        "fc",
    )
    return keras_model


def copy_dense_block_from_torch(keras_block, torch_block):
    """Copy a :class:`godeep.residual.DenseResidualBlock`'s weights and BN statistics."""
    if bool(torch_block.shortcut) != bool(keras_block.shortcut):
        raise _mismatch(
            f"block {keras_block.name}",
            "the shortcut (False: a plain block)",
            bool(torch_block.shortcut),
            bool(keras_block.shortcut),
        )
    for name in ("fc1", "fc2"):
        src = getattr(torch_block, name)
        values = [src.weight.detach().numpy().T] + (
            [src.bias.detach().numpy()] if src.bias is not None else []
        )
        set_weights(getattr(keras_block, name), values, name)
    set_weights(keras_block.bn1, _bn_values(torch_block.bn1), "bn1")
    set_weights(keras_block.bn2, _bn_values(torch_block.bn2), "bn2")
    return keras_block


# -------------------------------------------------------------------- Transformers


def _set_dense(layer, linear, name: str) -> None:
    set_weights(layer, [linear.weight.detach().numpy().T, linear.bias.detach().numpy()], name)


def _set_ln(layer, ln, name: str) -> None:
    set_weights(layer, [ln.weight.detach().numpy(), ln.bias.detach().numpy()], name)


def copy_transformer_from_torch(model, torch_model):
    """Copy every weight of a :class:`godeep.transformer.TinyTransformer` into its Keras twin (in place).

    Linear weights ``(out, in)`` become Dense kernels ``(in, out)``; LayerNorm weight/bias
    become gamma/beta. Raises ``ValueError`` if the two architectures differ.
    """
    if (
        len(model.blocks) != len(torch_model.blocks)
        or model.norm != torch_model.norm
        or model.final_norm != torch_model.final_norm
    ):
        raise ValueError("the Keras and PyTorch models differ in n_layers, norm or final_norm")
    if tuple(model.tok.embeddings.shape) != tuple(torch_model.tok.weight.shape) or tuple(
        model.pos.embeddings.shape
    ) != tuple(torch_model.pos.weight.shape):
        raise ValueError("the Keras and PyTorch models differ in vocab_size, d_model or max_len")
    model.tok.embeddings.assign(torch_model.tok.weight.detach().numpy())
    model.pos.embeddings.assign(torch_model.pos.weight.detach().numpy())
    for i, (kb, tb) in enumerate(zip(model.blocks, torch_model.blocks)):
        for name in ("q", "k", "v", "out"):
            _set_dense(getattr(kb.attn, name), getattr(tb.attn, name), f"blocks.{i}.attn.{name}")
        _set_dense(kb.mlp.fc1, tb.mlp.fc1, f"blocks.{i}.mlp.fc1")
        _set_dense(kb.mlp.fc2, tb.mlp.fc2, f"blocks.{i}.mlp.fc2")
        _set_ln(kb.ln1, tb.ln1, f"blocks.{i}.ln1")
        _set_ln(kb.ln2, tb.ln2, f"blocks.{i}.ln2")
    if model.ln_f is not None:
        _set_ln(model.ln_f, torch_model.ln_f, "ln_f")
    _set_dense(model.head, torch_model.head, "head")
    return model


# -------------------------------------------------------------------- directions of a loss landscape


def direction_from_torch(
    direction: Sequence, torch_model, keras_model: keras.layers.Layer, copy: Callable
) -> list[np.ndarray]:
    """A PyTorch direction (one tensor per ``torch_model.parameters()``) in Keras' layout and
    order (one array per ``keras_model.trainable_weights``).

    ``copy(keras_model, torch_model)`` is the weight-copying function of the twin networks
    (e.g. :func:`godeep.keras.residual.copy_from_torch`): the direction is loaded as the
    parameters of a copy of ``torch_model``, copied into ``keras_model`` by ``copy``, which
    converts the layouts, and read back from its trainable weights. ``keras_model``'s weights
    (all of them, BN statistics included) are restored afterwards.
    """
    params = list(torch_model.parameters())
    if not isinstance(direction, (list, tuple)):
        raise TypeError(
            f"direction must be a list of tensors, one per parameter, got {type(direction).__name__}"
        )
    if len(direction) != len(params):
        raise ValueError(
            f"direction has {len(direction)} tensors, the PyTorch model has {len(params)} parameters"
        )
    import torch

    from .landscape import _parameters

    holder = _copy.deepcopy(torch_model)

    with torch.no_grad():
        for p, d in zip(holder.parameters(), direction):
            if tuple(d.shape) != tuple(p.shape):
                raise ValueError(
                    f"direction tensor of shape {tuple(d.shape)} does not match parameter of shape {tuple(p.shape)}"
                )
            p.copy_(torch.as_tensor(d))
    saved = keras_model.get_weights()
    try:
        targets = _parameters(keras_model)
        for p in targets:  # NaN marks a weight that ``copy`` does not reach
            p.assign(np.full(tuple(p.shape), np.nan, dtype=p.dtype))
        copy(keras_model, holder)
        out = [p.numpy().copy() for p in targets]
        missed = [
            p.path if hasattr(p, "path") else p.name
            for p, o in zip(targets, out)
            if np.isnan(o).any()
        ]
        if missed:
            raise ValueError(
                f"copy did not set the trainable weights {missed}: it does not fit these models"
            )
        return out
    finally:
        keras_model.set_weights(saved)
