"""A small Transformer in Keras: the twin of :mod:`godeep.transformer`.

Same blocks, same names (``attn.q/k/v/out``, ``ln1``, ``mlp.fc1/fc2``, ``ln2``), same
initialization distributions. Convention differences, converted by :func:`copy_from_torch`:
a Keras ``Dense`` kernel is ``(in, out)``, the transpose of a PyTorch ``Linear`` weight;
Keras' ``LayerNormalization`` defaults to ``epsilon=1e-3``, PyTorch's ``LayerNorm`` to
``1e-5`` (we set 1e-5 here); GELU is the exact (erf) form in both.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from . import tf
import keras

from ..transformer import LN_EPS, NORMS, TASKS, check_block, sequence_task, warmup_lr, _positive_int  # noqa: F401

__all__ = ["MultiHeadSelfAttention", "MLP", "TransformerBlock", "TinyTransformer", "copy_from_torch", "sequence_task", "warmup_lr", "block_grad_norms"]


def _dense(units: int, name: str, dtype) -> keras.layers.Dense:
    return keras.layers.Dense(units, kernel_initializer=keras.initializers.GlorotUniform(), bias_initializer="zeros", name=name, dtype=dtype)


class MultiHeadSelfAttention(keras.layers.Layer):
    """Multi-head self-attention written out; see :class:`godeep.transformer.MultiHeadSelfAttention`."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        check_block(d_model, n_heads, None, "pre", dropout)
        self.n_heads, self.d_head, self.d_model = n_heads, d_model // n_heads, d_model
        self.q, self.k, self.v, self.out = (_dense(d_model, n, self.dtype_policy) for n in ("q", "k", "v", "out"))
        self.dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def call(self, x, causal: bool = False, training=None):
        if len(x.shape) != 3:
            raise ValueError(f"x must have shape (batch, length, d_model), got {tuple(x.shape)}")
        b, t = tf.shape(x)[0], tf.shape(x)[1]

        def split(z):  # (b, t, d) -> (b, heads, t, d_head)
            return tf.transpose(tf.reshape(z, (b, t, self.n_heads, self.d_head)), (0, 2, 1, 3))

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(self.d_head)
        if causal:
            future = tf.linalg.band_part(tf.ones((t, t), dtype=tf.bool), 0, -1) & ~tf.cast(tf.eye(t), tf.bool)
            scores = tf.where(future, tf.constant(-np.inf, dtype=scores.dtype), scores)
        weights = self.dropout(tf.nn.softmax(scores, axis=-1), training=training)
        heads = tf.reshape(tf.transpose(tf.matmul(weights, v), (0, 2, 1, 3)), (b, t, self.d_model))
        return self.out(heads)


class MLP(keras.layers.Layer):
    """The position-wise feed-forward branch ``fc2(GELU(fc1(x)))``."""

    def __init__(self, d_model: int, d_ff: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fc1, self.fc2 = _dense(d_ff, "fc1", self.dtype_policy), _dense(d_model, "fc2", self.dtype_policy)

    def call(self, x):
        h = self.fc1(x)
        # exact GELU, h * Phi(h), written with erf: keras.activations.gelu loses precision in float64
        return self.fc2(0.5 * h * (1.0 + tf.math.erf(h / math.sqrt(2.0))))


class TransformerBlock(keras.layers.Layer):
    """One Transformer block, ``norm="post"`` or ``"pre"``; see :class:`godeep.transformer.TransformerBlock`.

    post: ``x = LN1(x + A(x)); x = LN2(x + M(x))``;  pre: ``x = x + A(LN1(x)); x = x + M(LN2(x))``.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: Optional[int] = None, norm: str = "post", dropout: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        d_ff = check_block(d_model, n_heads, d_ff, norm, dropout)
        self.norm = norm
        self.attn = MultiHeadSelfAttention(d_model, n_heads, dropout, name="attn", dtype=self.dtype_policy)
        self.ln1 = keras.layers.LayerNormalization(epsilon=LN_EPS, name="ln1", dtype=self.dtype_policy)
        self.mlp = MLP(d_model, d_ff, name="mlp", dtype=self.dtype_policy)
        self.ln2 = keras.layers.LayerNormalization(epsilon=LN_EPS, name="ln2", dtype=self.dtype_policy)
        self.drop = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def call(self, x, causal: bool = False, training=None):
        if self.norm == "pre":
            x = x + self.drop(self.attn(self.ln1(x), causal=causal, training=training), training=training)  # residual sub-block 1
            x = x + self.drop(self.mlp(self.ln2(x)), training=training)  # residual sub-block 2
        else:
            x = self.ln1(x + self.drop(self.attn(x, causal=causal, training=training), training=training))  # residual sub-block 1
            x = self.ln2(x + self.drop(self.mlp(x), training=training))  # residual sub-block 2
        return x


class TinyTransformer(keras.Model):
    """Embeddings + ``n_layers`` blocks + optional final LN + linear head; see :class:`godeep.transformer.TinyTransformer`.

    The model is built (weights created) on construction, so it can be inspected or
    receive weights from its PyTorch twin straight away.
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 32,
        n_heads: int = 4,
        n_layers: int = 2,
        max_len: int = 64,
        d_ff: Optional[int] = None,
        norm: str = "pre",
        n_out: Optional[int] = None,
        final_norm: Optional[bool] = None,
        scaled_init: bool = False,
        causal: bool = False,
        dropout: float = 0.0,
        dtype: str = "float32",
        **kwargs,
    ) -> None:
        super().__init__(dtype=dtype, **kwargs)
        check_block(d_model, n_heads, d_ff, norm, dropout)
        _positive_int("vocab_size", vocab_size)
        _positive_int("n_layers", n_layers)
        _positive_int("max_len", max_len)
        n_out = vocab_size if n_out is None else _positive_int("n_out", n_out)
        self.norm, self.causal, self.max_len = norm, bool(causal), max_len
        normal = lambda: keras.initializers.RandomNormal(stddev=1.0)
        self.tok = keras.layers.Embedding(vocab_size, d_model, embeddings_initializer=normal(), name="tok", dtype=dtype)
        self.pos = keras.layers.Embedding(max_len, d_model, embeddings_initializer=normal(), name="pos", dtype=dtype)
        self.blocks = [TransformerBlock(d_model, n_heads, d_ff, norm, dropout, name=f"blocks.{i}", dtype=dtype) for i in range(n_layers)]
        self.final_norm = (norm == "pre") if final_norm is None else bool(final_norm)
        self.ln_f = keras.layers.LayerNormalization(epsilon=LN_EPS, name="ln_f", dtype=dtype) if self.final_norm else None
        self.head = _dense(n_out, "head", dtype)
        self.drop = keras.layers.Dropout(dropout, dtype=self.dtype_policy)
        self(np.zeros((1, 1), dtype=np.int64))  # build every weight
        if scaled_init:
            scale = 1.0 / math.sqrt(2 * n_layers)
            for block in self.blocks:
                for dense in (block.attn.out, block.mlp.fc2):
                    dense.kernel.assign(dense.kernel * scale)

    def call(self, tokens, training=None):
        if len(tokens.shape) != 2:
            raise ValueError(f"tokens must have shape (batch, length), got {tuple(tokens.shape)}")
        if not tf.as_dtype(tokens.dtype).is_integer:
            raise TypeError(f"tokens must be integers, got {tokens.dtype}")
        t = tokens.shape[1]
        if t is not None and t > self.max_len:
            raise ValueError(f"sequence length {t} exceeds max_len={self.max_len}")
        x = self.tok(tokens) + self.pos(tf.range(tf.shape(tokens)[1]))[None]
        x = self.drop(x, training=training)
        for block in self.blocks:
            x = block(x, causal=self.causal, training=training)
        if self.ln_f is not None:
            x = self.ln_f(x)
        return self.head(x)


