"""Stochastic depth (Huang et al., 2016): drop whole residual branches while training.

A residual block ``y = x + F(x)`` trained with stochastic depth computes

    y = x + b * F(x) / (1 - p),        b ~ Bernoulli(1 - p)                       (1)

in training (``b`` drawn per example: mode ``"row"``, or once for the batch: ``"batch"``), and
``y = x + F(x)`` at test time. Dividing by the survival rate ``1 - p`` keeps the expected branch
output equal to ``F(x)`` (the "inverted" form of the paper's test-time scaling ``(1 - p) F(x)``,
as in dropout), so the trained weights are used unchanged at test time.

:func:`stochastic_depth` has ``torchvision.ops.stochastic_depth``'s signature and semantics
(the ``p`` is the probability of *dropping*; ``p = 1`` drops always and returns zeros), and
:class:`StochasticDepth` is the module, like ``torchvision.ops.StochasticDepth``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..core.residual import STOCHASTIC_DEPTH_MODES, check_stochastic_depth

__all__ = ["stochastic_depth", "StochasticDepth", "STOCHASTIC_DEPTH_MODES"]


def stochastic_depth(
    input: torch.Tensor, p: float, mode: str, training: bool = True
) -> torch.Tensor:
    """Zero the rows (``mode="row"``) or the whole ``input`` (``"batch"``) with probability ``p``
    and scale what survives by ``1 / (1 - p)``; Eq. (1). Identity when not training or ``p == 0``.

    ``input``: ``(N, ...)``, a batch of ``N`` rows (a residual branch's output).
    """
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    p = check_stochastic_depth(p, mode)
    if not training or p == 0.0:
        return input
    if input.dim() == 0:
        raise ValueError("input must have a batch dimension, got a 0-d tensor")
    survival = 1.0 - p
    shape = (input.shape[0],) + (1,) * (input.dim() - 1) if mode == "row" else (1,) * input.dim()
    keep = torch.empty(shape, dtype=input.dtype, device=input.device).bernoulli_(survival)
    if survival > 0.0:
        keep.div_(survival)
    return input * keep


class StochasticDepth(nn.Module):
    """:func:`stochastic_depth` as a module: active in ``train()`` mode, the identity in ``eval()``."""

    def __init__(self, p: float, mode: str):
        super().__init__()
        self.p = check_stochastic_depth(p, mode)
        self.mode = mode

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return stochastic_depth(input, self.p, self.mode, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"
