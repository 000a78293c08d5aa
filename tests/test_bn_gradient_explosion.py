"""The gradient explosion of batch-normalized plain nets that section 5.1 derives.

For x_{l+1} = W relu(BN(x_l)) at initialization, the gradient's standard deviation grows by
sqrt(E[relu'(z)^2] / Var[relu(z)]) = sqrt(pi / (pi - 1)) ~ 1.211 per layer going down, whatever
the weights' scale, and by 1 for a linear activation (Yang et al. 2019).
"""

import math

import numpy as np
import pytest
import torch

import godeep
from godeep import resmlp, signals

RELU_FACTOR = math.sqrt(math.pi / (math.pi - 1))


def _backward_factor(activation: str, weight_var: float, seed: int = 0, depth: int = 30) -> float:
    """Geometric-mean factor by which std(dE/dx_l) grows per block going down."""
    godeep.seed_everything(seed)
    model = resmlp.residual_mlp(
        32,
        128,
        depth,
        10,
        plain=True,
        batch_norm=True,
        init=lambda w: torch.nn.init.normal_(w, 0.0, math.sqrt(weight_var / w.shape[1])),
    )
    if activation == "linear":
        for block in resmlp.blocks(model).values():
            block.act = torch.nn.Identity()
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(128, 32, generator=gen)
    y = torch.randint(0, 10, (128,), generator=gen)
    grad = signals.record(model, x, y, layers=list(resmlp.blocks(model))).column("grad_std")
    return float(np.exp(-np.mean(np.diff(np.log(grad)))))


@pytest.mark.parametrize("weight_var", [1.0, 2.0])
def test_relu_bn_plain_net_explodes_at_the_predicted_rate(weight_var):
    assert _backward_factor("relu", weight_var) == pytest.approx(RELU_FACTOR, rel=0.03)


def test_weight_scale_does_not_change_the_rate():
    assert _backward_factor("relu", 1.0) == pytest.approx(_backward_factor("relu", 4.0), rel=0.005)


def test_linear_bn_plain_net_does_not_explode():
    assert _backward_factor("linear", 1.0) == pytest.approx(1.0, abs=0.03)
