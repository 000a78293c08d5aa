"""Gradient clipping by global norm and by value (PyTorch), written from the definitions.

Clipping by global norm (Pascanu et al. 2013) treats all the gradients ``g_1, ..., g_k`` of a
step as one vector and shrinks it when its norm exceeds ``max_norm``:

    n = || (||g_1||_p, ..., ||g_k||_p) ||_p          (the p-norm of the concatenation)
    g_i <- g_i * min(1, max_norm / (n + 1e-6))      (PyTorch's convention, with its 1e-6)

so the direction of the step is kept and only its length is capped. Clipping by value clamps
each component separately, ``g <- clamp(g, -v, v)``, which changes the direction.

A non-finite norm is not caught unless ``error_if_nonfinite=True``: a NaN norm makes every
gradient NaN, an infinite one gives ``max_norm / inf = 0`` (finite entries become 0, infinite
ones NaN), exactly as ``torch.nn.utils.clip_grad_norm_``. The Keras twin
(:mod:`godeep.keras.clipping`) follows Keras' convention instead, ``g * c / max(n, c)`` without
the 1e-6 and NaN for any non-finite norm; the two agree to a relative 1e-6 / n.

Clipping caps an *exploding* step; it cannot restore a *vanishing* gradient (it never scales up).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Union

from . import validate

__all__ = [
    "check_clip",
    "check_agc",
    "check_fit_agc",
    "global_norm",
    "clip_by_global_norm",
    "clip_by_value",
    "clip_grad_norm_",
    "clip_grad_value_",
    "unitwise_norm",
    "adaptive_clip",
    "adaptive_clip_grad_",
    "classifier_split",
]

Tensors = Union["torch.Tensor", Iterable["torch.Tensor"]]  # noqa: F821


def check_clip(
    clip_grad_norm: float | None, clip_grad_value: float | None
) -> tuple[float | None, float | None]:
    """The ``clip_grad_norm=`` / ``clip_grad_value=`` options of ``fit``, checked (framework-free).

    Each is ``None`` (no clipping) or a finite number > 0; at most one may be given (as Keras'
    optimizers, which refuse two kinds of clipping at once).
    """
    norm = (
        None
        if clip_grad_norm is None
        else validate.number("clip_grad_norm", clip_grad_norm, low=0.0, low_open=True)
    )
    value = (
        None
        if clip_grad_value is None
        else validate.number("clip_grad_value", clip_grad_value, low=0.0, low_open=True)
    )
    if norm is not None and value is not None:
        raise ValueError(
            f"give at most one of clip_grad_norm ({norm}) and clip_grad_value ({value})"
        )
    return norm, value


def check_agc(clipping: float, eps: float, n_grads: int, n_params: int) -> tuple[float, float]:
    """The arguments of ``adaptive_clip`` in either framework (framework-free): ``clipping > 0``,
    ``eps >= 0``, and one gradient per parameter."""
    clipping = validate.number("clipping", clipping, low=0.0, low_open=True)
    eps = validate.number("eps", eps, low=0.0)
    if n_grads != n_params:
        raise ValueError(f"got {n_grads} gradients for {n_params} parameters")
    return clipping, eps


def check_fit_agc(
    agc: float | None, clip_grad_norm: float | None, clip_grad_value: float | None
) -> float | None:
    """The ``agc=`` option of ``fit`` in either framework (framework-free): ``None`` (no AGC) or
    the clipping threshold ``lambda > 0`` of Eq. 3; not together with ``clip_grad_norm`` or
    ``clip_grad_value`` (one kind of clipping per run)."""
    if agc is None:
        return None
    agc = validate.number("agc", agc, low=0.0, low_open=True)
    if clip_grad_norm is not None or clip_grad_value is not None:
        raise ValueError(
            f"give agc ({agc}) without clip_grad_norm ({clip_grad_norm}) "
            f"and clip_grad_value ({clip_grad_value})"
        )
    return agc


def _norm_type(norm_type: float) -> float:
    return validate.number("norm_type", norm_type, low=0.0, low_open=True, finite=False)


def _tensor_list(name: str, tensors) -> list:
    import torch

    if isinstance(tensors, torch.Tensor):
        return [tensors]
    if isinstance(tensors, (str, bytes)) or not isinstance(tensors, Iterable):
        raise TypeError(
            f"{name} must be a tensor or an iterable of tensors, got {type(tensors).__name__}"
        )
    tensors = list(tensors)
    for i, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}[{i}] must be a torch.Tensor, got {type(t).__name__}")
    return tensors


def global_norm(tensors: Tensors, norm_type: float = 2.0):
    """``|| (||t_1||_p, ..., ||t_k||_p) ||_p``: the p-norm of all ``tensors`` as one vector.

    ``norm_type=inf`` gives the largest absolute entry. No tensors: ``tensor(0.)``.
    """
    import torch

    p = _norm_type(norm_type)
    tensors = _tensor_list("tensors", tensors)
    if not tensors:
        return torch.tensor(0.0)
    norms = torch.stack([torch.linalg.vector_norm(t.detach(), p) for t in tensors])
    return torch.linalg.vector_norm(norms, p)


def _scale(max_norm: float, total):
    """``min(1, max_norm / (total + 1e-6))`` (NaN for a NaN total, 0 for an infinite one)."""
    import torch

    return torch.clamp(max_norm / (total + 1e-6), max=1.0)


def clip_by_global_norm(grads: Sequence, max_norm: float, norm_type: float = 2.0):
    """``([g_i * min(1, max_norm / (n + 1e-6))], n)`` with ``n`` the :func:`global_norm` of ``grads``.

    Functional (new tensors; ``grads`` are left as they are), the numbers of
    ``torch.nn.utils.clip_grad_norm_``.
    """
    max_norm = validate.number("max_norm", max_norm, low=0.0)
    grads = _tensor_list("grads", grads)
    total = global_norm(grads, norm_type)
    scale = _scale(max_norm, total)
    return [g * scale.to(g.dtype) for g in grads], total


def clip_by_value(grads: Sequence, clip_value: float) -> list:
    """``[clamp(g, -v, v)]``: each component into ``[-clip_value, clip_value]`` (NaN stays NaN)."""
    import torch

    v = validate.number("clip_value", clip_value, low=0.0)
    return [torch.clamp(g, -v, v) for g in _tensor_list("grads", grads)]


def _grads(parameters) -> list:
    return [p.grad for p in _tensor_list("parameters", parameters) if p.grad is not None]


def clip_grad_norm_(
    parameters: Tensors, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
):
    """Scale the ``.grad`` of ``parameters`` in place by ``min(1, max_norm / (n + 1e-6))``; return ``n``.

    Same signature (less ``foreach``) and numbers as ``torch.nn.utils.clip_grad_norm_``: ``n`` is
    the norm before clipping; with ``error_if_nonfinite=True`` a NaN or infinite ``n`` raises
    ``RuntimeError`` and leaves the gradients untouched.
    """
    import torch

    max_norm = validate.number("max_norm", max_norm, low=0.0)
    error_if_nonfinite = validate.boolean("error_if_nonfinite", error_if_nonfinite)
    grads = _grads(parameters)
    total = global_norm(grads, norm_type)
    if error_if_nonfinite and not math.isfinite(float(total)):
        raise RuntimeError(
            f"the total norm of order {norm_type} of the gradients is non-finite ({float(total)}), "
            "so it cannot be clipped; error_if_nonfinite=False scales by it anyway"
        )
    scale = _scale(max_norm, total)
    with torch.no_grad():
        for g in grads:
            g.mul_(scale.to(g.dtype))
    return total


def clip_grad_value_(parameters: Tensors, clip_value: float) -> None:
    """Clamp the ``.grad`` of ``parameters`` in place into ``[-clip_value, clip_value]``.

    Same signature (less ``foreach``) and numbers as ``torch.nn.utils.clip_grad_value_``.
    """
    import torch

    v = validate.number("clip_value", clip_value, low=0.0)
    with torch.no_grad():
        for g in _grads(parameters):
            g.clamp_(-v, v)


# --------------------------------------------------------------------------------------------
# Adaptive gradient clipping (Brock et al. 2021b, "High-Performance Large-Scale Image
# Recognition Without Normalization", Eq. 3)
# --------------------------------------------------------------------------------------------


def unitwise_norm(x):
    """The Frobenius norm of each output unit's slice of ``x`` (PyTorch layout: dim 0 is the
    output unit; a conv weight ``(out, in, kh, kw)`` gives ``out`` norms over ``in*kh*kw``
    entries, shaped to broadcast against ``x``); a vector or scalar is one unit (its norm), as
    in the NFNets code."""
    import torch

    if x.dim() <= 1:
        return torch.linalg.vector_norm(x)
    return torch.linalg.vector_norm(x, dim=tuple(range(1, x.dim())), keepdim=True)


def adaptive_clip(
    grads: Sequence, params: Sequence, clipping: float = 0.01, eps: float = 1e-3
) -> list:
    """AGC, Eq. 3: each unit's gradient ``G_i`` is rescaled to ``clipping * max(||W_i||, eps)``
    when ``||G_i|| / max(||W_i||, eps) > clipping``, and left as it is otherwise:

        G_i <- G_i * min(1, clipping * max(||W_i||, eps) / ||G_i||)

    (norms unit-wise, :func:`unitwise_norm`). Functional: new tensors, same order as ``grads``.
    Brock et al. do not clip the final classifier; pass only the parameters to clip.
    """
    import torch

    grads, params = _tensor_list("grads", grads), _tensor_list("params", params)
    clipping, eps = check_agc(clipping, eps, len(grads), len(params))
    out = []
    for g, w in zip(grads, params):
        if g.shape != w.shape:
            raise ValueError(
                f"a gradient of shape {tuple(g.shape)} for a parameter {tuple(w.shape)}"
            )
        max_norm = torch.clamp(unitwise_norm(w.detach()), min=eps) * clipping
        g_norm = unitwise_norm(g)
        scale = torch.where(g_norm > max_norm, max_norm / torch.clamp(g_norm, min=1e-6), 1.0)
        out.append(g * scale)
    return out


def classifier_split(model) -> tuple[list, list]:
    """A PyTorch ``model``'s parameters as ``(clipped, classifier)``: ``classifier`` holds the
    parameters of the last module (in ``model.modules()`` order) that has parameters of its
    own, the final classifier that Brock et al. (2021b, Sec. 4.1) leave unclipped; ``clipped``
    holds the others, in ``model.parameters()`` order."""
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    owners = [m for m in model.modules() if any(True for _ in m.parameters(recurse=False))]
    if not owners:
        raise ValueError(f"model ({type(model).__name__}) has no parameters")
    last = {id(p) for p in owners[-1].parameters(recurse=False)}
    params = list(model.parameters())
    return [p for p in params if id(p) not in last], [p for p in params if id(p) in last]


def adaptive_clip_grad_(parameters: Tensors, clipping: float = 0.01, eps: float = 1e-3) -> None:
    """:func:`adaptive_clip` on the ``.grad`` of ``parameters``, in place."""
    import torch

    params = [p for p in _tensor_list("parameters", parameters) if p.grad is not None]
    clipped = adaptive_clip([p.grad for p in params], params, clipping, eps)
    with torch.no_grad():
        for p, g in zip(params, clipped):
            p.grad.copy_(g)
