"""A pytest plugin (register with ``pytest_plugins = ["fixtures_bn"]``): BatchNorm layers with
non-trivial statistics and affine parameters, so that a parity test cannot pass by accident on
BN's identity initialization (gamma 1, beta 0, mean 0, variance 1)."""

import pytest
import torch


def randomize_bn(
    model: torch.nn.Module, mean: float = 0.3, var: tuple = (0.5, 2.0)
) -> torch.nn.Module:
    """Draw every BN's gamma in [0.5, 1.5], beta in [-0.2, 0.2], running mean in [-mean, mean] and
    running variance in ``var`` (from torch's global generator: seed it first); returns ``model``."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                if m.affine:
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
                if m.track_running_stats:
                    m.running_mean.uniform_(-mean, mean)
                    m.running_var.uniform_(*var)
    return model


@pytest.fixture(name="randomize_bn")
def randomize_bn_fixture():
    """:func:`randomize_bn`, as a fixture."""
    return randomize_bn
