"""Fully connected residual networks and their plain twins, to study residual learning (PyTorch).

A residual MLP of depth ``L`` computes

    x_0 = W_in x,    x_l = x_{l-1} + F_l(x_{l-1})   (l = 1..L),    y = W_out x_L

with the branch ``F_l(x) = W_l relu(BN(x)) + b_l`` (the pre-activation order of He et al.
2016b; ``BN`` only if ``batch_norm``). With ``branch_scale=a`` every block computes
``x_l = x_{l-1} + alpha_l F_l(x_{l-1})`` with a learnable scalar ``alpha_l`` that starts at ``a``:
``a = 0`` is ReZero (Bachlechner et al. 2021) / SkipInit (De & Smith 2020), every block starts
as the identity. With ``zero_init_residual=True`` every branch's layer ``W_l`` starts at zero
instead, Fixup's rule for the last layer of each branch (Zhang et al. 2019; a one-layer branch
has no other layer to rescale): again every block starts as the identity. Its *plain* twin drops the shortcuts,
``x_l = F_l(x_{l-1})``: the same layers, an ordinary feed-forward net. Small and fast, these
nets reach 50-100 blocks on a laptop CPU in seconds, with the residual
stream ``x_l`` exposed as the output of module ``block{l}``.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from .core.resmlp import (  # noqa: F401
    ROUTES,
    check_branch_scale,
    check_branch_scale as _check_branch_scale,
    check_flags,
    check_path_args,
    check_stochastic_depth_prob,
    check_zero_init,
    check_zero_init as _check_zero_init,
    drop_rates,
    route_random_path,
)
from .models import Init, _initialize, check_architecture, check_dtype
from .residual.stochastic_depth import StochasticDepth

__all__ = ["Block", "residual_mlp", "blocks", "path_gradient_norms"]


class Block(nn.Module):
    """One block: the branch ``F(x) = fc(act(norm(x)))``, plus the shortcut ``x`` if ``residual``.

    Submodules ``norm`` (BatchNorm1d or identity), ``act`` (ReLU), ``fc`` (Linear), and ``drop``
    (:class:`godeep.residual.StochasticDepth`, only if ``drop_rate > 0``): in ``train()`` mode
    the branch is dropped with probability ``drop_rate`` and scaled by ``1 / (1 - drop_rate)``
    when it survives; in ``eval()`` mode it is kept, unscaled.
    """

    def __init__(
        self,
        width: int,
        residual: bool,
        batch_norm: bool,
        bias: bool = True,
        branch_scale: float | None = None,
        drop_rate: float = 0.0,
        drop_mode: str = "row",
    ) -> None:
        super().__init__()
        self.residual = bool(residual)
        drop_rate = check_stochastic_depth_prob(drop_rate, not self.residual, drop_mode)
        self.norm = nn.BatchNorm1d(width) if batch_norm else nn.Identity()
        self.act = nn.ReLU()
        self.fc = nn.Linear(width, width, bias=bias)
        self.route = "both"
        if branch_scale is not None:
            if not self.residual:
                raise ValueError(
                    "branch_scale needs a shortcut: it is not defined for plain blocks"
                )
            #: the learnable scalar alpha of x + alpha F(x) (ReZero / SkipInit when it starts at 0)
            self.alpha = nn.Parameter(torch.tensor(float(branch_scale)))
        else:
            self.alpha = None
        self.drop = StochasticDepth(drop_rate, drop_mode) if drop_rate > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.fc(self.act(self.norm(x)))
        if self.alpha is not None:
            out = self.alpha * out
        if self.drop is not None:
            out = self.drop(out)
        if not self.residual:
            return out
        if self.route == "branch":  # same value; the gradient flows back through F only
            return x.detach() + out
        if (
            self.route == "shortcut"
        ):  # same value; the gradient flows back through the identity only
            return x + out.detach()
        return x + out


def residual_mlp(
    in_features: int,
    width: int,
    depth: int,
    out_features: int,
    plain: bool = False,
    batch_norm: bool = False,
    init: Init = None,
    bias: bool = True,
    dtype: str = "float32",
    branch_scale: float | None = None,
    zero_init_residual: bool = False,
    stochastic_depth_prob: float = 0.0,
    stochastic_depth_mode: str = "row",
) -> nn.Sequential:
    """A residual MLP (``plain=False``) or its plain twin (``plain=True``) with ``depth`` blocks.

    Modules: ``inp``, ``block1 ... block{depth}`` (:class:`Block`), ``out``. ``init`` as in
    :func:`godeep.models.mlp` (``None``: PyTorch's default; a float ``s``: weights ~ N(0, s^2);
    a callable applied to each weight), applied to every Linear layer, biases then zero.
    ``branch_scale``: ``None`` (no scalar), or the starting value ``a`` of a learnable scalar
    ``alpha`` per block, ``x + alpha F(x)``; ``0.0`` gives ReZero / SkipInit. Residual nets only.
    ``zero_init_residual``: start every branch's ``fc`` (weight and bias) at zero, so that
    ``F_l(x) = 0`` and ``x_l = x_0`` at initialization (Fixup's zero-initialized last layer).
    Residual nets only.
    ``stochastic_depth_prob``: train with stochastic depth (Huang et al. 2016): block ``l`` drops
    its branch with probability ``stochastic_depth_prob * l / depth`` (their linear decay rule,
    :func:`godeep.core.resmlp.drop_rates`; ``0.5`` is their ``p_L = 0.5``), per example
    (``stochastic_depth_mode="row"``) or for the whole batch (``"batch"``), as
    :func:`godeep.residual.stochastic_depth` does. ``0`` (the default): no stochastic depth.
    Residual nets only.
    """
    check_dtype(dtype)
    check_architecture(in_features, width, depth, out_features, "relu")
    check_flags(plain=plain, batch_norm=batch_norm, bias=bias)
    branch_scale = _check_branch_scale(branch_scale, plain)
    zero_init_residual = _check_zero_init(zero_init_residual, plain)
    stochastic_depth_prob = check_stochastic_depth_prob(
        stochastic_depth_prob, plain, stochastic_depth_mode
    )
    rates = drop_rates(stochastic_depth_prob, depth)
    layers: OrderedDict[str, nn.Module] = OrderedDict(inp=nn.Linear(in_features, width, bias=bias))
    for l in range(1, depth + 1):
        layers[f"block{l}"] = Block(
            width,
            residual=not plain,
            batch_norm=batch_norm,
            bias=bias,
            branch_scale=branch_scale,
            drop_rate=rates[l - 1],
            drop_mode=stochastic_depth_mode,
        )
    layers["out"] = nn.Linear(width, out_features, bias=bias)
    model = nn.Sequential(layers).to(getattr(torch, dtype))
    for module in model.modules():
        if isinstance(module, nn.Linear):
            _initialize(module, init)
    if zero_init_residual:
        with torch.no_grad():
            for block in blocks(model).values():
                block.fc.weight.zero_()
                if block.fc.bias is not None:
                    block.fc.bias.zero_()
    return model


def blocks(model: nn.Module) -> OrderedDict[str, Block]:
    """The :class:`Block` s of a :func:`residual_mlp`, in order, by name (``block1``, ...)."""
    found = OrderedDict((name, m) for name, m in model.named_children() if isinstance(m, Block))
    if not found:
        raise ValueError("model has no Block children: build it with residual_mlp")
    return found


def path_gradient_norms(
    model: nn.Module, x, y, length: int, samples: int = 10, seed: int = 0
) -> np.ndarray:
    """Norms of the gradient that reaches the input along single paths of ``length`` branches.

    The experiment of Veit et al. (2016, Sec. 5): feed the batch forward through the whole
    (residual) network; on the way back, choose ``length`` blocks at random and propagate only
    through their branches, and only through the shortcuts of the others. Returns, for each of
    ``samples`` random paths, ``||dE/dx||`` at the input (cross-entropy loss, batch mean).
    The blocks' routes are restored afterwards.
    """
    import torch.nn.functional as F

    found = list(blocks(model).values())
    classes = [m for m in model.modules() if isinstance(m, nn.Linear)][-1].out_features
    labels = check_path_args(found, x, y, length, samples, seed, classes)
    rng = np.random.default_rng(seed)
    param = next(model.parameters())
    inputs = torch.as_tensor(np.asarray(x), dtype=param.dtype)
    targets = torch.as_tensor(labels)
    norms = np.empty(samples)
    try:
        for s in range(samples):
            route_random_path(found, length, rng)
            inputs_s = inputs.clone().requires_grad_(True)
            loss = F.cross_entropy(model(inputs_s), targets)
            (grad,) = torch.autograd.grad(loss, inputs_s)
            norms[s] = float(grad.norm())
    finally:
        for b in found:
            b.route = "both"
    return norms