def _set_dense(dense, linear) -> None:
    dense.kernel.assign(linear.weight.detach().numpy().T)
    dense.bias.assign(linear.bias.detach().numpy())


def _set_ln(ln, torch_ln) -> None:
    ln.gamma.assign(torch_ln.weight.detach().numpy())
    ln.beta.assign(torch_ln.bias.detach().numpy())


def copy_from_torch(model: TinyTransformer, torch_model) -> TinyTransformer:
    """Copy every weight of a :class:`godeep.transformer.TinyTransformer` into its Keras twin (in place).

    Linear weights ``(out, in)`` become Dense kernels ``(in, out)``; LayerNorm weight/bias
    become gamma/beta. Raises ``ValueError`` if the two architectures differ.
    """
    if len(model.blocks) != len(torch_model.blocks) or model.norm != torch_model.norm or model.final_norm != torch_model.final_norm:
        raise ValueError("the Keras and PyTorch models differ in n_layers, norm or final_norm")
    if tuple(model.tok.embeddings.shape) != tuple(torch_model.tok.weight.shape) or tuple(model.pos.embeddings.shape) != tuple(torch_model.pos.weight.shape):
        raise ValueError("the Keras and PyTorch models differ in vocab_size, d_model or max_len")
    model.tok.embeddings.assign(torch_model.tok.weight.detach().numpy())
    model.pos.embeddings.assign(torch_model.pos.weight.detach().numpy())
    for kb, tb in zip(model.blocks, torch_model.blocks):
        for name in ("q", "k", "v", "out"):
            _set_dense(getattr(kb.attn, name), getattr(tb.attn, name))
        _set_dense(kb.mlp.fc1, tb.mlp.fc1)
        _set_dense(kb.mlp.fc2, tb.mlp.fc2)
        _set_ln(kb.ln1, tb.ln1)
        _set_ln(kb.ln2, tb.ln2)
    if model.ln_f is not None:
        _set_ln(model.ln_f, torch_model.ln_f)
    _set_dense(model.head, torch_model.head)
    return model


def block_grad_norms(model: TinyTransformer, x, y) -> dict[str, np.ndarray]:
    """Per-block gradient norms of the attention and MLP weights; see :func:`godeep.transformer.block_grad_norms`."""
    x = tf.convert_to_tensor(np.asarray(x), dtype=tf.int64)
    y = tf.convert_to_tensor(np.asarray(y), dtype=tf.int64)
    parts = {
        "attn": [[b.attn.q.kernel, b.attn.k.kernel, b.attn.v.kernel, b.attn.out.kernel] for b in model.blocks],
        "mlp": [[b.mlp.fc1.kernel, b.mlp.fc2.kernel] for b in model.blocks],
    }
    flat = [w for blocks in parts.values() for block in blocks for w in block]
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
    grads = iter(tape.gradient(loss, flat))
    out = {}
    for part, blocks in parts.items():
        out[part] = np.array([math.sqrt(sum(float(tf.reduce_sum(tf.square(next(grads))))  for _ in block)) for block in blocks])
    return out
