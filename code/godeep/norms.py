"""Normalization modules from their definition (PyTorch): BatchNorm, LayerNorm, InstanceNorm, GroupNorm.

Every variant follows one recipe. Over a *support set* S of entries of the input,

    mu = 1/|S| sum_{i in S} x_i,    sigma^2 = 1/|S| sum_{i in S} (x_i - mu)^2,
    x_hat = (x - mu) / sqrt(sigma^2 + eps),    y = gamma * x_hat + beta,

and the variants differ only in S (for an NCHW tensor): BatchNorm (N, H, W) per channel,
LayerNorm (C, H, W) per example, InstanceNorm (H, W) per example and channel, GroupNorm
(C/G channels, H, W) per example and group. :data:`SUPPORT` writes each as an einsum.

The functions :func:`batch_norm`, :func:`layer_norm`, :func:`group_norm` and
:func:`instance_norm` have exactly the signatures and semantics of their
``torch.nn.functional`` namesakes (so one can be swapped for the other) but are written with
means and variances only: they never call PyTorch's normalization kernels. The modules
:class:`BatchNorm`, :class:`LayerNorm`, :class:`GroupNorm`, :class:`InstanceNorm` wrap them
with the parameters and buffers of ``torch.nn``'s layers (same names, so ``state_dict`` s can be
exchanged), and :class:`GhostBatchNorm` normalizes over sub-batches ("ghost batches").
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Callable, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from . import validate

__all__ = [
    "SUPPORT",
    "moments",
    "batch_norm",
    "layer_norm",
    "group_norm",
    "instance_norm",
    "ghost_batch_norm",
    "BatchNorm",
    "LayerNorm",
    "GroupNorm",
    "InstanceNorm",
    "GhostBatchNorm",
]

#: The support set of each variant as an einsum that *sums* an NCHW tensor over it (GroupNorm
#: on the tensor reshaped to (N, G, C/G, H, W)). The indices left on the right-hand side are
#: the ones that get their own mean and variance.
SUPPORT = {
    "batch": "nchw->c",  # one statistic per channel, over examples and pixels
    "layer": "nchw->n",  # one per example, over channels and pixels (LN in a ConvNet)
    "layer-token": "ntc->nt",  # one per token of a (N, T, C) sequence (LN in a Transformer)
    "instance": "nchw->nc",  # one per example and channel, over pixels
    "group": "ngchw->ng",  # one per example and group of C/G channels
}


def moments(x: Tensor, kind: str, num_groups: Optional[int] = None) -> tuple[Tensor, Tensor]:
    """Mean and biased variance of ``x`` over the support set of ``kind`` (a key of :data:`SUPPORT`), by einsum.

    ``x`` is NCHW (``(N, T, C)`` for ``"layer-token"``); ``num_groups`` is needed for ``"group"``.
    Returns tensors indexed by the kept indices, e.g. shape ``(C,)`` for ``"batch"``::

        mu = einsum(spec, x) / |S|,    sigma^2 = einsum(spec, (x - mu)^2) / |S|
    """
    if kind not in SUPPORT:
        raise ValueError(f"kind must be one of {tuple(SUPPORT)}, got {kind!r}")
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    spec = SUPPORT[kind]
    dims = 3 if kind == "layer-token" else 4
    if x.dim() != dims:
        raise ValueError(f"kind {kind!r} expects a {dims}-D tensor, got shape {tuple(x.shape)}")
    if kind == "group":
        if num_groups is None or x.shape[1] % num_groups:
            raise ValueError(f"num_groups must divide the {x.shape[1]} channels, got {num_groups}")
        x = x.reshape(x.shape[0], num_groups, x.shape[1] // num_groups, *x.shape[2:])
    lhs, rhs = spec.split("->")
    count = math.prod(size for index, size in zip(lhs, x.shape) if index not in rhs)
    mean = torch.einsum(spec, x) / count
    # broadcast the mean back over the support set: rhs -> lhs
    expand = mean.reshape([size if index in rhs else 1 for index, size in zip(lhs, x.shape)])
    var = torch.einsum(spec, (x - expand) ** 2) / count
    return mean, var


# ------------------------------------------------------------------------------- checks


def _check_tensor(name: str, t: Optional[Tensor], shape: Sequence[int], input: Tensor, same_dtype: bool = True) -> None:
    if t is None:
        return
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or None, got {type(t).__name__}")
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} to match input of shape {tuple(input.shape)}, got {tuple(t.shape)}")
    # as torch on the CPU: one dtype for all, except float32 parameters of a half/bfloat16 input
    low_precision = input.dtype in (torch.float16, torch.bfloat16) and t.dtype == torch.float32
    if same_dtype and t.dtype != input.dtype and not low_precision:
        raise TypeError(f"{name} must have the input's dtype {input.dtype}, got {t.dtype}")


def _check_scalars(momentum: object, eps: object) -> None:
    """``momentum`` a number in [0, 1] (the functions keep no batch count, so no None) and ``eps >= 0``."""
    if momentum is None:
        raise TypeError(
            "momentum must be a float in [0, 1], got None (as in torch.nn.functional; the modules' "
            "momentum=None, a cumulative moving average, needs their batch count)"
        )
    validate.number("momentum", momentum, 0.0, 1.0)
    validate.number("eps", eps, low=0.0)


def _check_input(input: Tensor, min_dim: int, what: str) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    if not input.is_floating_point():
        raise TypeError(f"input must be a floating-point tensor, got {input.dtype}")
    if input.dim() < min_dim:
        raise ValueError(f"{what} expects an input of shape {'(N, C, ...)' if min_dim == 2 else '(N, ...)'} with at least {min_dim} dimensions, got shape {tuple(input.shape)}")


def _affine(x_hat: Tensor, weight: Optional[Tensor], bias: Optional[Tensor], shape: Sequence[int]) -> Tensor:
    """y = gamma * x_hat + beta, with gamma and beta reshaped to broadcast as ``shape``."""
    if weight is not None:
        x_hat = x_hat * weight.reshape(shape)
    if bias is not None:
        x_hat = x_hat + bias.reshape(shape)
    return x_hat


def _normalize(x: Tensor, dims: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """(x - mu) / sqrt(sigma^2 + eps) over ``dims``; also returns mu and the biased sigma^2 (kept dims)."""
    mean = x.mean(dim=dims, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)  # biased: divide by |S|
    return (x - mean) / torch.sqrt(var + eps), mean, var


# ------------------------------------------------------------------------------- functions


def batch_norm(
    input: Tensor,
    running_mean: Optional[Tensor],
    running_var: Optional[Tensor],
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalization of an ``(N, C, *)`` input, as ``torch.nn.functional.batch_norm``.

    Training: statistics per channel c over the support set S = (N, *), m = |S| values,

        mu_c = mean_S x,   sigma_c^2 = mean_S (x - mu_c)^2,   y = gamma_c (x - mu_c) / sqrt(sigma_c^2 + eps) + beta_c

    and, if running statistics are given, they are updated *in place*, with the **unbiased**
    variance (m / (m - 1) sigma^2):

        running_mean <- (1 - momentum) running_mean + momentum mu
        running_var  <- (1 - momentum) running_var  + momentum m / (m - 1) sigma^2

    Inference (``training=False``): the running statistics replace mu and sigma^2.
    """
    _check_input(input, 2, "batch_norm")
    C = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        _check_tensor(name, t, (C,), input)
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must both be tensors or both be None")
    shape = (1, C) + (1,) * (input.dim() - 2)
    if training:
        m = input.numel() // C
        if m <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input of shape {tuple(input.shape)}")
        dims = (0,) + tuple(range(2, input.dim()))
        x_hat, mean, var = _normalize(input, dims, eps)
        if running_mean is not None:
            with torch.no_grad():
                running_mean.mul_(1 - momentum).add_(momentum * mean.reshape(C).to(running_mean.dtype))
                running_var.mul_(1 - momentum).add_(momentum * (var.reshape(C) * m / (m - 1)).to(running_var.dtype))
    else:
        if running_mean is None:
            raise ValueError("batch_norm: running_mean and running_var are required when training=False")
        x_hat = (input - running_mean.reshape(shape)) / torch.sqrt(running_var.reshape(shape) + eps)
    return _affine(x_hat, weight, bias, shape)


