"""godeep.transformer: the written-out blocks agree with PyTorch's own layers, and the Keras twin agrees with both."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import godeep
from godeep import transformer as T


def _copy_into_torch_layer(ours: T.TransformerBlock, ref: nn.TransformerEncoderLayer) -> None:
    with torch.no_grad():
        a = ours.attn
        ref.self_attn.in_proj_weight.copy_(torch.cat([a.q.weight, a.k.weight, a.v.weight]))
        ref.self_attn.in_proj_bias.copy_(torch.cat([a.q.bias, a.k.bias, a.v.bias]))
        ref.self_attn.out_proj.weight.copy_(a.out.weight)
        ref.self_attn.out_proj.bias.copy_(a.out.bias)
        for mine, theirs in (
            (ours.mlp.fc1, ref.linear1),
            (ours.mlp.fc2, ref.linear2),
            (ours.ln1, ref.norm1),
            (ours.ln2, ref.norm2),
        ):
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)


@pytest.mark.parametrize("norm", ["post", "pre"])
@pytest.mark.parametrize("causal", [False, True])
def test_block_matches_torch_encoder_layer(norm, causal):
    godeep.seed_everything(0)
    ours = T.TransformerBlock(16, 4, d_ff=24, norm=norm).double().eval()
    ref = (
        nn.TransformerEncoderLayer(
            16,
            4,
            dim_feedforward=24,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=(norm == "pre"),
        )
        .double()
        .eval()
    )
    _copy_into_torch_layer(ours, ref)
    x = torch.randn(3, 7, 16, dtype=torch.float64, requires_grad=True)
    mask = (
        nn.Transformer.generate_square_subsequent_mask(7, dtype=torch.float64) if causal else None
    )
    # PyTorch's fast path is off under autograd; compare outputs and input gradients
    out_ref = ref(x, src_mask=mask, is_causal=causal)
    out = ours(x, causal=causal)
    torch.testing.assert_close(out, out_ref, rtol=1e-10, atol=1e-10)
    g = torch.randn_like(out)
    (gx_ref,) = torch.autograd.grad(out_ref, x, g)
    (gx,) = torch.autograd.grad(out, x, g)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-10, atol=1e-10)


def test_attention_matches_scaled_dot_product_attention():
    godeep.seed_everything(1)
    attn = T.MultiHeadSelfAttention(12, 3).double()
    x = torch.randn(2, 5, 12, dtype=torch.float64)
    for causal in (False, True):
        q, k, v = (lin(x).view(2, 5, 3, 4).transpose(1, 2) for lin in (attn.q, attn.k, attn.v))
        heads = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
        expected = attn.out(heads.transpose(1, 2).reshape(2, 5, 12))
        torch.testing.assert_close(attn(x, causal=causal), expected, rtol=1e-12, atol=1e-12)


def test_causal_attention_ignores_the_future():
    godeep.seed_everything(2)
    model = T.TinyTransformer(10, d_model=8, n_heads=2, n_layers=2, max_len=6, causal=True)
    x = torch.randint(0, 10, (1, 6))
    x2 = x.clone()
    x2[0, 4:] = (x2[0, 4:] + 1) % 10
    torch.testing.assert_close(model(x)[:, :4], model(x2)[:, :4])
    assert not torch.allclose(model(x)[:, 4:], model(x2)[:, 4:])


def test_residual_structure_pre_and_post():
    """With both branches' output projections zeroed, a pre-norm block is the identity; a
    post-norm block is LN(LN(x)).
    """
    godeep.seed_everything(3)
    x = torch.randn(2, 4, 8)
    for norm in ("pre", "post"):
        block = T.TransformerBlock(8, 2, norm=norm)
        with torch.no_grad():
            for lin in (block.attn.out, block.mlp.fc2):
                lin.weight.zero_()
                lin.bias.zero_()
        expected = x if norm == "pre" else block.ln2(block.ln1(x))
        torch.testing.assert_close(block(x), expected)
    assert not torch.allclose(expected, x)


def test_tiny_transformer_options():
    godeep.seed_everything(4)
    pre = T.TinyTransformer(10, d_model=8, n_heads=2, n_layers=3, norm="pre")
    post = T.TinyTransformer(10, d_model=8, n_heads=2, n_layers=3, norm="post")
    assert pre.final_norm and isinstance(pre.ln_f, nn.LayerNorm)
    assert not post.final_norm and isinstance(post.ln_f, nn.Identity)
    assert T.TinyTransformer(10, d_model=8, n_heads=2, norm="post", final_norm=True).final_norm
    assert pre(torch.randint(0, 10, (2, 5))).shape == (2, 5, 10)
    assert T.TinyTransformer(10, d_model=8, n_heads=2, n_out=3)(
        torch.randint(0, 10, (2, 5))
    ).shape == (2, 5, 3)
    # GPT-2's scaled init: the residual branches' output projections shrink by 1/sqrt(2 n_layers), nothing else changes
    godeep.seed_everything(5)
    plain = T.TinyTransformer(10, d_model=8, n_heads=2, n_layers=3)
    godeep.seed_everything(5)
    scaled = T.TinyTransformer(10, d_model=8, n_heads=2, n_layers=3, scaled_init=True)
    for (name, p), (_, s) in zip(plain.named_parameters(), scaled.named_parameters()):
        factor = 1 / math.sqrt(6) if name.endswith(("attn.out.weight", "mlp.fc2.weight")) else 1.0
        torch.testing.assert_close(s, p * factor, msg=name)


def test_initialization_distributions():
    godeep.seed_everything(6)
    model = T.TinyTransformer(50, d_model=64, n_heads=4, n_layers=1, max_len=64)
    w = model.blocks[0].mlp.fc1.weight
    bound = math.sqrt(6 / (64 + 256))  # Xavier-uniform
    w = w.detach()
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.95 * bound
    assert float(model.blocks[0].mlp.fc1.bias.detach().abs().max()) == 0.0
    assert abs(float(model.tok.weight.detach().std()) - 1.0) < 0.05


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(d_model=10, n_heads=3), ValueError, "divisible"),
        (dict(d_model=8, n_heads=2, norm="middle"), ValueError, "norm"),
        (dict(d_model=8, n_heads=2, dropout=1.5), ValueError, "dropout"),
        (dict(d_model=8.0, n_heads=2), TypeError, "d_model"),
        (dict(d_model=8, n_heads=0), ValueError, "n_heads"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        T.TransformerBlock(**kwargs)


def test_bad_inputs():
    model = T.TinyTransformer(10, d_model=8, n_heads=2, max_len=4)
    with pytest.raises(ValueError, match="max_len"):
        model(torch.zeros(1, 5, dtype=torch.int64))
    with pytest.raises(TypeError, match="integer"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="batch, length"):
        model(torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="batch, length, d_model"):
        model.blocks[0].attn(torch.zeros(3, 8))


def test_sequence_tasks_and_warmup():
    x, y = T.sequence_task("copy", 4, 6, 5, seed=1)
    assert x.shape == y.shape == (4, 6) and x.dtype == np.int64 and (x == y).all() and x.max() < 5
    x, y = T.sequence_task("reverse", 4, 6, 5, seed=1)
    assert (y == x[:, ::-1]).all()
    x, y = T.sequence_task("sort", 4, 6, 5, seed=1)
    assert (np.diff(y, axis=1) >= 0).all() and (np.sort(x, 1) == y).all()
    with pytest.raises(ValueError, match="kind"):
        T.sequence_task("add", 4)
    assert [T.warmup_lr(s, 1.0, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert T.warmup_lr(0, 0.1, 0) == 0.1
    with pytest.raises(ValueError, match="warmup"):
        T.warmup_lr(0, 0.1, -1)


def test_block_grad_norms_match_autograd():
    godeep.seed_everything(7)
    model = T.TinyTransformer(6, d_model=8, n_heads=2, n_layers=2, norm="post")
    x, y = T.sequence_task("reverse", 5, 4, 6)
    norms = T.block_grad_norms(model, x, y)
    logits = model(torch.as_tensor(x))
    nn.functional.cross_entropy(logits.reshape(-1, 6), torch.as_tensor(y).reshape(-1)).backward()
    b = model.blocks[1]
    expected = math.sqrt(sum(float(l.weight.grad.pow(2).sum()) for l in (b.mlp.fc1, b.mlp.fc2)))
    assert norms["mlp"][1] == pytest.approx(expected, rel=1e-6)
    assert norms["attn"].shape == (2,)


# --------------------------------------------------------------------------- Keras twin

KT = pytest.importorskip("godeep.keras.transformer")


def keras_twins(norm, causal=False, scaled_init=False, seed=0, dtype="float64"):
    godeep.seed_everything(seed)
    pt = T.TinyTransformer(
        11,
        d_model=16,
        n_heads=4,
        n_layers=3,
        max_len=9,
        norm=norm,
        causal=causal,
        scaled_init=scaled_init,
    )
    km = KT.TinyTransformer(
        11,
        d_model=16,
        n_heads=4,
        n_layers=3,
        max_len=9,
        norm=norm,
        causal=causal,
        scaled_init=scaled_init,
        dtype=dtype,
    )
    if dtype == "float64":
        pt = pt.double()
    return pt, KT.copy_from_torch(km, pt)


@pytest.mark.parametrize("norm", ["post", "pre"])
@pytest.mark.parametrize("causal", [False, True])
def test_keras_twin_same_outputs_and_gradient_norms(norm, causal):
    pt, km = keras_twins(norm, causal)
    assert km.count_params() == sum(p.numel() for p in pt.parameters())
    x, y = T.sequence_task("sort", 6, 8, 11, seed=3)
    np.testing.assert_allclose(
        np.asarray(km(x)), pt(torch.as_tensor(x)).detach().numpy(), rtol=1e-9, atol=1e-10
    )
    g_pt, g_k = T.block_grad_norms(pt, x, y), KT.block_grad_norms(km, x, y)
    for part in ("attn", "mlp"):
        np.testing.assert_allclose(g_k[part], g_pt[part], rtol=1e-9)


def test_keras_twin_float32_and_options():
    pt, km = keras_twins("pre", scaled_init=True, dtype="float32")
    x, _ = T.sequence_task("copy", 4, 9, 11)
    np.testing.assert_allclose(
        np.asarray(km(x)), pt(torch.as_tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5
    )
    assert km.ln_f is not None and km.blocks[0].ln1.epsilon == T.LN_EPS
    # scaled init in Keras shrinks the branch output kernels: same seed, with and without
    godeep.seed_everything(8)
    km_plain = KT.TinyTransformer(11, d_model=16, n_heads=4, n_layers=2)
    km_scaled = KT.TinyTransformer(11, d_model=16, n_heads=4, n_layers=2, scaled_init=True)
    ratio = np.std(np.asarray(km_scaled.blocks[0].mlp.fc2.kernel)) / np.std(
        np.asarray(km_plain.blocks[0].mlp.fc2.kernel)
    )
    assert 0.35 < ratio < 0.65  # 1/sqrt(4) = 0.5, up to sampling noise of two independent draws


def test_keras_bad_arguments_match():
    with pytest.raises(ValueError, match="divisible"):
        KT.TransformerBlock(10, 3)
    with pytest.raises(ValueError, match="norm"):
        KT.TinyTransformer(10, d_model=8, n_heads=2, norm="middle")
    km = KT.TinyTransformer(10, d_model=8, n_heads=2, max_len=4)
    with pytest.raises(ValueError, match="max_len"):
        km(np.zeros((1, 5), dtype=np.int64))
    pt = T.TinyTransformer(10, d_model=8, n_heads=2, n_layers=3)
    with pytest.raises(ValueError, match="differ"):
        KT.copy_from_torch(km, pt)


def test_train_on_task_learns_copy():
    godeep.seed_everything(9)
    model = T.TinyTransformer(6, d_model=16, n_heads=2, n_layers=1, max_len=5, norm="pre")
    losses = T.train_on_task(
        model, "copy", steps=60, lr=3e-3, warmup=10, batch_size=32, length=5, seed=0
    )
    assert losses.shape == (60,) and np.isfinite(losses).all()
    assert losses[-10:].mean() < 0.5 * losses[:5].mean()


def test_train_on_task_rejects_mismatched_head():
    model = T.TinyTransformer(6, d_model=8, n_heads=2, n_out=3)
    with pytest.raises(ValueError, match="n_out"):
        T.train_on_task(model, "copy", steps=1)


# --------------------------------------------------------------------------- training, both frameworks


@pytest.mark.parametrize("norm, warmup", [("post", 4), ("pre", 0)])
def test_keras_train_on_task_follows_torch(norm, warmup):
    """A Keras twin with the PyTorch model's weights, trained on the same batches, takes the same steps.

    In float64 the two differ only in the order of floating-point additions (1e-16 relative);
    Adam divides each gradient by its own running size, which can magnify such differences
    in weights whose gradient is near zero, but over 8 steps they stay below 1e-13 (seen: 1e-15).
    """
    pt, km = keras_twins(norm)
    kwargs = dict(steps=8, lr=3e-3, warmup=warmup, batch_size=16, length=8, seed=4)
    losses_k = KT.train_on_task(km, "sort", **kwargs)
    losses_pt = T.train_on_task(pt, "sort", **kwargs)
    assert losses_k.shape == (8,) and losses_k[-1] < losses_k[0]
    np.testing.assert_allclose(losses_k, losses_pt, rtol=1e-13)
    x, _ = T.sequence_task("sort", 4, 8, 11, seed=9)
    np.testing.assert_allclose(
        np.asarray(km(x)), pt(torch.as_tensor(x)).detach().numpy(), rtol=1e-11, atol=1e-11
    )


def test_adam_epsilon_placement_matches_torch_not_keras():
    """PyTorch adds eps to the bias-corrected sqrt(v); Keras' Adam to the uncorrected one.

    At step 1 (beta2 = 0.98) PyTorch moves each weight by lr g / (|g| + eps), Keras by
    lr g / (|g| + eps / sqrt(0.02)): the same for |g| >> eps, not for small gradients.
    """
    g = np.array([1e-8, 1e-6, 1.0])
    w_pt = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([w_pt], lr=0.1, betas=(0.9, 0.98), eps=1e-8)
    w_pt.grad = torch.as_tensor(g)
    opt.step()
    tf = KT.tf
    w_ours = tf.Variable(tf.zeros(3, tf.float64))
    m, v, t = (
        tf.Variable(tf.zeros(3, tf.float64)),
        tf.Variable(tf.zeros(3, tf.float64)),
        tf.Variable(0, dtype=tf.int64),
    )
    KT._adam_step([w_ours], [tf.constant(g)], m, v, t, tf.constant(0.1, tf.float64))
    np.testing.assert_allclose(w_ours.numpy(), w_pt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(w_pt.detach().numpy(), -0.1 * g / (g + 1e-8), rtol=1e-12)
    w_keras = KT.keras.Variable(np.zeros(3), dtype="float64")
    KT.keras.optimizers.Adam(learning_rate=0.1, beta_1=0.9, beta_2=0.98, epsilon=1e-8).apply(
        [tf.constant(g)], [w_keras]
    )
    np.testing.assert_allclose(
        np.asarray(w_keras), -0.1 * g / (g + 1e-8 / math.sqrt(0.02)), rtol=1e-6
    )
    assert (
        abs(float(w_keras[0]) - float(w_pt.detach()[0])) > 0.03
    )  # 0.012 vs 0.05 for the smallest gradient


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(task="add"), ValueError, "kind"),
        (dict(steps=0), ValueError, "steps"),
        (dict(batch_size=2.5), TypeError, "batch_size"),
        (dict(warmup=-1), ValueError, "warmup"),
        (dict(length=7), ValueError, "max_len"),
    ],
)
@pytest.mark.parametrize("framework", ["pytorch", "keras"])
def test_train_on_task_bad_arguments(framework, kwargs, error, match):
    kwargs = {"task": "copy", "steps": 2, "batch_size": 4, "length": 4, **kwargs}
    godeep.seed_everything(10)
    if framework == "pytorch":
        model, train = (
            T.TinyTransformer(6, d_model=8, n_heads=2, n_layers=1, max_len=5),
            T.train_on_task,
        )
    else:
        model, train = (
            KT.TinyTransformer(6, d_model=8, n_heads=2, n_layers=1, max_len=5),
            KT.train_on_task,
        )
    weights = lambda: (
        [w.numpy().copy() for w in model.weights]
        if framework == "keras"
        else [p.detach().numpy().copy() for p in model.parameters()]
    )
    before = weights()
    with pytest.raises(error, match=match):
        train(model, **kwargs)
    after = weights()
    assert all((a == b).all() for a, b in zip(before, after))  # rejected before any update


def test_keras_train_on_task_rejects_mismatched_head():
    with pytest.raises(ValueError, match="n_out"):
        KT.train_on_task(KT.TinyTransformer(6, d_model=8, n_heads=2, n_out=3), "copy", steps=1)


def test_keras_train_on_task_twice_on_one_model_starts_a_fresh_adam():
    """The traced step is kept on the model; a second call resets Adam, like a new torch.optim.Adam."""
    pt, km = keras_twins("post", dtype="float64")
    kwargs = dict(steps=3, lr=3e-3, warmup=2, batch_size=8, length=8, seed=5)
    KT.train_on_task(km, "copy", **kwargs)
    T.train_on_task(pt, "copy", **kwargs)
    assert len(km.weights) == sum(
        1 for _ in pt.parameters()
    )  # the Adam state is not a model weight
    np.testing.assert_allclose(
        KT.train_on_task(km, "reverse", **kwargs),
        T.train_on_task(pt, "reverse", **kwargs),
        rtol=1e-13,
    )
