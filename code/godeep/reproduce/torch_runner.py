"""The PyTorch runner: one process, or many under ``torchrun`` with DistributedDataParallel.

Everything random in a run is a function of ``(seed, step)``: the data order comes from
``DistributedSampler`` (seeded with ``seed``, reshuffled by ``set_epoch``), the crops and flips
from :func:`~godeep.reproduce.augment.crop_flip_params`, the weights from ``seed``. A checkpoint
therefore holds only the model, the optimizer, the step and the warm-up state, and a resumed
run computes what the uninterrupted one would have; and a global batch is the same set of
images however many processes share it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler

from godeep.residual import cifar_resnet
from godeep.train import progress

from .augment import PAD, crop_flip, crop_flip_params, pad
from .config import RESUME_KEYS, RunConfig, SetupError, recipe_for
from .data import load_prepared
from .metrics import MetricsWriter, atomic_save
from .recipe import TABLE6, Recipe, lr_at, steps_per_epoch, warmup_finished

__all__ = ["Dist", "setup_distributed", "build_model", "GlobalBatchNorm2d", "Trainer", "run"]

CHECKPOINT = "checkpoint.pt"


# ------------------------------------------------------------------------------------------
# Processes and devices
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dist:
    """This process's place: ``rank`` of ``world`` processes, on ``device``."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str | None) -> Dist:
    """Read torchrun's RANK / WORLD_SIZE / LOCAL_RANK, check there are enough devices, and join
    the process group (NCCL on GPUs, Gloo on CPUs). Without torchrun: one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    kind = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if kind == "cuda":
        n = torch.cuda.device_count()
        if n == 0:
            raise SetupError(
                "--device cuda but PyTorch sees no GPU (torch.cuda.is_available() "
                "is False); use --device cpu"
            )
        if local_world > n:
            raise SetupError(
                f"{local_world} processes on this machine but only {n} GPU(s): "
                f"use --nproc_per_node={n} or fewer"
            )
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        cores = os.cpu_count() or 1
        if local_world > cores:
            raise SetupError(
                f"{local_world} processes on this machine but only {cores} CPU "
                f"core(s): use --nproc_per_node={cores} or fewer"
            )
        dev = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if kind == "cuda" else "gloo")
    return Dist(rank, world, local_rank, dev)


# ------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm whose training statistics are taken over the *global* batch of all processes.

    mean = sum_r S_r / sum_r n_r, var = sum_r Q_r / sum_r n_r - mean^2 (S, Q: per-channel sums
    of x and x^2 on process r), summed with an autograd-aware all-reduce, so gradients flow
    through the statistics as in one big batch. ``nn.SyncBatchNorm`` does this on GPUs only;
    this module runs on any backend (Gloo on CPUs) and is what ``--sync-bn`` uses on CPU.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (
            self.training
            and dist.is_available()
            and dist.is_initialized()
            and dist.get_world_size() > 1
        ):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        c = x.shape[1]
        count = x.new_full((1,), x.numel() / c)
        stats = all_reduce(torch.cat([x.sum((0, 2, 3)), (x * x).sum((0, 2, 3)), count]))
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c : 2 * c] / n - mean * mean).clamp_min(0)
        with torch.no_grad():
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * mean)
            self.running_var.mul_(1 - m).add_(m * var * n / (n - 1).clamp_min(1))
            self.num_batches_tracked.add_(1)
        shape = (1, c, 1, 1)
        x_hat = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return x_hat * self.weight.view(shape) + self.bias.view(shape)


def _replace_bn(module: nn.Module, make) -> nn.Module:
    """Replace every nn.BatchNorm2d below ``module`` by ``make(bn)``."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, make(child))
        else:
            _replace_bn(child, make)
    return module


