"""godeep.reproduce's Keras runner on CPU: a smoke run, exact resume, and MirroredStrategy on
two logical CPU devices against one device (synthetic CIFAR-format files; no download)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from godeep.reproduce import RunConfig, read_metrics  # noqa: E402
from godeep.reproduce.data import synthetic_cifar  # noqa: E402

CODE = Path(__file__).resolve().parents[1] / "code"


@pytest.fixture(scope="module")
def cifar_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    synthetic_cifar(root, n_train=48, n_test=24, seed=0)
    return root


def losses(out) -> list[float]:
    return [r["loss"] for r in read_metrics(out)]


def cfg(cifar_dir, out, **kw) -> RunConfig:
    base = dict(
        framework="keras",
        depth=8,
        data_dir=str(cifar_dir),
        out=str(out),
        steps=4,
        batch_size=16,
        device="cpu",
        log_every=1,
        eval_every=4,
        checkpoint_every=100,
        seed=3,
    )
    return RunConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def one_device(cifar_dir, tmp_path_factory):
    """An uninterrupted 4-step run on one device, in this process: (its folder, last record)."""
    from godeep.reproduce.keras_runner import run

    out = tmp_path_factory.mktemp("one")
    return out, run(cfg(cifar_dir, out))


def test_keras_smoke_run_and_exact_resume(cifar_dir, one_device, tmp_path):
    from godeep.reproduce.keras_runner import run

    whole, last = one_device
    records = read_metrics(whole)
    assert [r["step"] for r in records] == [1, 2, 3, 4] and last["step"] == 4
    assert all(np.isfinite(r["loss"]) and r["images_per_s"] > 0 for r in records)
    assert 0 <= records[-1]["test_err"] <= 1 and records[0]["test_err"] is None
    run(cfg(cifar_dir, tmp_path / "parts", stop_after=2))
    run(cfg(cifar_dir, tmp_path / "parts", resume=True))
    np.testing.assert_allclose(losses(tmp_path / "parts"), losses(whole), rtol=1e-6)


def _cli(args: list[str]) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(CODE),
        "GODEEP_PROGRESS": "0",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_ENABLE_ONEDNN_OPTS": "0",
    }
    return subprocess.run(
        [sys.executable, "-m", "godeep.reproduce", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_mirrored_strategy_on_two_logical_cpus_matches_one_device(cifar_dir, one_device, tmp_path):
    args = [
        "cifar-resnet",
        "--framework",
        "keras",
        "--depth",
        "8",
        "--data-dir",
        str(cifar_dir),
        "--steps",
        "4",
        "--batch-size",
        "16",
        "--device",
        "cpu",
        "--log-every",
        "1",
        "--eval-every",
        "4",
        "--seed",
        "3",
    ]
    one = one_device[0]  # the same settings, run in this process on one device
    two = _cli(args + ["--devices", "2", "--sync-bn", "--out", str(tmp_path / "two")])
    assert two.returncode == 0, two.stderr[-3000:]
    assert "2 replica(s)" in two.stderr
    np.testing.assert_allclose(losses(tmp_path / "two"), losses(one), rtol=2e-5)
    # the control: per-replica BN statistics over 8 images each are not one batch of 16
    local = _cli(args + ["--devices", "2", "--steps", "2", "--out", str(tmp_path / "local")])
    assert local.returncode == 0, local.stderr[-3000:]
    assert abs(losses(tmp_path / "local")[0] - losses(one)[0]) > 1e-3
