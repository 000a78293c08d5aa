"""Chapter 5 solutions in PyTorch: the pre-activation block and ReZero."""

import torch
from torch import nn


class PreActBlock(nn.Module):
    """x + conv2(relu(bn2(conv1(relu(bn1(x)))))): BN and ReLU before each conv, nothing after the add."""

    def __init__(self, channels: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)

    def forward(self, x):
        out = self.conv1(self.bn1(x).relu())
        out = self.conv2(self.bn2(out).relu())
        return x + out


class ReZero(nn.Module):
    """x + alpha * sublayer(x), with one trainable scalar alpha that starts at 0."""

    def __init__(self, sublayer: nn.Module):
        super().__init__()
        self.sublayer = sublayer
        self.alpha = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x + self.alpha * self.sublayer(x)


def filter_normalize(direction: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Li et al.'s filter normalization: each filter d_i of the direction rescaled to ||w_i||.

    A PyTorch weight is (out, in, kh, kw) or (out, in): filter i is ``weight[i]``.
    """
    dims = tuple(range(1, weight.dim()))
    d_norm = torch.linalg.vector_norm(direction, dim=dims, keepdim=True)
    w_norm = torch.linalg.vector_norm(weight, dim=dims, keepdim=True)
    return direction / (d_norm + 1e-10) * w_norm


def path_block(x: torch.Tensor, branch: nn.Module, through_branch: bool) -> torch.Tensor:
    """x + branch(x) in the forward pass; backward only through the branch, or only the shortcut."""
    if through_branch:
        return x.detach() + branch(x)
    return x + branch(x).detach()