def _to_global_bn(bn: nn.BatchNorm2d) -> GlobalBatchNorm2d:
    new = GlobalBatchNorm2d(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
    new.load_state_dict(bn.state_dict())
    return new


def build_model(cfg: RunConfig, device: torch.device, world: int) -> nn.Module:
    """He et al.'s CIFAR ResNet (:func:`godeep.residual.cifar_resnet`, option A shortcuts, or
    ``plain``), with GroupNorm (min(groups, C) groups) instead of BN for ``norm="group"``, and
    BN synchronized across processes for ``sync_bn``."""
    torch.manual_seed(cfg.seed)
    model = cifar_resnet(cfg.depth, plain=cfg.plain)
    if cfg.norm == "group":

        def to_gn(bn: nn.BatchNorm2d) -> nn.GroupNorm:
            c = bn.num_features
            g = min(cfg.groups, c)
            while c % g:
                g -= 1
            return nn.GroupNorm(g, c, eps=bn.eps)

        _replace_bn(model, to_gn)
    elif cfg.sync_bn and world > 1:
        if device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        else:
            _replace_bn(model, _to_global_bn)
    model = model.to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


# ------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------


class Trainer:
    """The model, optimizer and data of one run, and its training step."""

    def __init__(self, cfg: RunConfig, where: Dist, x_train: np.ndarray, y_train: np.ndarray):
        self.cfg, self.where = cfg, where
        self.device = where.device
        self.global_batch = cfg.global_batch(where.world)
        self.local_batch = self.global_batch // where.world
        self.n_train = len(y_train)
        self.spe = steps_per_epoch(self.n_train, self.global_batch, where.world)
        self.recipe: Recipe = recipe_for(cfg, self.global_batch, self.n_train)
        self.x_pad = pad(torch.from_numpy(x_train)).to(self.device)
        self.y_train = torch.from_numpy(y_train).to(self.device)
        self.model = build_model(cfg, self.device, where.world)
        self.net = self.model
        if where.world > 1:
            ids = [where.local_rank] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        if cfg.compile:
            self.net = torch.compile(self.net)
        r = self.recipe
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay
        )
        self.amp_dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=cfg.amp and self.device.type == "cuda"
        )
        self.sampler = DistributedSampler(
            range(self.n_train),
            num_replicas=where.world,
            rank=where.rank,
            shuffle=True,
            seed=cfg.seed,
        )
        self._epoch, self._order = -1, None
        self.step = 0
        self.warmup_end: int | None = None
        self.recent_errors: list[float] = []

    # -- data ------------------------------------------------------------------------------
    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """This process's share of global batch ``step``: images ``r, r + W, r + 2W, ...`` of
        it (r = rank, W = processes), augmented with the global batch's crops and flips."""
        epoch, b = divmod(step, self.spe)
        if epoch != self._epoch:
            self.sampler.set_epoch(epoch)
            self._order = torch.tensor(list(self.sampler), dtype=torch.long)
            self._epoch = epoch
        idx = self._order[b * self.local_batch : (b + 1) * self.local_batch].to(self.device)
        offsets, flips = crop_flip_params(self.cfg.seed, step, self.global_batch, PAD)
        w, r = self.where.world, self.where.rank
        x = crop_flip(self.x_pad[idx], offsets[r::w], flips[r::w])
        if self.cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, self.y_train[idx]

    # -- one iteration ---------------------------------------------------------------------
    def autocast(self):
        if not self.cfg.amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def train_step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
        """One SGD step at rate ``lr``; returns (loss * n, wrong, n) on the device, unsynced."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            logits = self.net(x)
            loss = F.cross_entropy(logits, y)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        n = y.new_tensor(len(y), dtype=torch.float32)
        wrong = (logits.detach().argmax(1) != y).sum().float()
        return torch.stack([loss.detach().float() * n, wrong, n])

    def all_sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.where.world > 1:
            t = t.clone()
            dist.all_reduce(t)
        return t

    @torch.no_grad()
    def error(self, x: np.ndarray, y: np.ndarray) -> float:
        """Error rate of the model in eval mode (BN running statistics) on all of (x, y)."""
        self.model.eval()
        wrong = 0
        try:
            for i in range(0, len(y), self.cfg.eval_batch):
                xb = torch.from_numpy(x[i : i + self.cfg.eval_batch]).to(self.device)
                if self.cfg.channels_last:
                    xb = xb.contiguous(memory_format=torch.channels_last)
                with self.autocast():
                    pred = self.model(xb).argmax(1).cpu().numpy()
                wrong += int((pred != y[i : i + self.cfg.eval_batch]).sum())
        finally:
            self.model.train()
        return wrong / len(y)

    # -- checkpoints -----------------------------------------------------------------------
    def state(self, acc: torch.Tensor) -> dict:
        return {
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "warmup_end": self.warmup_end,
            "recent_errors": list(self.recent_errors),
            "acc": acc.cpu(),
            "config": self.cfg.to_dict(),
            "recipe": self.recipe.to_dict(),
            "world": self.where.world,
        }

    def load(self, ckpt: dict) -> torch.Tensor:
        saved = ckpt["config"]
        diff = [k for k in RESUME_KEYS if saved.get(k) != getattr(self.cfg, k)]
        if diff:
            raise SetupError(
                "cannot resume: the checkpoint was made with different settings: "
                + ", ".join(f"{k}={saved.get(k)!r} (now {getattr(self.cfg, k)!r})" for k in diff)
            )
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scaler.load_state_dict(ckpt["scaler"])
        self.step = ckpt["step"]
        self.warmup_end = ckpt["warmup_end"]
        self.recent_errors = list(ckpt["recent_errors"])
        return ckpt["acc"].to(self.device)


def _log(where: Dist, *msg) -> None:
    if where.main:
        print(*msg, file=sys.stderr, flush=True)


def run(cfg: RunConfig) -> dict:
    """Train as ``cfg`` says; rank 0 writes ``metrics.jsonl`` and ``checkpoint.pt`` to
    ``cfg.out``. Returns the last metrics record (with ``final_test_err``)."""
    where = setup_distributed(cfg.device)
    try:
        return _run(cfg, where)
    finally:
        if where.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _run(cfg: RunConfig, where: Dist) -> dict:
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    elif where.device.type == "cpu" and where.world > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // where.world))
    data = load_prepared(cfg.data_dir, cfg.train_subset, cfg.test_subset, cfg.val_split)
    t = Trainer(cfg, where, data.x_train, data.y_train)
    out = Path(cfg.out)
    ckpt_path = out / CHECKPOINT
    acc = torch.zeros(3, device=where.device)
    resume_step = None
    if cfg.resume and ckpt_path.exists():
        acc = t.load(torch.load(ckpt_path, map_location=where.device, weights_only=False))
        resume_step = t.step
        _log(where, f"resuming from {ckpt_path} at step {t.step}")
    elif cfg.resume:
        _log(where, f"--resume: no checkpoint in {out}, starting from step 0")
    writer = MetricsWriter(out, resume_step) if where.main else None
    r = t.recipe
    _log(
        where,
        f"{cfg.experiment}: depth {cfg.depth} {'plain' if cfg.plain else 'residual'} "
        f"norm={cfg.norm}{' (sync)' if cfg.sync_bn else ''}, {where.world} process(es) on "
        f"{where.device.type}, global batch {t.global_batch}, {r.steps} steps, lr {r.lr:g} "
        f"(/10 at {list(r.milestones)}){f', warm-up at {r.warmup_lr:g}' if r.warmup else ''}, "
        f"{t.n_train} training images",
    )
    last: dict = {}
    clock, cpu, images = time.perf_counter(), time.process_time(), 0
    steps = range(t.step, r.steps)
    for step in progress(steps, total=len(steps), desc="train") if where.main else steps:
        x, y = t.batch(step)
        stats = t.train_step(x, y, lr_at(step, r, t.warmup_end))
        acc += stats
        images += t.global_batch
        t.step = step + 1
        if r.warmup and t.warmup_end is None:
            g = t.all_sum(stats[1:]).tolist()
            t.recent_errors = (t.recent_errors + [g[0] / g[1]])[-r.warmup_window :]
            if warmup_finished(t.recent_errors, r):
                t.warmup_end = t.step
                _log(
                    where,
                    f"warm-up ended at step {t.step}: training error "
                    f"{sum(t.recent_errors) / len(t.recent_errors):.3f} < {r.warmup_error}",
                )
        final = t.step == r.steps
        if t.step % cfg.log_every == 0 or final:
            loss_sum, wrong, n = t.all_sum(acc).tolist()
            elapsed = time.perf_counter() - clock
            record = {
                "step": t.step,
                "epoch": round(t.step / t.spe, 3),
                "loss": loss_sum / n,
                "lr": lr_at(step, r, t.warmup_end),
                "train_err": wrong / n,
                "test_err": None,
                "images_per_s": images / elapsed if elapsed else None,
                "cpu_s": time.process_time() - cpu,
            }
            if t.step % cfg.eval_every == 0 or final:
                if where.main:
                    record["test_err"] = t.error(data.x_test, data.y_test)
                    if data.x_val is not None:
                        record["val_err"] = t.error(data.x_val, data.y_val)
            if writer is not None:
                writer.write(record)
            last = record
            acc.zero_()
            clock, cpu, images = time.perf_counter(), time.process_time(), 0
        stop = cfg.stop_after is not None and t.step - steps.start == cfg.stop_after
        if t.step % cfg.checkpoint_every == 0 or final or stop:
            if where.main:
                state = t.state(acc)
                atomic_save(lambda p, state=state: torch.save(state, p), ckpt_path)
            clock, cpu, images = time.perf_counter(), time.process_time(), 0
        if stop:
            _log(
                where, f"stopped after {cfg.stop_after} steps at step {t.step}; --resume continues"
            )
            break
    if where.main and last.get("test_err") is not None:
        paper = (
            TABLE6.get(cfg.depth) if cfg.experiment == "cifar-resnet" and not cfg.plain else None
        )
        note = f" (He et al. 2016, Table 6: {paper}%)" if paper else ""
        _log(where, f"final test error {100 * last['test_err']:.2f}% after {t.step} steps{note}")
    return last
