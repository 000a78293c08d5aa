"""Orthogonal initialization and dynamical isometry (PyTorch).

**Orthogonal weights** (Saxe et al. 2014). A weight of shape ``(rows, *rest)`` is viewed as a
``rows x cols`` matrix (``cols = prod(rest)``, the fan-in) and filled with a (semi-)orthogonal
``Q``: ``Q Q^T = I`` if ``rows <= cols``, ``Q^T Q = I`` otherwise, times ``gain``. ``Q`` comes
from the QR decomposition of a standard Gaussian matrix ``A = Q R`` (of the transpose when
``rows < cols``), with the signs of ``R``'s diagonal moved into ``Q``,

    Q <- Q diag(sign(diag(R))),

which makes ``Q`` uniformly (Haar) distributed (Mezzadri 2007). :func:`orthogonal_` has the
signature and the numbers of ``torch.nn.init.orthogonal_``: the same ``generator`` state gives
the same tensor.

**Dynamical isometry** (Pennington et al. 2017). For a network ``f`` the input-output Jacobian
``J = df/dx`` of a deep linear net with orthogonal weights has every singular value equal to
``gain^L``; with Gaussian weights of the same mean square the singular values spread (the mean
of ``sigma^2`` stays 1 but their distribution widens with depth), and a gradient then grows along
some directions and vanishes along others. :func:`jacobian_singular_values` measures the
spectrum, per example.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from . import validate

if TYPE_CHECKING:  # PyTorch is imported inside the functions: godeep.init may re-export them, and
    from torch import (
        Tensor,
        nn,
    )  # godeep.keras.init imports godeep.init, which must not load PyTorch

__all__ = ["orthogonal_", "jacobian_singular_values"]


def orthogonal_(tensor: Tensor, gain: float = 1, generator=None) -> Tensor:
    """Fill ``tensor`` in place with a (semi-)orthogonal matrix times ``gain`` (``torch.nn.init.orthogonal_``).

    ``tensor`` ``(rows, *rest)`` is viewed as ``rows x prod(rest)``; ``A ~ N(0, 1)`` of that shape
    (transposed if ``rows < cols``) is factored ``A = Q R`` and ``Q diag(sign(diag(R)))`` (transposed
    back) is copied in. A tensor with no elements is left as it is.
    """
    import torch
    from torch import Tensor

    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    if not tensor.is_floating_point():
        raise TypeError(f"tensor must have a floating-point dtype, got {tensor.dtype}")
    if tensor.dim() < 2:
        raise ValueError(
            f"tensor must have at least 2 dimensions (out, in, *kernel), got shape {tuple(tensor.shape)}"
        )
    gain = validate.number("gain", gain)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )
    if tensor.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    with torch.no_grad():
        a = tensor.new_empty((rows, cols)).normal_(0, 1, generator=generator)
        if rows < cols:
            a = a.t()
        q, r = torch.linalg.qr(a)
        q = q * torch.diagonal(r).sign()  # column j times sign(R_jj)
        if rows < cols:
            q = q.t()
        tensor.view_as(q).copy_(q).mul_(gain)
    return tensor


def jacobian_singular_values(model: nn.Module, x: Tensor) -> Tensor:
    """Singular values of the input-output Jacobian ``J_i = d model(x_i) / d x_i`` of every example.

    ``x`` is a batch ``(N, *input)``; the result is ``(N, min(out, in))``, each row in descending
    order (``torch.linalg.svdvals``), with ``in`` and ``out`` the flattened sizes of one example's
    input and output. The model must treat examples independently (no batch statistics: a
    BatchNorm in training mode couples them), so it runs in eval mode here (its mode is restored).
    """
    import torch
    from torch import Tensor, nn

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point torch.Tensor, got {type(x).__name__}")
    if x.dim() < 2 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty batch (N, ...), got shape {tuple(x.shape)}")

    def one(example: Tensor) -> Tensor:
        return model(example.unsqueeze(0)).reshape(-1)

    was_training = model.training
    model.eval()
    try:
        jac = torch.func.vmap(torch.func.jacrev(one))(x.detach())  # (N, out, *input)
    finally:
        model.train(was_training)
    return torch.linalg.svdvals(jac.detach().reshape(x.shape[0], jac.shape[1], -1))
