"""The normalization layers: ``torch.nn``'s parameters and buffers (same names, so
``state_dict`` s can be exchanged) around the functions of :mod:`godeep.norms`."""

from __future__ import annotations

import numbers
from typing import Optional, Sequence, Union

import torch
from torch import Tensor, nn

from .. import validate
from .batch import batch_norm, ghost_batch_norm
from .per_example import group_norm, instance_norm, layer_norm

__all__ = ["BatchNorm", "LayerNorm", "GroupNorm", "InstanceNorm", "GhostBatchNorm"]


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
