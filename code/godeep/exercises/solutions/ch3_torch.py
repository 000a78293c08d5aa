"""Chapter 3 solutions in PyTorch: normalization by hand, and evaluating a BN network."""

import torch


def group_norm(x: torch.Tensor, num_groups: int, eps: float = 1e-5) -> torch.Tensor:
    """GroupNorm of an NCHW tensor (no affine): mean and variance over each support set S_(n,g) by einsum."""
    n, c, h, w = x.shape
    g = x.reshape(n, num_groups, c // num_groups, h, w)
    count = c // num_groups * h * w
    mean = torch.einsum("ngchw->ng", g) / count
    centred = g - mean[:, :, None, None, None]
    var = torch.einsum("ngchw,ngchw->ng", centred, centred) / count
    return (centred / torch.sqrt(var[:, :, None, None, None] + eps)).reshape(n, c, h, w)


def bn_backward(dy: torch.Tensor, x: torch.Tensor, gamma: torch.Tensor, eps: float = 1e-5):
    """(dx, dgamma, dbeta) of y = gamma * x_hat + beta over a (N, D) batch, without autograd.

    dx = gamma / sqrt(var + eps) * (dy - mean_n dy - x_hat * mean_n(dy * x_hat)).
    """
    mu = x.mean(0)
    var = x.var(0, unbiased=False)
    x_hat = (x - mu) / torch.sqrt(var + eps)
    dbeta = dy.sum(0)
    dgamma = (dy * x_hat).sum(0)
    dx = gamma / torch.sqrt(var + eps) * (dy - dy.mean(0) - x_hat * (dy * x_hat).mean(0))
    return dx, dgamma, dbeta


def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy in inference mode (BN uses its running statistics), leaving the model's mode as it was."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).double().mean().item()
    model.train(was_training)
    return accuracy


class ConvBNReLU(torch.nn.Module):
    """relu(bn(conv(x))): a 3x3 convolution without bias, then BN, then ReLU (NCHW)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = torch.nn.BatchNorm2d(channels)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))