def layer_norm(
    input: Tensor,
    normalized_shape: Union[int, Sequence[int]],
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalization over the last ``len(normalized_shape)`` dimensions, as ``torch.nn.functional.layer_norm``.

    For each position of the leading dimensions, with S the trailing ``normalized_shape`` block:
    ``y = gamma (x - mean_S x) / sqrt(var_S x + eps) + beta``, gamma and beta of shape
    ``normalized_shape`` (one per element, not per channel). The same computation at training
    and inference time: there are no running statistics.
    """
    _check_input(input, 1, "layer_norm")
    validate.number("eps", eps, low=0.0)
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    normalized_shape = validate.positive_ints("normalized_shape", normalized_shape)
    k = len(normalized_shape)
    if k == 0 or k > input.dim() or tuple(input.shape[-k:]) != normalized_shape:
        raise ValueError(f"layer_norm: normalized_shape {normalized_shape} must equal the last dimensions of input of shape {tuple(input.shape)}")
    _check_tensor("weight", weight, normalized_shape, input)
    _check_tensor("bias", bias, normalized_shape, input)
    x_hat, _, _ = _normalize(input, tuple(range(input.dim() - k, input.dim())), eps)
    return _affine(x_hat, weight, bias, normalized_shape)


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    eps: float = 1e-5,
) -> Tensor:
    """Group normalization of an ``(N, C, *)`` input, as ``torch.nn.functional.group_norm``.

    The C channels are split into G = ``num_groups`` groups of C/G consecutive channels; for each
    example n and group g, S = (C/G channels, *): ``y = gamma_c (x - mu_ng) / sqrt(sigma_ng^2 + eps) + beta_c``.
    G = 1 is LayerNorm over (C, *) with per-channel affine; G = C is InstanceNorm.
    """
    _check_input(input, 2, "group_norm")
    if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups < 1:
        raise ValueError(f"group_norm: num_groups must be a positive int, got {num_groups!r}")
    N, C = input.shape[:2]
    if C % num_groups:
        raise ValueError(f"group_norm: the number of channels {C} must be divisible by num_groups={num_groups}")
    _check_tensor("weight", weight, (C,), input)
    _check_tensor("bias", bias, (C,), input)
    grouped = input.reshape(N, num_groups, -1)  # (N, G, C/G * prod(*))
    x_hat, _, _ = _normalize(grouped, (2,), eps)
    return _affine(x_hat.reshape(input.shape), weight, bias, (1, C) + (1,) * (input.dim() - 2))


# The two definitions above are printed in Chapter 3 and stay the equations. What they do not
# show is added around them here: scalar arguments checked, and an empty batch (N = 0) answered
# with an empty tensor, as torch.nn.functional does (inspect.getsource still shows the definition).


def _empty_batch(input: Tensor, what: str, tensors: dict, weight: Optional[Tensor], bias: Optional[Tensor]) -> Tensor:
    """The (empty) output for an input with no elements, after the definition's own checks."""
    _check_input(input, 2, what)
    C = input.shape[1]
    for name, t in tensors.items():
        _check_tensor(name, t, (C,), input)
    return _affine(input.clone(), weight, bias, (1, C) + (1,) * (input.dim() - 2))


def _with_batch_norm_contract(definition: Callable) -> Callable:
    @functools.wraps(definition)
    def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
        _check_scalars(momentum, eps)
        if training and isinstance(input, Tensor) and input.dim() >= 2 and input.numel() == 0:
            if (running_mean is None) != (running_var is None):
                raise ValueError("running_mean and running_var must both be tensors or both be None")
            tensors = {"running_mean": running_mean, "running_var": running_var, "weight": weight, "bias": bias}
            return _empty_batch(input, "batch_norm", tensors, weight, bias)  # running statistics untouched
        return definition(input, running_mean, running_var, weight, bias, training, momentum, eps)

    return batch_norm


def _with_group_norm_contract(definition: Callable) -> Callable:
    @functools.wraps(definition)
    def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
        validate.number("eps", eps, low=0.0)
        if isinstance(input, Tensor) and input.dim() >= 2 and input.numel() == 0:
            if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups < 1:
                raise ValueError(f"group_norm: num_groups must be a positive int, got {num_groups!r}")
            if input.shape[1] % num_groups:
                raise ValueError(f"group_norm: the number of channels {input.shape[1]} must be divisible by num_groups={num_groups}")
            return _empty_batch(input, "group_norm", {"weight": weight, "bias": bias}, weight, bias)
        return definition(input, num_groups, weight, bias, eps)

    return group_norm


batch_norm = _with_batch_norm_contract(batch_norm)
group_norm = _with_group_norm_contract(group_norm)


def instance_norm(
    input: Tensor,
    running_mean: Optional[Tensor] = None,
    running_var: Optional[Tensor] = None,
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Instance normalization of an ``(N, C, *)`` input, as ``torch.nn.functional.instance_norm``.

    For each example n and channel c, S = (*) (the spatial positions, m of them):
    ``y = gamma_c (x - mu_nc) / sqrt(sigma_nc^2 + eps) + beta_c``. With ``use_input_stats`` and
    running statistics given, they are updated in place like :func:`batch_norm`'s, with the
    per-instance means and unbiased variances averaged over the batch. With
    ``use_input_stats=False`` the running statistics are used instead.

    One deliberate difference from torch: an empty batch (N = 0) leaves the running statistics
    alone, where ``torch.nn.functional.instance_norm`` sets them to NaN (the mean of no means).
    """
    _check_input(input, 3, "instance_norm")
    _check_scalars(momentum, eps)
    C = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        _check_tensor(name, t, (C,), input, same_dtype=name in ("weight", "bias"))  # torch casts the stats
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must both be tensors or both be None")
    shape = (1, C) + (1,) * (input.dim() - 2)
    if use_input_stats:
        m = math.prod(input.shape[2:])
        if m <= 1:
            raise ValueError(f"instance_norm: expected more than 1 spatial element when training, got input of shape {tuple(input.shape)}")
        x_hat, mean, var = _normalize(input, tuple(range(2, input.dim())), eps)
        if running_mean is not None and input.shape[0] > 0:  # torch would average N = 0 means into NaN
            with torch.no_grad():
                batch_mean = mean.reshape(input.shape[0], C).mean(0)
                batch_var = (var.reshape(input.shape[0], C) * m / (m - 1)).mean(0)
                running_mean.mul_(1 - momentum).add_(momentum * batch_mean.to(running_mean.dtype))
                running_var.mul_(1 - momentum).add_(momentum * batch_var.to(running_var.dtype))
    else:
        if running_mean is None:
            raise ValueError("instance_norm: running_mean and running_var are required when use_input_stats=False")
        x_hat = (input - running_mean.reshape(shape)) / torch.sqrt(running_var.reshape(shape) + eps)
    return _affine(x_hat, weight, bias, shape)


def ghost_batch_norm(
    input: Tensor,
    virtual_batch_size: int,
    running_mean: Optional[Tensor],
    running_var: Optional[Tensor],
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """BatchNorm whose training statistics come from "ghost" sub-batches of ``virtual_batch_size`` examples.

    The batch of N examples is cut into consecutive chunks of ``virtual_batch_size`` (the last
    may be smaller); each chunk is normalized by :func:`batch_norm` with its own statistics, as if
    it were the whole batch. The running statistics get one update per chunk, in order. At
    inference it is plain :func:`batch_norm`. This lets one experiment vary the *normalization*
    batch size while the gradient-step batch, and thus the compute, stay the same.
    """
    if isinstance(virtual_batch_size, bool) or not isinstance(virtual_batch_size, int) or virtual_batch_size < 1:
        raise ValueError(f"virtual_batch_size must be a positive int, got {virtual_batch_size!r}")
    _check_input(input, 2, "ghost_batch_norm")
    if not training or len(input) == 0:
        return batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    chunks = torch.split(input, virtual_batch_size, dim=0)
    return torch.cat([batch_norm(c, running_mean, running_var, weight, bias, True, momentum, eps) for c in chunks], dim=0)


# ------------------------------------------------------------------------------- modules


class _RunningStatsNorm(nn.Module):
    """Parameters and buffers shared by :class:`BatchNorm` and :class:`InstanceNorm` (as in ``torch.nn``)."""

    def __init__(self, num_features: int, eps: float, momentum: Optional[float], affine: bool, track_running_stats: bool) -> None:
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"num_features must be a positive int, got {num_features!r}")
        if momentum is not None:
            validate.number("momentum", momentum, 0.0, 1.0)
        validate.number("eps", eps, low=0.0, low_open=True)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def _factor(self) -> float:
        """The weight of the new batch: ``momentum``, or 1/t (a cumulative average) if momentum is None."""
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                return 1.0 / float(self.num_batches_tracked)
        return 0.0 if self.momentum is None else self.momentum

    def _check_channels(self, x: Tensor) -> None:
        if x.dim() < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}) expects input of shape (N, {self.num_features}, ...), got {tuple(x.shape)}")

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, track_running_stats={self.track_running_stats}"


class BatchNorm(_RunningStatsNorm):
    """BatchNorm for ``(N, C)``, ``(N, C, L)`` or ``(N, C, H, W)`` inputs: ``nn.BatchNorm1d/2d`` in one class.

    In training mode (``model.train()``) it normalizes with the batch's statistics and updates
    the running ones; in eval mode (``model.eval()``) it uses the running ones (if tracked).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Optional[float] = 0.1, affine: bool = True, track_running_stats: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats)

    def forward(self, x: Tensor) -> Tensor:
        self._check_channels(x)
        factor = self._factor()
        use_batch = self.training or self.running_mean is None
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_batch, factor, self.eps)


