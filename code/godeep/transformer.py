"""A small Transformer whose two residual sub-blocks are written out (PyTorch).

A Transformer block is two residual sub-blocks in a row, an attention branch ``A`` and a
position-wise MLP branch ``M``. Where the LayerNorm sits is the whole difference between the
original Transformer (Vaswani et al. 2017, *post-norm*) and GPT-2 and its successors
(*pre-norm*):

    post-norm:   x <- LN(x + A(x)),        x <- LN(x + M(x))
    pre-norm:    x <- x + A(LN(x)),        x <- x + M(LN(x))

In the pre-norm block the shortcut ``x -> x`` is a pure identity all the way from the input
to the output, as in a ResNet with identity mappings; in the post-norm block every LayerNorm
sits *on* the shortcut path. GPT-2 (Radford et al. 2019) also adds a final LayerNorm after
the last block and scales the initial weights of each residual branch's output projection by
``1/sqrt(N)``, ``N`` the number of residual layers (two per block).

Initialization (both frameworks, so that a model and its Keras twin draw from the same
distributions): Linear weights Xavier-uniform, biases zero, LayerNorm gain 1 and shift 0,
token and position embeddings N(0, 1).
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import validate
from .core.transformer import (
    LN_EPS,
    NORMS,
    TASKS as TASKS,  # re-exported: the tasks of sequence_task
    check_block,
    check_pairs,
    check_tokens,
    sequence_task,
    warmup_lr,
)
from .validate import positive_int as _positive_int

__all__ = [
    "NORMS",
    "MultiHeadSelfAttention",
    "MLP",
    "TransformerBlock",
    "TinyTransformer",
    "check_block",
    "sequence_task",
    "warmup_lr",
    "block_grad_norms",
    "train_on_task",
]


def _xavier(layer: nn.Linear) -> nn.Linear:
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention, written out.

    For each head ``h``: ``softmax(Q_h K_h^T / sqrt(d_head) + mask) V_h`` with
    ``Q = x W_q``, ``K = x W_k``, ``V = x W_v``; the heads are concatenated and projected by
    ``W_out``. ``causal=True`` lets position ``i`` attend only to positions ``<= i``.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        check_block(d_model, n_heads, None, "pre", dropout)
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.q, self.k, self.v, self.out = (_xavier(nn.Linear(d_model, d_model)) for _ in range(4))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        if x.ndim != 3:
            raise ValueError(f"x must have shape (batch, length, d_model), got {tuple(x.shape)}")
        b, t, d = x.shape
        split = lambda z: z.view(b, t, self.n_heads, self.d_head).transpose(
            1, 2
        )  # (b, heads, t, d_head)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)
        if causal:
            future = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(future, float("-inf"))
        weights = self.dropout(scores.softmax(dim=-1))
        heads = (weights @ v).transpose(1, 2).reshape(b, t, d)
        return self.out(heads)


class MLP(nn.Sequential):
    """The position-wise feed-forward branch: ``fc2(GELU(fc1(x)))``, ``d_model -> d_ff -> d_model``."""

    def __init__(self, d_model: int, d_ff: int) -> None:
        super().__init__(
            OrderedDict(
                fc1=_xavier(nn.Linear(d_model, d_ff)),
                act=nn.GELU(),
                fc2=_xavier(nn.Linear(d_ff, d_model)),
            )
        )


class TransformerBlock(nn.Module):
    """One Transformer block: an attention and an MLP residual sub-block, post- or pre-norm.

    ``norm="post"`` (Vaswani et al. 2017)::

        x = LN1(x + A(x))
        x = LN2(x + M(x))

    ``norm="pre"`` (GPT-2; Xiong et al. 2020)::

        x = x + A(LN1(x))
        x = x + M(LN2(x))

    ``A`` is :class:`MultiHeadSelfAttention`, ``M`` the :class:`MLP` with ``d_ff`` hidden
    units (default ``4 * d_model``); dropout (if any) is applied to each branch's output
    before the addition.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int | None = None,
        norm: str = "post",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        d_ff = check_block(d_model, n_heads, d_ff, norm, dropout)
        self.norm = norm
        self.attn = MultiHeadSelfAttention(d_model, n_heads, dropout)
        self.ln1 = nn.LayerNorm(d_model, eps=LN_EPS)
        self.mlp = MLP(d_model, d_ff)
        self.ln2 = nn.LayerNorm(d_model, eps=LN_EPS)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        if self.norm == "pre":
            x = x + self.drop(self.attn(self.ln1(x), causal))  # residual sub-block 1
            x = x + self.drop(self.mlp(self.ln2(x)))  # residual sub-block 2
        else:
            x = self.ln1(x + self.drop(self.attn(x, causal)))  # residual sub-block 1
            x = self.ln2(x + self.drop(self.mlp(x)))  # residual sub-block 2
        return x


