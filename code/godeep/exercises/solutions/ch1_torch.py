"""Chapter 1 solutions in PyTorch: measuring signals and gradients layer by layer."""

import torch
from torch import nn

ACTIVATIONS = (nn.Tanh, nn.ReLU, nn.Sigmoid)


def activation_stds(model: nn.Module, x: torch.Tensor) -> list[float]:
    """Std of every activation layer's output on ``x``, first to last (forward hooks)."""
    stds: list[float] = []

    def record(module, inputs, output):
        stds.append(output.std().item())

    hooks = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, ACTIVATIONS)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return stds


def weight_grad_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """||dL/dW_l||_F of every nn.Linear weight, first to last, for L = mean((model(x) - y)^2)."""
    model.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    return [m.weight.grad.norm().item() for m in model.modules() if isinstance(m, nn.Linear)]


def tanh_saturation(h: torch.Tensor) -> float:
    """Fraction of tanh outputs ``h`` whose slope 1 - h^2 is below 0.05."""
    h = torch.as_tensor(h)
    return (1 - h**2 < 0.05).double().mean().item()
