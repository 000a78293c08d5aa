"""Highway layers (Srivastava et al., 2015): a learned gate between a transform and the identity.

A highway layer computes

    y = T(x) * H(x) + (1 - T(x)) * x,      T(x) = sigmoid(W_T x + b_T),  H(x) = relu(W_H x + b_H)   (1)

elementwise, with input and output of the same width. The *transform gate* ``T`` decides, per
unit and per example, how much of the new value ``H(x)`` replaces the carried input ``x``.
The paper starts the gates nearly closed with a negative bias ``b_T`` (-1 to -3 in its
experiments), so that a deep stack of highway layers begins close to the identity and a
gradient passes through the carry path ``(1 - T) x``. A ResNet block ``x + F(x)`` is what is
left when the gate is taken away: the carry is always fully open and the transform always added.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import validate

__all__ = ["Highway", "highway_net"]


class Highway(nn.Module):
    """One highway layer of width ``features``, Eq. (1); ``gate_bias`` initialises ``b_T``.

    ``transform`` is the plain layer ``H`` (``nn.Linear``), ``gate`` the gate's ``nn.Linear``;
    both keep PyTorch's default initialisation except ``gate.bias``, set to ``gate_bias``.
    """

    def __init__(self, features: int, gate_bias: float = -1.0):
        super().__init__()
        self.features = validate.positive_int("features", features)
        self.gate_bias = validate.number("gate_bias", gate_bias)
        self.transform = nn.Linear(self.features, self.features)
        self.gate = nn.Linear(self.features, self.features)
        with torch.no_grad():
            self.gate.bias.fill_(self.gate_bias)

    def transform_gate(self, x: torch.Tensor) -> torch.Tensor:
        """``T(x) = sigmoid(W_T x + b_T)``, in (0, 1): the fraction of ``H(x)`` let through."""
        return torch.sigmoid(self.gate(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() < 1 or x.shape[-1] != self.features:
            raise ValueError(f"expected inputs (..., {self.features}), got shape {tuple(x.shape)}")
        t = self.transform_gate(x)
        return t * torch.relu(self.transform(x)) + (1.0 - t) * x

    def extra_repr(self) -> str:
        return f"features={self.features}, gate_bias={self.gate_bias}"


def highway_net(
    in_features: int, width: int, depth: int, num_classes: int, gate_bias: float = -1.0
) -> nn.Sequential:
    """A fully connected highway network: ``Linear(in, width) + ReLU``, ``depth`` highway layers
    of ``width`` units, a linear classifier (the layout of the paper's Fig. 1 experiments)."""
    in_features = validate.positive_int("in_features", in_features)
    width = validate.positive_int("width", width)
    depth = validate.positive_int("depth", depth)
    num_classes = validate.positive_int("num_classes", num_classes)
    return nn.Sequential(
        nn.Linear(in_features, width),
        nn.ReLU(),
        *[Highway(width, gate_bias) for _ in range(depth)],
        nn.Linear(width, num_classes),
    )
