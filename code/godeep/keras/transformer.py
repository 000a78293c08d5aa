"""A small Transformer in Keras: the twin of :mod:`godeep.transformer`.

Same blocks, same names (``attn.q/k/v/out``, ``ln1``, ``mlp.fc1/fc2``, ``ln2``), same
initialization distributions. Convention differences, converted by :func:`copy_from_torch`:
a Keras ``Dense`` kernel is ``(in, out)``, the transpose of a PyTorch ``Linear`` weight;
Keras' ``LayerNormalization`` defaults to ``epsilon=1e-3``, PyTorch's ``LayerNorm`` to
``1e-5`` (we set 1e-5 here); GELU is the exact (erf) form in both.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from .. import validate
from ..core.transformer import (  # noqa: F401
    LN_EPS,
    NORMS,
    TASKS,
    check_block,
    check_pairs,
    check_tokens,
    sequence_task,
    warmup_lr,
)
from ..validate import positive_int as _positive_int
from . import tf
from .convert import copy_transformer_from_torch as copy_from_torch  # noqa: F401  (re-exported)

__all__ = [
    "NORMS",
    "check_block",
    "MultiHeadSelfAttention",
    "MLP",
    "TransformerBlock",
    "TinyTransformer",
    "copy_from_torch",
    "sequence_task",
    "warmup_lr",
    "block_grad_norms",
    "train_on_task",
]


def _dense(units: int, name: str, dtype) -> keras.layers.Dense:
    return keras.layers.Dense(
        units,
        kernel_initializer=keras.initializers.GlorotUniform(),
        bias_initializer="zeros",
        name=name,
        dtype=dtype,
    )


class MultiHeadSelfAttention(keras.layers.Layer):
    """Multi-head self-attention written out; see :class:`godeep.transformer.MultiHeadSelfAttention`."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        check_block(d_model, n_heads, None, "pre", dropout)
        self.n_heads, self.d_head, self.d_model = n_heads, d_model // n_heads, d_model
        self.q, self.k, self.v, self.out = (
            _dense(d_model, n, self.dtype_policy) for n in ("q", "k", "v", "out")
        )
        self.dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, input_shape) -> None:
        for dense in (self.q, self.k, self.v, self.out):
            dense.build((None, None, self.d_model))

    def call(self, x, causal: bool = False, training=None):
        if len(x.shape) != 3:
            raise ValueError(f"x must have shape (batch, length, d_model), got {tuple(x.shape)}")
        b, t = tf.shape(x)[0], tf.shape(x)[1]

        def split(z):  # (b, t, d) -> (b, heads, t, d_head)
            return tf.transpose(tf.reshape(z, (b, t, self.n_heads, self.d_head)), (0, 2, 1, 3))

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(self.d_head)
        if causal:
            future = tf.linalg.band_part(tf.ones((t, t), dtype=tf.bool), 0, -1) & ~tf.cast(
                tf.eye(t), tf.bool
            )
            scores = tf.where(future, tf.constant(-np.inf, dtype=scores.dtype), scores)
        weights = self.dropout(tf.nn.softmax(scores, axis=-1), training=training)
        heads = tf.reshape(tf.transpose(tf.matmul(weights, v), (0, 2, 1, 3)), (b, t, self.d_model))
        return self.out(heads)


