"""godeep.reproduce without a framework: He et al.'s schedule, the augmentation, the data."""

import json

import numpy as np
import pytest

from godeep.reproduce import augment, recipe
from godeep.reproduce.config import RunConfig, SetupError, recipe_for
from godeep.reproduce.data import DataError, load_prepared, synthetic_cifar, write_cifar_files
from godeep.reproduce.metrics import MetricsWriter, read_metrics

# ---------------------------------------------------------------- the learning-rate schedule


def test_paper_recipe_is_section_4_2():
    r = recipe.paper_recipe(56)
    assert (r.lr, r.momentum, r.weight_decay, r.batch_size) == (0.1, 0.9, 1e-4, 128)
    assert r.steps == 64_000 and r.milestones == (32_000, 48_000) and not r.warmup
    assert recipe.paper_recipe(110).warmup and recipe.paper_recipe(110).warmup_lr == 0.01


@pytest.mark.parametrize(
    "step, lr",
    [
        (0, 0.01),
        (399, 0.01),
        (400, 0.1),
        (31_999, 0.1),
        (32_000, 0.01),
        (47_999, 0.01),
        (48_000, 0.001),
        (63_999, 0.001),
    ],
)
def test_lr_schedule_of_resnet110_with_warmup_ending_at_400(step, lr):
    r = recipe.paper_recipe(110)
    assert recipe.lr_at(step, r, warmup_end=400) == pytest.approx(lr)


def test_lr_schedule_without_warmup_and_while_warming_up():
    r20, r110 = recipe.paper_recipe(20), recipe.paper_recipe(110)
    assert [recipe.lr_at(s, r20) for s in (0, 399, 400)] == [0.1, 0.1, 0.1]
    assert recipe.lr_at(32_000, r20) == pytest.approx(0.01)
    assert recipe.lr_at(48_000, r20) == pytest.approx(0.001)
    # no warm-up end yet: still at 0.01, even past the first milestone
    assert recipe.lr_at(40_000, r110, warmup_end=None) == 0.01


def test_warmup_ends_when_windowed_training_error_drops_below_80_percent():
    r = recipe.paper_recipe(110)
    assert not recipe.warmup_finished([0.7] * (r.warmup_window - 1), r)
    assert not recipe.warmup_finished([0.9] * r.warmup_window, r)
    assert recipe.warmup_finished([0.95] * 5 + [0.75] * r.warmup_window, r)


def test_shorter_runs_keep_milestones_at_half_and_three_quarters_and_scale_lr():
    r = recipe.paper_recipe(20, steps=1000, batch_size=256)
    assert r.milestones == (500, 750) and r.lr == pytest.approx(0.2)


@pytest.mark.parametrize("depth", [7, 21, 0, 56.0, True])
def test_bad_depth_is_rejected(depth):
    with pytest.raises((ValueError, TypeError), match="depth"):
        recipe.check_depth(depth)


def test_steps_per_epoch_drops_the_last_partial_batch_and_checks_divisibility():
    assert recipe.steps_per_epoch(50_000, 128) == 390
    assert recipe.steps_per_epoch(50_000, 128, world_size=4) == 390
    with pytest.raises(ValueError, match="divisible"):
        recipe.steps_per_epoch(100, 10, world_size=3)
    with pytest.raises(ValueError, match="no full batch"):
        recipe.steps_per_epoch(10, 16)


def test_norm_batch_trains_the_same_epochs_at_every_batch_size():
    for per_device in (32, 2):
        cfg = RunConfig(experiment="norm-batch", depth=20, per_device_batch=per_device, epochs=2)
        b = cfg.global_batch(1)
        assert recipe_for(cfg, b, 1000).steps == int(np.ceil(2 * 1000 / b))
    with pytest.raises(SetupError, match="contradicts"):
        RunConfig(per_device_batch=8, batch_size=32).global_batch(2)


# ---------------------------------------------------------------- the augmentation


def test_crop_flip_params_ranges_and_reproducibility():
    off, flips = augment.crop_flip_params(seed=1, step=7, n=4000)
    assert off.shape == (4000, 2) and flips.shape == (4000,)
    assert off.min() == 0 and off.max() == 8  # every offset of 0..2*4 occurs
    assert 0.45 < flips.mean() < 0.55
    again = augment.crop_flip_params(seed=1, step=7, n=4000)
    assert (again[0] == off).all() and (again[1] == flips).all()
    other = augment.crop_flip_params(seed=1, step=8, n=4000)
    assert (other[0] != off).any()