class GhostBatchNorm(BatchNorm):
    """:class:`BatchNorm` normalizing over sub-batches of ``virtual_batch_size`` in training (see :func:`ghost_batch_norm`)."""

    def __init__(self, num_features: int, virtual_batch_size: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, True)
        if isinstance(virtual_batch_size, bool) or not isinstance(virtual_batch_size, int) or virtual_batch_size < 2:
            raise ValueError(f"virtual_batch_size must be an int >= 2, got {virtual_batch_size!r}")
        self.virtual_batch_size = virtual_batch_size

    def forward(self, x: Tensor) -> Tensor:
        self._check_channels(x)
        factor = self._factor()
        return ghost_batch_norm(x, self.virtual_batch_size, self.running_mean, self.running_var, self.weight, self.bias, self.training, factor, self.eps)


class InstanceNorm(_RunningStatsNorm):
    """InstanceNorm for ``(N, C, L)`` or ``(N, C, H, W)`` inputs, as ``nn.InstanceNorm1d/2d`` (no affine, no running stats by default)."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Optional[float] = 0.1, affine: bool = False, track_running_stats: bool = False) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats)

    def _factor(self) -> float:
        return 0.0 if self.momentum is None else self.momentum  # torch.nn.InstanceNorm never counts batches

    def forward(self, x: Tensor) -> Tensor:
        self._check_channels(x)
        factor = self._factor()
        return instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                             self.training or not self.track_running_stats, factor, self.eps)


class LayerNorm(nn.Module):
    """LayerNorm over the trailing ``normalized_shape``, as ``nn.LayerNorm`` (elementwise affine)."""

    def __init__(self, normalized_shape: Union[int, Sequence[int]], eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True) -> None:
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = validate.positive_ints("normalized_shape", normalized_shape)
        if not self.normalized_shape:
            raise ValueError(f"normalized_shape must be positive sizes, got {normalized_shape!r}")
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.weight = nn.Parameter(torch.ones(self.normalized_shape)) if elementwise_affine else None
        self.bias = nn.Parameter(torch.zeros(self.normalized_shape)) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(nn.Module):
    """GroupNorm with ``num_groups`` groups of ``num_channels`` channels, as ``nn.GroupNorm`` (per-channel affine)."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True) -> None:
        super().__init__()
        if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups < 1:
            raise ValueError(f"num_groups must be a positive int, got {num_groups!r}")
        validate.positive_int("num_channels", num_channels)
        if num_channels % num_groups:
            raise ValueError(f"num_channels={num_channels} must be divisible by num_groups={num_groups}")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.weight = nn.Parameter(torch.ones(num_channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_channels)) if affine else None

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm expects input of shape (N, {self.num_channels}, ...), got {tuple(x.shape)}")
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