class MLP(keras.layers.Layer):
    """The position-wise feed-forward branch ``fc2(GELU(fc1(x)))``."""

    def __init__(self, d_model: int, d_ff: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.d_model, self.d_ff = d_model, d_ff
        self.fc1, self.fc2 = (
            _dense(d_ff, "fc1", self.dtype_policy),
            _dense(d_model, "fc2", self.dtype_policy),
        )

    def build(self, input_shape) -> None:
        self.fc1.build((None, None, self.d_model))
        self.fc2.build((None, None, self.d_ff))

    def call(self, x):
        h = self.fc1(x)
        # exact GELU, h * Phi(h), written with erf: keras.activations.gelu loses precision in float64
        return self.fc2(0.5 * h * (1.0 + tf.math.erf(h / math.sqrt(2.0))))


class TransformerBlock(keras.layers.Layer):
    """One Transformer block, ``norm="post"`` or ``"pre"``; see :class:`godeep.transformer.TransformerBlock`.

    post: ``x = LN1(x + A(x)); x = LN2(x + M(x))``;  pre: ``x = x + A(LN1(x)); x = x + M(LN2(x))``.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int | None = None,
        norm: str = "post",
        dropout: float = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        d_ff = check_block(d_model, n_heads, d_ff, norm, dropout)
        self.norm = norm
        self.attn = MultiHeadSelfAttention(
            d_model, n_heads, dropout, name="attn", dtype=self.dtype_policy
        )
        self.ln1 = keras.layers.LayerNormalization(
            epsilon=LN_EPS, name="ln1", dtype=self.dtype_policy
        )
        self.mlp = MLP(d_model, d_ff, name="mlp", dtype=self.dtype_policy)
        self.ln2 = keras.layers.LayerNormalization(
            epsilon=LN_EPS, name="ln2", dtype=self.dtype_policy
        )
        self.drop = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, input_shape) -> None:
        for layer in (self.attn, self.ln1, self.mlp, self.ln2):
            layer.build(input_shape)

    def call(self, x, causal: bool = False, training=None):
        if self.norm == "pre":
            x = x + self.drop(
                self.attn(self.ln1(x), causal=causal, training=training), training=training
            )  # residual sub-block 1
            x = x + self.drop(self.mlp(self.ln2(x)), training=training)  # residual sub-block 2
        else:
            x = self.ln1(
                x + self.drop(self.attn(x, causal=causal, training=training), training=training)
            )  # residual sub-block 1
            x = self.ln2(x + self.drop(self.mlp(x), training=training))  # residual sub-block 2
        return x


class TinyTransformer(keras.Model):
    """Embeddings + ``n_layers`` blocks + optional final LN + linear head; see
    :class:`godeep.transformer.TinyTransformer`.

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
        d_ff: int | None = None,
        norm: str = "pre",
        n_out: int | None = None,
        final_norm: bool | None = None,
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
        validate.boolean("scaled_init", scaled_init)
        validate.boolean("causal", causal)
        if final_norm is not None:
            validate.boolean("final_norm", final_norm)
        self.norm, self.causal, self.max_len = norm, bool(causal), max_len
        normal = lambda: keras.initializers.RandomNormal(stddev=1.0)
        self.tok = keras.layers.Embedding(
            vocab_size, d_model, embeddings_initializer=normal(), name="tok", dtype=dtype
        )
        self.pos = keras.layers.Embedding(
            max_len, d_model, embeddings_initializer=normal(), name="pos", dtype=dtype
        )
        self.blocks = [
            TransformerBlock(d_model, n_heads, d_ff, norm, dropout, name=f"blocks.{i}", dtype=dtype)
            for i in range(n_layers)
        ]
        self.final_norm = (norm == "pre") if final_norm is None else bool(final_norm)
        self.ln_f = (
            keras.layers.LayerNormalization(epsilon=LN_EPS, name="ln_f", dtype=dtype)
            if self.final_norm
            else None
        )
        self.head = _dense(n_out, "head", dtype)
        self.drop = keras.layers.Dropout(dropout, dtype=self.dtype_policy)
        # build every weight now, layer by layer (a first call would trace the whole model: seconds)
        self.tok.build()
        self.pos.build()
        for layer in (*self.blocks, *([self.ln_f] if self.final_norm else []), self.head):
            layer.build((None, None, d_model))
        self.built = True
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
        if tf.executing_eagerly():  # traced steps get their tokens from sequence_task, in range
            check_tokens(tokens, self.tok.input_dim)
        x = self.tok(tokens) + self.pos(tf.range(tf.shape(tokens)[1]))[None]
        x = self.drop(x, training=training)
        for block in self.blocks:
            x = block(x, causal=self.causal, training=training)
        if self.ln_f is not None:
            x = self.ln_f(x)
        return self.head(x)


def block_grad_norms(model: TinyTransformer, x, y) -> dict[str, np.ndarray]:
    """Per-block gradient norms of the attention and MLP weights; see :func:`godeep.transformer.block_grad_norms`."""
    check_pairs(x, y)
    x = tf.convert_to_tensor(np.asarray(x), dtype=tf.int64)
    y = tf.convert_to_tensor(np.asarray(y), dtype=tf.int64)
    parts = {
        "attn": [
            [b.attn.q.kernel, b.attn.k.kernel, b.attn.v.kernel, b.attn.out.kernel]
            for b in model.blocks
        ],
        "mlp": [[b.mlp.fc1.kernel, b.mlp.fc2.kernel] for b in model.blocks],
    }
    flat = [w for blocks in parts.values() for block in blocks for w in block]
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        )
    grads = iter(tape.gradient(loss, flat))
    out = {}
    for part, blocks in parts.items():
        out[part] = np.array(
            [
                math.sqrt(sum(float(tf.reduce_sum(tf.square(next(grads)))) for _ in block))
                for block in blocks
            ]
        )
    return out