def test_pad_crop_flip_shapes_and_contents():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 3, 32, 32)).astype(np.float32)
    padded = augment.pad(x)
    assert padded.shape == (3, 3, 40, 40) and (padded[:, :, :4] == 0).all()
    offsets = np.array([[4, 4], [4, 4], [0, 8]])
    flips = np.array([False, True, False])
    out = augment.crop_flip(padded, offsets, flips)
    assert out.shape == (3, 3, 32, 32)
    np.testing.assert_array_equal(out[0], x[0])  # centre crop, no flip: the image itself
    np.testing.assert_array_equal(out[1], x[1][:, :, ::-1])  # centre crop, mirrored
    # top-right corner: rows shift down by 4 (zeros on top), columns left by 4 (zeros right)
    np.testing.assert_array_equal(out[2][:, 4:, :28], x[2][:, :28, 4:])
    assert (out[2][:, :4] == 0).all() and (out[2][:, :, 28:] == 0).all()


def test_crop_flip_torch_matches_numpy():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).normal(size=(5, 3, 32, 32)).astype(np.float32)
    off, flips = augment.crop_flip_params(0, 0, 5)
    want = augment.crop_flip(augment.pad(x), off, flips)
    got = augment.crop_flip(augment.pad(torch.from_numpy(x)), off, flips)
    np.testing.assert_array_equal(got.numpy(), want)


def test_crop_flip_rejects_bad_offsets():
    padded = np.zeros((2, 3, 40, 40), np.float32)
    with pytest.raises(ValueError, match="offsets"):
        augment.crop_flip(padded, np.array([[0, 9], [0, 0]]), np.zeros(2, bool))
    with pytest.raises(ValueError, match="need 2"):
        augment.crop_flip(padded, np.zeros((1, 2), int), np.zeros(1, bool))


# ---------------------------------------------------------------- the data


def test_prepared_data_round_trips_and_subtracts_the_training_mean(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(30, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, size=30)
    write_cifar_files(tmp_path, x, y, x[:7], y[:7])
    d = load_prepared(tmp_path, train_subset=20)
    mean = (x[:20] / 255.0).mean(0)
    np.testing.assert_allclose(d.mean, mean, atol=1e-6)
    np.testing.assert_allclose(d.x_train, x[:20] / 255.0 - mean, atol=1e-6)
    np.testing.assert_array_equal(d.y_train, y[:20])
    np.testing.assert_allclose(d.x_test, x[:7] / 255.0 - mean, atol=1e-6)
    split = load_prepared(tmp_path, val_split=True)
    assert (len(split.y_train), len(split.y_val)) == (27, 3)
    np.testing.assert_array_equal(split.y_val, y[27:])


def test_missing_and_damaged_data_directories_say_what_to_do(tmp_path):
    with pytest.raises(DataError, match="does not exist.*prepare-data"):
        load_prepared(tmp_path / "nowhere")
    with pytest.raises(DataError, match="(?s)missing or incomplete.*prepare-data"):
        load_prepared(tmp_path)
    folder = synthetic_cifar(tmp_path, 20, 10)
    with open(folder / "data_batch_2.bin", "ab") as f:
        f.write(b"\x00" * 100)  # a truncated or padded file: not whole records
    with pytest.raises(DataError, match="(?s)damaged.*prepare-data"):
        load_prepared(tmp_path)


def test_metrics_writer_drops_lines_after_the_resumed_checkpoint(tmp_path):
    w = MetricsWriter(tmp_path)
    for s in range(1, 6):
        w.write(
            {
                "step": s,
                "loss": 1.0 / s,
                "lr": 0.1,
                "train_err": 0.5,
                "test_err": None,
                "images_per_s": float("nan"),
            }
        )
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2, 3, 4, 5]
    assert read_metrics(tmp_path)[0]["images_per_s"] is None  # NaN is not JSON
    MetricsWriter(tmp_path, resume_step=3)
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2, 3]
    with pytest.raises(ValueError, match="lacks"):
        w.write({"step": 1})
    json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])


def test_error_curves_and_figure6_plot_read_metrics(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from godeep.reproduce.curves import error_curves, plot_error_curves

    w = MetricsWriter(tmp_path)
    for s, test in ((10, None), (20, 0.5), (30, None), (40, 0.25)):
        w.write(
            {
                "step": s,
                "loss": 1.0,
                "lr": 0.1,
                "train_err": 1 - s / 50,
                "test_err": test,
                "images_per_s": 1.0,
            }
        )
    c = error_curves(tmp_path)
    np.testing.assert_array_equal(c["step"], [10, 20, 30, 40])
    np.testing.assert_array_equal(c["test_step"], [20, 40])
    np.testing.assert_allclose(c["test_err"], [0.5, 0.25])
    fig, ax = plt.subplots()
    plot_error_curves(ax, {"a": tmp_path, "b": tmp_path / "metrics.jsonl"})
    assert len(ax.lines) == 4  # a train, a test, b train, b test
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [50, 25])  # percent
    plt.close(fig)


def test_prepare_data_offline_is_a_clear_error(tmp_path, monkeypatch, capsys):
    from godeep.data import download
    from godeep.reproduce.__main__ import main

    def offline(url, destination):
        raise OSError("network is unreachable")

    monkeypatch.setattr(download, "_urlretrieve", offline)  # the module that looks the name up
    assert main(["prepare-data", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "could not prepare CIFAR-10" in err and "network is unreachable" in err
