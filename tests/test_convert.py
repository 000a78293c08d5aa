"""godeep.keras.convert: one module copies PyTorch weights into every Keras twin, and refuses
to copy between different architectures (same weight shapes do not make the same function)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tensorflow")

import godeep  # noqa: E402
from godeep import models, residual, resmlp, transformer  # noqa: E402
from godeep.keras import (  # noqa: E402  (needs the framework checked above)
    convert,
    landscape as klandscape,
    models as kmodels,
    residual as kresidual,
    resmlp as kresmlp,
    transformer as ktransformer,
)


def test_old_names_are_the_conversion_module_functions():
    assert kmodels.copy_from_torch is convert.copy_mlp_from_torch
    assert kresidual.copy_from_torch is convert.copy_resnet_from_torch
    assert kresidual.copy_dense_from_torch is convert.copy_dense_block_from_torch
    assert ktransformer.copy_from_torch is convert.copy_transformer_from_torch
    assert klandscape.direction_from_torch is convert.direction_from_torch


def _images(n: int = 2) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, 3, 16, 16)).astype(np.float32)


def _resnet_outputs(keras_model, torch_model) -> tuple[np.ndarray, np.ndarray]:
    x = _images()
    torch_model.eval()
    with torch.no_grad():
        expected = torch_model(torch.as_tensor(x)).numpy()
    return np.asarray(keras_model(x.transpose(0, 2, 3, 1), training=False)), expected


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"shortcut": "B"},
        {"plain": True},
        {"activation": "full_preact"},
        {"variant": "constant_scaling"},
    ],
)
def test_a_resnet_copies_onto_its_twin(options):
    godeep.seed_everything(0)
    torch_model = residual.cifar_resnet(8, **options)
    keras_model = convert.copy_resnet_from_torch(kresidual.cifar_resnet(8, **options), torch_model)
    out, expected = _resnet_outputs(keras_model, torch_model)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "keras_options, torch_options, message",
    [
        (
            {},
            {"plain": True},
            r"block layer1_0 \(PyTorch layer1\.0\): the shortcut \(False: a plain block\) is False",
        ),
        (
            {"plain": True},
            {},
            r"block layer1_0 .*shortcut .* is True in PyTorch but False in Keras",
        ),
        (
            {},
            {"shortcut": "B"},
            r"block layer2_0 .*shortcut transform is 'projection' in PyTorch but 'zero_pad'",
        ),
        (
            {},
            {"activation": "full_preact"},
            r"block type is 'PreActBasicBlock' in PyTorch but 'BasicBlock'",
        ),
        (
            {"activation": "relu_preact"},
            {"activation": "full_preact"},
            r"activation order is 'full_preact'",
        ),
        (
            {},
            {"variant": "constant_scaling"},
            r"merge is \('ConstantScaling', 0\.5, 1\.0\) in PyTorch but \('Add',\)",
        ),
        (
            {"variant": "constant_scaling"},
            {"variant": "constant_scaling_both"},
            r"merge is \('ConstantScaling', 0\.5, 0\.5\)",
        ),
    ],
)
def test_a_resnet_refuses_another_architecture(keras_options, torch_options, message):
    keras_model = kresidual.cifar_resnet(8, **keras_options)
    before = [w.copy() for w in keras_model.get_weights()]
    with pytest.raises(ValueError, match=message):
        kresidual.copy_from_torch(keras_model, residual.cifar_resnet(8, **torch_options))
    # refused before any weight was written
    assert all(np.array_equal(a, b) for a, b in zip(before, keras_model.get_weights()))


def test_the_issue_case_plain_into_residual_would_change_the_outputs():
    """Why the refusal matters: the plain net's weights fit the residual twin's shapes exactly,
    and the copied net computes something else (the outputs differ by far more than rounding)."""
    godeep.seed_everything(0)
    plain = residual.cifar_resnet(8, plain=True)
    keras_model = kresidual.cifar_resnet(8)
    assert [tuple(w.shape) for w in keras_model.get_weights()] == [
        tuple(w.shape)
        for w in convert.copy_resnet_from_torch(
            kresidual.cifar_resnet(8, plain=True), plain
        ).get_weights()
    ]
    with pytest.raises(ValueError, match="plain block"):
        kresidual.copy_from_torch(keras_model, plain)


def test_a_resnet_refuses_other_widths_naming_the_layer():
    with pytest.raises(
        ValueError,
        match=r"layer conv1: weight 0 has shape \(3, 3, 3, 8\) in PyTorch .* \(3, 3, 3, 16\)",
    ):
        kresidual.copy_from_torch(
            kresidual.cifar_resnet(8), residual.cifar_resnet(8, widths=(8, 16, 32))
        )


def test_an_mlp_copies_and_refuses_another_activation_or_norm():
    godeep.seed_everything(0)
    torch_model = models.mlp(4, 8, 2, 3, activation="tanh")
    keras_model = kmodels.copy_from_torch(kmodels.mlp(4, 8, 2, 3, activation="tanh"), torch_model)
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(
        np.asarray(keras_model(x)),
        torch_model(torch.as_tensor(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-6,
    )
    with pytest.raises(
        ValueError, match="layer act1: the activation is 'relu' in PyTorch but 'tanh' in Keras"
    ):
        kmodels.copy_from_torch(
            kmodels.mlp(4, 8, 2, 3, activation="tanh"), models.mlp(4, 8, 2, 3, activation="relu")
        )
    with pytest.raises(
        ValueError,
        match=r"normalization layers: the list is \['norm1', 'norm2', 'norm3'\] in PyTorch",
    ):
        kmodels.copy_from_torch(kmodels.convnet(), models.convnet(norm="batch"))
    with pytest.raises(ValueError, match=r"layer fc1: weight 0 has shape \(4, 16\)"):
        kmodels.copy_from_torch(kmodels.mlp(4, 8, 2, 3), models.mlp(4, 16, 2, 3))


def test_a_residual_mlp_refuses_its_plain_twin():
    with pytest.raises(
        ValueError, match=r"block block1: residual \(False: a plain block\) is True in PyTorch"
    ):
        kmodels.copy_from_torch(
            kresmlp.residual_mlp(6, 8, 3, 4, plain=True), resmlp.residual_mlp(6, 8, 3, 4)
        )


def test_a_dense_block_refuses_its_plain_twin():
    with pytest.raises(ValueError, match="plain block"):
        block = kresidual.DenseResidualBlock(8, shortcut=False)
        block.build((None, 8))
        kresidual.copy_dense_from_torch(block, residual.DenseResidualBlock(8))


def test_a_transformer_refuses_another_width():
    torch_model = transformer.TinyTransformer(
        vocab_size=10, d_model=16, n_heads=2, n_layers=1, max_len=8
    )
    keras_model = ktransformer.TinyTransformer(
        vocab_size=10, d_model=8, n_heads=2, n_layers=1, max_len=8
    )
    keras_model(np.zeros((1, 8), dtype=np.int64))
    with pytest.raises(ValueError, match="differ in vocab_size, d_model or max_len"):
        ktransformer.copy_from_torch(keras_model, torch_model)