def _adam_step(
    variables: list,
    grads: list,
    m,
    v,
    t,
    lr,
    beta1: float = 0.9,
    beta2: float = 0.98,
    eps: float = 1e-8,
) -> None:
    """One Adam step as ``torch.optim.Adam`` computes it, on all weights flattened into one vector.

    With ``g`` the gradient, ``t`` the step count (1 at the first step)::

        m <- beta1 m + (1 - beta1) g,      v <- beta2 v + (1 - beta2) g^2
        W <- W - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Written out rather than ``keras.optimizers.Adam`` for three reasons: Keras adds ``eps`` to
    the *uncorrected* ``sqrt(v)`` (PyTorch's update with ``eps / sqrt(1 - beta2^t)``, which no
    constant ``epsilon`` matches); applied to the ``IndexedSlices`` gradient of an embedding,
    it squares each token occurrence's slice and adds them, instead of squaring their sum; and
    its per-weight update takes seconds to trace for a 12-block model. ``m``, ``v`` (flat) and
    ``t`` are variables updated in place.
    """
    dtype = m.dtype
    # one constant per distinct shape, shared by the reshapes (each tf.reshape(x, list) would
    # add a constant of its own: some 400 graph nodes to build and optimize for 12 blocks)
    shapes: dict = {}

    def shape(s) -> tf.Tensor:
        return shapes.setdefault(tuple(s), tf.constant(tuple(s), tf.int32))

    g = tf.concat(
        [tf.reshape(tf.convert_to_tensor(g), shape((-1,))) for g in grads], axis=0
    )  # IndexedSlices -> dense (duplicates summed)
    t.assign_add(1)
    step = tf.cast(t, dtype)
    m.assign(beta1 * m + (1 - beta1) * g)
    v.assign(beta2 * v + (1 - beta2) * tf.square(g))
    c1 = 1 - tf.pow(tf.constant(beta1, dtype), step)
    c2 = 1 - tf.pow(tf.constant(beta2, dtype), step)
    update = (lr / c1) * m / (tf.sqrt(v) / tf.sqrt(c2) + eps)
    for w, u in zip(variables, tf.split(update, [int(np.prod(w.shape)) for w in variables])):
        target = w.value if isinstance(w, keras.Variable) else w  # the tf.Variable
        target.assign_sub(tf.reshape(u, shape(w.shape)), read_value=False)


def _train_step(model: TinyTransformer, batch_size: int, length: int):
    """The traced training step of ``model`` for batches of shape ``(batch_size, length)``, with its Adam state.

    Tracing takes seconds for a 12-block model, so the step is traced once per model and
    batch shape and kept on the model: training it again (for instance after new weights were
    copied in with :func:`copy_from_torch`) reuses it. Returns ``(step, (m, v, t))``;
    ``step(x, y, lr)`` takes one Adam step (:func:`_adam_step`) and returns the loss.
    """
    cache = model.__dict__.get("_godeep_train_steps")
    if cache is None:  # set around Keras' attribute tracking: the Adam state is not a model weight
        cache = {}
        object.__setattr__(model, "_godeep_train_steps", cache)
    if (batch_size, length) not in cache:
        variables = model.trainable_variables
        dtype = variables[0].dtype
        n = sum(int(np.prod(w.shape)) for w in variables)
        state = (
            tf.Variable(tf.zeros(n, dtype)),
            tf.Variable(tf.zeros(n, dtype)),
            tf.Variable(0, dtype=tf.int64),
        )
        spec = tf.TensorSpec((batch_size, length), tf.int64)

        @tf.function(input_signature=[spec, spec, tf.TensorSpec((), dtype)], autograph=False)
        def step(x, y, lr):
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss = tf.reduce_mean(
                    keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
                )
            _adam_step(variables, tape.gradient(loss, variables), *state, lr)
            return loss

        cache[(batch_size, length)] = step, state
    return cache[(batch_size, length)]


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
    """Train ``model`` with Adam (betas 0.9, 0.98) on fresh batches of :func:`sequence_task`; see
    :func:`godeep.transformer.train_on_task`.

    The same batches as the PyTorch function (one :func:`sequence_task` draw per step, seeded
    from ``numpy.random.default_rng(seed)``), the same learning rate :func:`warmup_lr` at
    step ``s`` (``lr * min(1, (s + 1) / warmup)``), the same Adam update with PyTorch's
    ``eps = 1e-8`` and its placement (:func:`_adam_step`), its state reset at every call, and
    the same loss, the cross-entropy averaged over all positions. One ``tf.function`` step,
    traced at the first call on a model (about 3 s for 12 blocks, see :func:`_train_step`).
    Returns the training loss at every step.
    """
    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer, got {type(model).__name__}")
    steps, batch_size, length = (
        _positive_int("steps", steps),
        _positive_int("batch_size", batch_size),
        _positive_int("length", length),
    )
    warmup_lr(0, lr, warmup)  # validates lr and warmup
    validate.number("lr", lr, low=0.0, low_open=True)
    validate.integer("seed", seed, low=0)
    vocab = model.tok.input_dim
    if model.head.units != vocab:
        raise ValueError(
            f"the tasks predict input tokens: the model needs n_out == vocab_size, got {model.head.units} and {vocab}"
        )
    if length > model.max_len:
        raise ValueError(f"length {length} exceeds the model's max_len={model.max_len}")
    from .train import shared_step  # one traced step per architecture, as godeep.keras.train.fit

    with shared_step(
        model, lambda m: _train_step(m, batch_size, length), "train_on_task", batch_size, length
    ) as (step_fn, state):
        for (
            variable
        ) in state:  # a fresh Adam, as torch.optim.Adam at every call of the PyTorch function
            variable.assign(tf.zeros_like(variable))
        dtype = state[0].dtype
        rng = np.random.default_rng(seed)
        losses = np.empty(steps)
        for step in range(steps):
            x, y = sequence_task(task, batch_size, length, vocab, seed=int(rng.integers(2**31)))
            losses[step] = float(
                step_fn(
                    tf.constant(x), tf.constant(y), tf.constant(warmup_lr(step, lr, warmup), dtype)
                )
            )
    return losses
