"""godeep.norms (written from the definition) against torch.nn.functional and torch.nn.

Forward outputs, gradients (autograd), in-place running statistics, eval mode, float32 and
float64, 2-D / 3-D / 4-D inputs, and clear errors for bad input.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from godeep import norms

TOL = {torch.float64: dict(rtol=1e-10, atol=1e-10), torch.float32: dict(rtol=1e-4, atol=1e-5)}
SHAPES = {2: (8, 3), 3: (6, 4, 5), 4: (5, 4, 3, 3)}


def rand(shape, dtype, seed=0, requires_grad=True):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=dtype) * 2 + 0.5
    return x.requires_grad_(requires_grad)


def affine(C, dtype, seed=1):
    g = torch.Generator().manual_seed(seed)
    w = (1 + 0.3 * torch.randn(C, generator=g, dtype=dtype)).requires_grad_()
    b = (0.3 * torch.randn(C, generator=g, dtype=dtype)).requires_grad_()
    return w, b


def grads_match(ours, theirs, inputs, dtype):
    """Same output and same gradients of a random linear functional of the output."""
    torch.testing.assert_close(ours, theirs, **TOL[dtype])
    probe = torch.randn(ours.shape, generator=torch.Generator().manual_seed(3), dtype=dtype)
    g1 = torch.autograd.grad((ours * probe).sum(), inputs)
    g2 = torch.autograd.grad((theirs * probe).sum(), inputs)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("dims", [2, 3, 4])
def test_batch_norm_training_matches_functional(dims, dtype):
    x = rand(SHAPES[dims], dtype)
    C = x.shape[1]
    w, b = affine(C, dtype)
    rm1, rv1 = torch.randn(C, dtype=dtype), torch.rand(C, dtype=dtype) + 0.5
    rm2, rv2 = rm1.clone(), rv1.clone()
    ours = norms.batch_norm(x, rm1, rv1, w, b, training=True, momentum=0.3, eps=1e-4)
    theirs = F.batch_norm(x, rm2, rv2, w, b, training=True, momentum=0.3, eps=1e-4)
    grads_match(ours, theirs, (x, w, b), dtype)
    torch.testing.assert_close(rm1, rm2, **TOL[dtype])  # updated in place, unbiased variance stored
    torch.testing.assert_close(rv1, rv2, **TOL[dtype])
    assert not torch.equal(rm1, rm2 * 0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("dims", [2, 3, 4])
def test_batch_norm_inference_uses_running_stats(dims, dtype):
    x = rand(SHAPES[dims], dtype)
    C = x.shape[1]
    w, b = affine(C, dtype)
    rm, rv = torch.randn(C, dtype=dtype), torch.rand(C, dtype=dtype) + 0.5
    ours = norms.batch_norm(x, rm.clone(), rv.clone(), w, b, training=False)
    theirs = F.batch_norm(x, rm.clone(), rv.clone(), w, b, training=False)
    grads_match(ours, theirs, (x, w, b), dtype)


def test_batch_norm_stores_unbiased_variance():
    x = torch.tensor([[1.0], [2.0], [3.0], [6.0]], dtype=torch.float64)
    rm, rv = torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    norms.batch_norm(x, rm, rv, training=True, momentum=1.0)
    assert rm.item() == pytest.approx(3.0)
    assert rv.item() == pytest.approx(x.var(unbiased=True).item())  # 14/3, not the biased 3.5


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("dims", [2, 3, 4])
def test_layer_norm_matches_functional(dims, dtype):
    x = rand(SHAPES[dims], dtype)
    for k in range(1, dims):
        shape = tuple(x.shape[-k:])
        g = torch.Generator().manual_seed(k)
        w = (1 + 0.3 * torch.randn(shape, generator=g, dtype=dtype)).requires_grad_()
        b = (0.3 * torch.randn(shape, generator=g, dtype=dtype)).requires_grad_()
        grads_match(
            norms.layer_norm(x, shape, w, b), F.layer_norm(x, shape, w, b), (x, w, b), dtype
        )
        grads_match(norms.layer_norm(x, shape), F.layer_norm(x, shape), (x,), dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("dims", [2, 3, 4])
def test_group_norm_matches_functional(dims, dtype):
    shape = list(SHAPES[dims])
    shape[1] = 6
    x = rand(shape, dtype)
    w, b = affine(6, dtype)
    for G in (1, 2, 3, 6):
        grads_match(
            norms.group_norm(x, G, w, b, eps=1e-3),
            F.group_norm(x, G, w, b, eps=1e-3),
            (x, w, b),
            dtype,
        )


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("dims", [3, 4])
def test_instance_norm_matches_functional(dims, dtype):
    x = rand(SHAPES[dims], dtype)
    C = x.shape[1]
    w, b = affine(C, dtype)
    grads_match(
        norms.instance_norm(x, weight=w, bias=b),
        F.instance_norm(x, weight=w, bias=b),
        (x, w, b),
        dtype,
    )
    rm1, rv1 = torch.randn(C, dtype=dtype), torch.rand(C, dtype=dtype) + 0.5
    rm2, rv2 = rm1.clone(), rv1.clone()
    grads_match(
        norms.instance_norm(x, rm1, rv1, w, b, momentum=0.2),
        F.instance_norm(x, rm2, rv2, w, b, momentum=0.2),
        (x, w, b),
        dtype,
    )
    torch.testing.assert_close(rm1, rm2, **TOL[dtype])
    torch.testing.assert_close(rv1, rv2, **TOL[dtype])
    grads_match(
        norms.instance_norm(x, rm1, rv1, w, b, use_input_stats=False),
        F.instance_norm(x, rm2, rv2, w, b, use_input_stats=False),
        (x, w, b),
        dtype,
    )


def test_group_norm_spans_layer_and_instance_norm():
    x = rand((4, 6, 3, 3), torch.float64, requires_grad=False)
    torch.testing.assert_close(norms.group_norm(x, 1), norms.layer_norm(x, (6, 3, 3)))
    torch.testing.assert_close(norms.group_norm(x, 6), norms.instance_norm(x))


@pytest.mark.parametrize("kind", ["batch", "layer", "instance", "group"])
def test_einsum_moments_match_torch(kind):
    x = rand((5, 6, 3, 4), torch.float64, requires_grad=False)
    mean, var = norms.moments(x, kind, num_groups=3)
    dims = {"batch": (0, 2, 3), "layer": (1, 2, 3), "instance": (2, 3)}
    if kind == "group":
        ref = x.reshape(5, 3, -1)
        torch.testing.assert_close(mean, ref.mean(-1))
        torch.testing.assert_close(var, ref.var(-1, unbiased=False))
    else:
        torch.testing.assert_close(mean, x.mean(dims[kind]))
        torch.testing.assert_close(var, x.var(dims[kind], unbiased=False))
    tokens = rand((2, 7, 5), torch.float64, requires_grad=False)
    mean, var = norms.moments(tokens, "layer-token")
    torch.testing.assert_close(var, tokens.var(-1, unbiased=False))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_modules_match_torch_nn(dtype):
    torch.manual_seed(0)
    pairs = [
        (norms.BatchNorm(4, momentum=0.2), nn.BatchNorm2d(4, momentum=0.2), (6, 4, 3, 3)),
        (norms.BatchNorm(4), nn.BatchNorm1d(4), (6, 4)),
        (norms.BatchNorm(4, momentum=None), nn.BatchNorm1d(4, momentum=None), (6, 4, 5)),
        (
            norms.BatchNorm(4, track_running_stats=False),
            nn.BatchNorm2d(4, track_running_stats=False),
            (6, 4, 3, 3),
        ),
        (
            norms.InstanceNorm(4, affine=True, track_running_stats=True),
            nn.InstanceNorm2d(4, affine=True, track_running_stats=True),
            (6, 4, 3, 3),
        ),
        (norms.InstanceNorm(4), nn.InstanceNorm1d(4), (6, 4, 5)),
        (norms.LayerNorm((4, 3, 3)), nn.LayerNorm((4, 3, 3)), (6, 4, 3, 3)),
        (norms.GroupNorm(2, 4), nn.GroupNorm(2, 4), (6, 4, 3, 3)),
    ]
    for ours, theirs, shape in pairs:
        ours, theirs = ours.to(dtype), theirs.to(dtype)
        with torch.no_grad():  # non-trivial affine parameters, shared
            for p in theirs.parameters():
                p.add_(0.2 * torch.randn_like(p))
        ours.load_state_dict(theirs.state_dict())
        for step in range(3):  # training steps: outputs, gradients, running statistics
            x = rand(shape, dtype, seed=step)
            grads_match(ours(x), theirs(x), (x,), dtype)
        for (name, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
            torch.testing.assert_close(a, b, **TOL[dtype], msg=f"{type(ours).__name__}: {name}")
        ours.eval(), theirs.eval()
        x = rand(shape, dtype, seed=9)
        grads_match(ours(x), theirs(x), (x,), dtype)


def test_module_parameter_gradients_match():
    ours, theirs = norms.BatchNorm(3).double(), nn.BatchNorm2d(3).double()
    x = rand((4, 3, 2, 2), torch.float64)
    (ours(x) ** 3).sum().backward()
    (theirs(x) ** 3).sum().backward()
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad)
    torch.testing.assert_close(ours.bias.grad, theirs.bias.grad)


def test_ghost_batch_norm():
    x = rand((8, 3, 2, 2), torch.float64, requires_grad=False)
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    out = norms.ghost_batch_norm(x, 4, rm, rv, training=True)
    rm2, rv2 = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    first = F.batch_norm(x[:4], rm2, rv2, training=True)
    second = F.batch_norm(x[4:], rm2, rv2, training=True)
    torch.testing.assert_close(out, torch.cat([first, second]))
    torch.testing.assert_close(rm, rm2)
    torch.testing.assert_close(rv, rv2)
    # a ghost batch as large as the batch is plain BatchNorm
    torch.testing.assert_close(
        norms.ghost_batch_norm(x, 8, None, None, training=True),
        F.batch_norm(x, None, None, training=True),
    )
    module = norms.GhostBatchNorm(3, virtual_batch_size=2).double().eval()
    torch.testing.assert_close(module(x), F.batch_norm(x, module.running_mean, module.running_var))
    with pytest.raises(ValueError, match="virtual_batch_size"):
        norms.GhostBatchNorm(3, virtual_batch_size=1)


def test_bad_input_raises_clear_errors():
    x = torch.randn(4, 6, 3, 3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        norms.batch_norm(torch.randn(1, 6), torch.zeros(6), torch.ones(6), training=True)
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        norms.instance_norm(torch.randn(4, 6, 1))
    with pytest.raises(ValueError, match="divisible by num_groups"):
        norms.group_norm(x, 4)
    with pytest.raises(ValueError, match="weight must have shape"):
        norms.batch_norm(x, None, None, torch.ones(5), training=True)
    with pytest.raises(ValueError, match="weight must have shape"):
        norms.group_norm(x, 3, torch.ones(3))
    with pytest.raises(ValueError, match="normalized_shape"):
        norms.layer_norm(x, (4, 3))
    with pytest.raises(ValueError, match="running_mean"):
        norms.batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match="running_mean must have shape"):
        norms.batch_norm(x, torch.zeros(4), torch.ones(4))
    with pytest.raises(TypeError, match="floating-point"):
        norms.layer_norm(torch.ones(3, 4, dtype=torch.long), 4)
    with pytest.raises(ValueError, match="expects input of shape"):
        norms.BatchNorm(5)(x)
    with pytest.raises(ValueError, match="divisible"):
        norms.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="kind"):
        norms.moments(x, "batchnorm")


def test_no_framework_normalization_kernels(monkeypatch):
    """The functions never reach PyTorch's own normalization kernels."""

    def forbidden(*args, **kwargs):
        raise AssertionError("called a framework normalization kernel")

    for name in (
        "batch_norm",
        "layer_norm",
        "group_norm",
        "instance_norm",
        "native_batch_norm",
        "native_layer_norm",
        "native_group_norm",
    ):
        if hasattr(torch, name):
            monkeypatch.setattr(torch, name, forbidden)
    for name in ("batch_norm", "layer_norm", "group_norm", "instance_norm"):
        monkeypatch.setattr(F, name, forbidden)
    x = torch.randn(4, 6, 3, 3, requires_grad=True)
    outs = [
        norms.batch_norm(x, torch.zeros(6), torch.ones(6), training=True),
        norms.layer_norm(x, (6, 3, 3)),
        norms.group_norm(x, 3),
        norms.instance_norm(x),
        norms.GhostBatchNorm(6, 2)(x),
    ]
    sum(o.sum() for o in outs).backward()
