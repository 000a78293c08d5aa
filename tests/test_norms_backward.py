"""The closed-form backward pass of godeep.norms' standardization step (norms.common._Standardize)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from godeep import norms

SHAPE = (6, 4, 3, 3)


def _inputs(dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(SHAPE, generator=g, dtype=dtype, requires_grad=True)
    w = (torch.rand(4, generator=g, dtype=dtype) + 0.5).requires_grad_()
    b = torch.randn(4, generator=g, dtype=dtype, requires_grad=True)
    return x, w, b


CALLS = {
    "batch": (lambda m, x, w, b: m.batch_norm(x, None, None, w, b, True)),
    "group": (lambda m, x, w, b: m.group_norm(x, 2, w, b)),
    "instance": (lambda m, x, w, b: m.instance_norm(x, None, None, w, b)),
    "layer": (lambda m, x, w, b: m.layer_norm(x, (3, 3))),
}


@pytest.mark.parametrize("kind", CALLS)
def test_gradients_pass_gradcheck(kind):
    call = CALLS[kind]
    assert torch.autograd.gradcheck(lambda x, w, b: call(norms, x, w, b), _inputs(torch.float64))


@pytest.mark.parametrize("kind", CALLS)
def test_gradients_match_torch_kernels(kind):
    call = CALLS[kind]
    dy = torch.randn(SHAPE, generator=torch.Generator().manual_seed(1))
    grads = []
    for module in (norms, F):
        x, w, b = _inputs(torch.float32)
        (call(module, x, w, b) * dy).sum().backward()
        grads.append([t.grad for t in (x, w, b) if t.grad is not None])
    for ours, theirs in zip(*grads):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_a_second_derivative_is_refused():
    x, w, b = _inputs(torch.float64)
    (gx,) = torch.autograd.grad((norms.group_norm(x, 2, w, b) ** 3).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable|differentiate twice"):
        gx.sum().backward()