class TinyTransformer(nn.Module):
    """Token + position embeddings, ``n_layers`` :class:`TransformerBlock` s, optional final LN, a linear head.

    Args:
        vocab_size: number of input tokens.
        d_model, n_heads, d_ff, norm, dropout: as in :class:`TransformerBlock`.
        n_layers: number of blocks (``N = 2 n_layers`` residual layers).
        max_len: longest sequence (learned position embeddings, as in GPT-2).
        n_out: output classes per position (default ``vocab_size``).
        final_norm: a LayerNorm after the last block (GPT-2); default ``True`` for pre-norm,
            ``False`` for post-norm (whose last block already ends with a LayerNorm).
        scaled_init: GPT-2's initialization: multiply the output projection of every
            residual branch (``attn.out`` and ``mlp.fc2``) by ``1/sqrt(N)``.
        causal: each position attends only to itself and earlier positions.

    ``forward(tokens)`` maps integer tokens ``(batch, length)`` to logits ``(batch, length, n_out)``.
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 32,
        n_heads: int = 4,
        n_layers: int = 2,
        max_len: int = 64,
        d_ff: int | None = None,
        norm: str = "pre",
        n_out: int | None = None,
        final_norm: bool | None = None,
        scaled_init: bool = False,
        causal: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_block(d_model, n_heads, d_ff, norm, dropout)
        _positive_int("vocab_size", vocab_size)
        _positive_int("n_layers", n_layers)
        _positive_int("max_len", max_len)
        n_out = vocab_size if n_out is None else _positive_int("n_out", n_out)
        validate.boolean("scaled_init", scaled_init)
        validate.boolean("causal", causal)
        if final_norm is not None:
            validate.boolean("final_norm", final_norm)
        self.norm, self.causal, self.max_len = norm, bool(causal), max_len
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList(
            TransformerBlock(d_model, n_heads, d_ff, norm, dropout) for _ in range(n_layers)
        )
        self.final_norm = (norm == "pre") if final_norm is None else bool(final_norm)
        self.ln_f = nn.LayerNorm(d_model, eps=LN_EPS) if self.final_norm else nn.Identity()
        self.head = _xavier(nn.Linear(d_model, n_out))
        self.drop = nn.Dropout(dropout)
        nn.init.normal_(self.tok.weight)
        nn.init.normal_(self.pos.weight)
        if scaled_init:
            scale = 1.0 / math.sqrt(2 * n_layers)
            with torch.no_grad():
                for block in self.blocks:
                    block.attn.out.weight.mul_(scale)
                    block.mlp.fc2.weight.mul_(scale)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if not isinstance(tokens, torch.Tensor):
            raise TypeError(f"tokens must be a torch.Tensor, got {type(tokens).__name__}")
        if tokens.ndim != 2:
            raise ValueError(f"tokens must have shape (batch, length), got {tuple(tokens.shape)}")
        if tokens.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"tokens must be an integer tensor, got {tokens.dtype}")
        t = tokens.shape[1]
        if t > self.max_len:
            raise ValueError(f"sequence length {t} exceeds max_len={self.max_len}")
        check_tokens(tokens.detach().cpu(), self.tok.num_embeddings)
        x = self.drop(self.tok(tokens) + self.pos(torch.arange(t, device=tokens.device)))
        for block in self.blocks:
            x = block(x, self.causal)
        return self.head(self.ln_f(x))


# --------------------------------------------------------------------------- tasks and tools


def block_grad_norms(model: TinyTransformer, x, y) -> dict[str, np.ndarray]:
    """Gradient norms per block at the current weights, for one batch (cross-entropy over all positions).

    Returns ``{"attn": ..., "mlp": ...}``: for each block ``l``, the Frobenius norm of
    ``dE/dW`` stacked over the weight matrices of its attention branch (``q, k, v, out``) and
    of its MLP branch (``fc1, fc2``), the quantity Xiong et al. (2020) plot per layer. The
    model's parameter gradients are left as they were.
    """
    check_pairs(x, y)
    x = torch.as_tensor(np.asarray(x), dtype=torch.int64)
    y = torch.as_tensor(np.asarray(y), dtype=torch.int64)
    weights = {
        "attn": [
            [b.attn.q.weight, b.attn.k.weight, b.attn.v.weight, b.attn.out.weight]
            for b in model.blocks
        ],
        "mlp": [[b.mlp.fc1.weight, b.mlp.fc2.weight] for b in model.blocks],
    }
    flat = [w for part in weights.values() for block in part for w in block]
    logits = model(x)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    grads = dict(zip(map(id, flat), torch.autograd.grad(loss, flat)))
    return {
        part: np.array(
            [math.sqrt(sum(float(grads[id(w)].pow(2).sum()) for w in block)) for block in blocks]
        )
        for part, blocks in weights.items()
    }


def train_on_task(
    model: TinyTransformer,
    task: str,
    steps: int,
    lr: float = 1e-3,
    warmup: int = 0,
    batch_size: int = 64,
    length: int = 8,
    seed: int = 0,
) -> np.ndarray:
    """Train ``model`` with Adam (betas 0.9, 0.98, as Vaswani et al.) on fresh batches of :func:`sequence_task`.

    The learning rate follows :func:`warmup_lr` (linear warm-up over ``warmup`` steps, then
    constant ``lr``). The vocabulary is the model's ``vocab_size`` (which must equal ``n_out``).
    Returns the training loss (cross-entropy averaged over positions) at every step. Adam's update, with
    ``c1 = 1 - 0.9^t``, ``c2 = 1 - 0.98^t`` and ``eps = 1e-8``::

        m <- 0.9 m + 0.1 g,   v <- 0.98 v + 0.02 g^2,   W <- W - (lr / c1) m / (sqrt(v) / sqrt(c2) + eps)
    """
    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer, got {type(model).__name__}")
    steps, batch_size = _positive_int("steps", steps), _positive_int("batch_size", batch_size)
    warmup_lr(0, lr, warmup)  # validates lr and warmup
    validate.number("lr", lr, low=0.0, low_open=True)
    validate.integer("seed", seed, low=0)
    vocab = model.tok.num_embeddings
    if model.head.out_features != vocab:
        raise ValueError(
            "the tasks predict input tokens: the model needs n_out == vocab_size, got "
            f"{model.head.out_features} and {vocab}"
        )
    # fused: one kernel for all weights (the same update, about 15% faster per step on CPU)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.98), fused=True)
    rng = np.random.default_rng(seed)
    losses = np.empty(steps)
    model.train()
    for step in range(steps):
        x, y = sequence_task(task, batch_size, length, vocab, seed=int(rng.integers(2**31)))
        for group in optimizer.param_groups:
            group["lr"] = warmup_lr(step, lr, warmup)
        logits = model(torch.as_tensor(x))
        loss = F.cross_entropy(logits.reshape(-1, vocab), torch.as_tensor(y).reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses[step] = loss.item()
    return losses
