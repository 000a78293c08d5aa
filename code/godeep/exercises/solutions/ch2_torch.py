"""Chapter 2 solutions in PyTorch: initializers written from their definitions."""

import math

import torch
from torch import nn


def orthogonal(rows: int, cols: int, gain: float = 1.0) -> torch.Tensor:
    """A random (rows, cols) matrix with orthonormal rows or columns, times ``gain`` (QR of a Gaussian)."""
    q, r = torch.linalg.qr(torch.randn(max(rows, cols), min(rows, cols)))
    q = q * torch.sign(torch.diagonal(r))  # fix QR's sign choice: uniformly distributed Q
    return gain * (q.T if rows < cols else q)


def he_normal_init(model: nn.Module) -> None:
    """Every nn.Linear: weight ~ N(0, 2 / fan_in), bias = 0 (in place). fan_in = weight.shape[1]."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.weight.normal_(0.0, math.sqrt(2.0 / m.weight.shape[1]))
                if m.bias is not None:
                    m.bias.zero_()


def kaiming_uniform_(tensor: torch.Tensor) -> torch.Tensor:
    """He uniform for a ReLU, in place: U(-b, b), b = sqrt(6 / fan_in), fan_in = in_channels * kernel size."""
    fan_in = tensor.shape[1] * math.prod(tensor.shape[2:])
    bound = math.sqrt(6.0 / fan_in)
    with torch.no_grad():
        return tensor.uniform_(-bound, bound)
