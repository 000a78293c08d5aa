"""godeep.reproduce's PyTorch runner on CPU: smoke runs, exact resume, DDP under torchrun
(Gloo) against one process, and the errors a reader may meet. Data: a few dozen synthetic
images written as CIFAR-10 binary files (nothing is downloaded)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from godeep.reproduce import Recipe, RunConfig, lr_at, read_metrics
from godeep.reproduce.__main__ import main
from godeep.reproduce.config import SetupError
from godeep.reproduce.data import synthetic_cifar
from godeep.reproduce.torch_runner import GlobalBatchNorm2d, build_model, run, setup_distributed

CODE = Path(__file__).resolve().parents[1] / "code"


@pytest.fixture(scope="module")
def cifar_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    synthetic_cifar(root, n_train=48, n_test=24, seed=0)
    return root


def small(cifar_dir, out, **kw) -> RunConfig:
    base = dict(
        depth=8,
        data_dir=str(cifar_dir),
        out=str(out),
        steps=6,
        batch_size=8,
        device="cpu",
        threads=1,
        log_every=1,
        eval_every=3,
        checkpoint_every=100,
        seed=1,
    )
    return RunConfig(**{**base, **kw})


def losses(out) -> list[float]:
    return [r["loss"] for r in read_metrics(out)]


def test_smoke_cifar_resnet_writes_metrics_and_checkpoint(cifar_dir, tmp_path, capsys):
    code = main(
        [
            "cifar-resnet",
            "--depth",
            "8",
            "--plain",
            "--data-dir",
            str(cifar_dir),
            "--out",
            str(tmp_path),
            "--steps",
            "4",
            "--batch-size",
            "8",
            "--device",
            "cpu",
            "--log-every",
            "2",
            "--eval-every",
            "4",
            "--threads",
            "1",
        ]
    )
    assert code == 0
    records = read_metrics(tmp_path)
    assert [r["step"] for r in records] == [2, 4]
    for r in records:
        assert {"step", "loss", "lr", "train_err", "test_err", "images_per_s"} <= set(r)
        assert np.isfinite(r["loss"]) and 0 <= r["train_err"] <= 1 and r["images_per_s"] > 0
    assert records[0]["test_err"] is None and 0 <= records[1]["test_err"] <= 1
    assert (tmp_path / "checkpoint.pt").is_file()
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert ckpt["step"] == 4 and ckpt["config"]["plain"] is True


def test_resumed_run_repeats_the_uninterrupted_loss_sequence(cifar_dir, tmp_path):
    run(small(cifar_dir, tmp_path / "whole"))
    run(small(cifar_dir, tmp_path / "parts", stop_after=4, checkpoint_every=3))
    # the file holds steps 1..4; the checkpoint is at 4 (the stop)
    assert [r["step"] for r in read_metrics(tmp_path / "parts")] == [1, 2, 3, 4]
    run(small(cifar_dir, tmp_path / "parts", resume=True))
    assert losses(tmp_path / "parts") == losses(tmp_path / "whole")  # bitwise on one CPU thread
    a = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "parts" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_a_checkpoint_of_other_settings(cifar_dir, tmp_path):
    run(small(cifar_dir, tmp_path, steps=2))
    with pytest.raises(SetupError, match="depth=8"):
        run(small(cifar_dir, tmp_path, steps=2, depth=14, resume=True))


def test_warmup_ends_at_the_first_window_below_80_percent_and_lr_follows(cifar_dir, tmp_path):
    run(small(cifar_dir, tmp_path, steps=60, warmup="on", lr=0.1, eval_every=60))
    records = read_metrics(tmp_path)
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    r = Recipe(**{**ckpt["recipe"], "milestones": tuple(ckpt["recipe"]["milestones"])})
    errs = [rec["train_err"] for rec in records]  # one process, log_every=1: each batch's error
    window = r.warmup_window
    expected = next(
        s + 1
        for s in range(window - 1, len(errs))
        if np.mean(errs[s + 1 - window : s + 1]) < r.warmup_error
    )
    assert ckpt["warmup_end"] == expected
    assert [rec["lr"] for rec in records] == [lr_at(s, r, expected) for s in range(60)]
    assert records[0]["lr"] == pytest.approx(0.01) and max(rec["lr"] for rec in records) == 0.1


def test_smoke_norm_batch_group_norm(cifar_dir, tmp_path):
    cfg = small(
        cifar_dir,
        tmp_path,
        experiment="norm-batch",
        norm="group",
        batch_size=None,
        per_device_batch=4,
        steps=3,
        depth=8,
    )
    model = build_model(cfg, torch.device("cpu"), world=1)
    gns = [m for m in model.modules() if isinstance(m, torch.nn.GroupNorm)]
    assert gns and not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert {(m.num_groups, m.num_channels) for m in gns} == {(16, 16), (32, 32), (32, 64)}
    last = run(cfg)
    assert last["step"] == 3 and np.isfinite(last["loss"])


def test_bad_depth_missing_data_and_too_many_processes_are_clear_errors(
    cifar_dir, tmp_path, capsys
):
    assert main(["cifar-resnet", "--depth", "51", "--data-dir", str(cifar_dir)]) == 2
    assert "6n+2" in capsys.readouterr().err
    assert main(["cifar-resnet", "--data-dir", str(tmp_path / "none"), "--device", "cpu"]) == 2
    assert "prepare-data" in capsys.readouterr().err
    env = {"WORLD_SIZE": "4096", "LOCAL_WORLD_SIZE": "4096", "RANK": "0", "LOCAL_RANK": "0"}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        with pytest.raises(SetupError, match="4096 processes on this machine but only"):
            setup_distributed("cpu")
        if not torch.cuda.is_available():
            with pytest.raises(SetupError, match="no GPU"):
                setup_distributed("cuda")


def _torchrun(nproc: int, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(CODE), "GODEEP_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "godeep.reproduce",
        *args,
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def test_two_process_ddp_with_gloo_matches_one_process_with_the_same_global_batch(
    cifar_dir, tmp_path
):
    args = [
        "cifar-resnet",
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
        "--threads",
        "1",
        "--log-every",
        "1",
        "--eval-every",
        "4",
        "--seed",
        "3",
    ]
    one = tmp_path / "one"
    run(
        RunConfig(
            depth=8,
            data_dir=str(cifar_dir),
            out=str(one),
            steps=4,
            batch_size=16,
            device="cpu",
            threads=1,
            log_every=1,
            eval_every=4,
            seed=3,
        )
    )
    synced = _torchrun(2, args + ["--sync-bn", "--out", str(tmp_path / "sync")])
    assert synced.returncode == 0, synced.stderr[-3000:]
    np.testing.assert_allclose(losses(tmp_path / "sync"), losses(one), rtol=2e-5)
    # the control: per-process BN statistics (batch 8 each) are not one batch of 16
    local = _torchrun(2, args + ["--out", str(tmp_path / "local")])
    assert local.returncode == 0, local.stderr[-3000:]
    gap = np.abs(np.array(losses(tmp_path / "local")) - losses(one)).max()
    assert gap > 1e-3
    assert [r["train_err"] for r in read_metrics(tmp_path / "sync")] == [
        r["train_err"] for r in read_metrics(one)
    ]


def test_global_batch_norm_is_batch_norm_in_one_process():
    torch.manual_seed(0)
    bn, gbn = torch.nn.BatchNorm2d(3), GlobalBatchNorm2d(3)
    x = torch.randn(4, 3, 5, 5)
    torch.testing.assert_close(gbn(x), bn(x))
    torch.testing.assert_close(gbn.running_var, bn.running_var)
