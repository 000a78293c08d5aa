"""Throughput of godeep.reproduce against minimal baselines on the same model and batches.

PyTorch: ``godeep.reproduce``'s whole training loop (batch assembly from the sampler, the
crop/flip gather, the step, metrics accumulation) against a minimal hand-written loop
(zero_grad, forward, cross-entropy, backward, SGD step) over batches augmented in advance.
Keras: the reproduce loop (MirroredStrategy on one device) against ``model.fit`` on the same
images, augmented in advance. So the baselines do less work than the runner: the overhead
measured is an upper bound. Images/s are taken per window of ``--window`` steps (synchronized
at the window's end), the first window of each run dropped as warm-up; runs alternate
(A B, B A, ...) and the median window is reported. Data: synthetic CIFAR-format images.

    python tools/bench_reproduce.py --report _build/bench_reproduce.md
    python tools/bench_reproduce.py --device cuda --frameworks pytorch --steps 300 --window 50
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GODEEP_PROGRESS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "code"))

import numpy as np  # noqa: E402

from godeep.reproduce import RunConfig, read_metrics  # noqa: E402
from godeep.reproduce.augment import crop_flip, crop_flip_params, pad  # noqa: E402
from godeep.reproduce.data import load_prepared, synthetic_cifar  # noqa: E402


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else the machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def windows_from_run(out: Path, images: int) -> list[tuple[float, float]]:
    """(images per wall second, images per CPU second) of each logged window of a reproduce
    run of ``images`` images per window, the first (warm-up) dropped."""
    return [(r["images_per_s"], images / r["cpu_s"]) for r in read_metrics(out)][1:]


def augmented_batches(x: np.ndarray, y: np.ndarray, steps: int, batch: int, seed: int):
    rng = np.random.default_rng(seed)
    xp = pad(x)
    for step in range(steps):
        idx = rng.choice(len(y), batch, replace=False)
        off, flips = crop_flip_params(seed, step, batch)
        yield crop_flip(xp[idx], off, flips), y[idx]


def torch_hand_loop(args, data, device) -> list[float]:
    """A minimal loop: zero_grad, forward, loss, backward, step; synced at window ends."""
    import torch
    import torch.nn.functional as F

    from godeep.residual import cifar_resnet

    torch.manual_seed(0)
    model = cifar_resnet(args.depth).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    batches = [
        (torch.from_numpy(xb).to(device), torch.from_numpy(yb).to(device))
        for xb, yb in augmented_batches(data.x_train, data.y_train, args.steps, args.batch, 0)
    ]
    rates, t0, c0 = [], time.perf_counter(), time.process_time()
    for step, (xb, yb) in enumerate(batches, start=1):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        if step % args.window == 0:
            loss.item()  # wait for the device
            now, cnow = time.perf_counter(), time.process_time()
            n = args.window * args.batch
            rates.append((n / (now - t0), n / (cnow - c0)))
            t0, c0 = now, cnow
    return rates[1:]


def keras_fit(args, data) -> list[float]:
    """model.fit on augmented-in-advance images, timed per window by a callback."""
    import keras

    from godeep.keras import residual as kres

    keras.utils.set_random_seed(0)
    model = kres.cifar_resnet(args.depth, input_size=32)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    xs, ys = zip(*augmented_batches(data.x_train, data.y_train, args.steps, args.batch, 0))
    x = np.transpose(np.concatenate(xs), (0, 2, 3, 1)).copy()
    y = np.concatenate(ys)
    stamps: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if (batch + 1) % args.window == 0:
                stamps.append((time.perf_counter(), time.process_time()))

    start = (time.perf_counter(), time.process_time())
    model.fit(x, y, batch_size=args.batch, epochs=1, shuffle=False, verbose=0, callbacks=[Clock()])
    times = [start] + stamps
    n = args.window * args.batch
    rates = [(n / (b[0] - a[0]), n / (b[1] - a[1])) for a, b in zip(times, times[1:])]
    return rates[1:]


def reproduce(args, data_dir: Path, out: Path, framework: str) -> list[float]:
    from godeep.reproduce import run

    cfg = RunConfig(
        framework=framework,
        depth=args.depth,
        data_dir=str(data_dir),
        out=str(out),
        steps=args.steps,
        batch_size=args.batch,
        device=args.device,
        log_every=args.window,
        eval_every=10**9,
        checkpoint_every=10**9,
        threads=args.threads,
        test_subset=args.batch,
        lr=0.1,
        warmup="off",
    )
    run(cfg)
    return windows_from_run(out, args.window * args.batch)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--frameworks", default="pytorch,keras")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--window", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--report", default="_build/bench_reproduce.md")
    args = p.parse_args()
    if args.steps < 2 * args.window:
        p.error("--steps must cover at least two windows (the first is warm-up)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-reproduce-"))
    n = max(args.batch * 4, 512)
    synthetic_cifar(tmp / "data", n_train=n, n_test=args.batch, seed=0)
    data = load_prepared(tmp / "data")
    import torch

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.device == "cuda":
        hw = torch.cuda.get_device_name(0)
    else:
        hw = f"{cpu_name()}, {os.cpu_count()} cores, {args.threads} thread(s)"
    rows = []
    for fw in args.frameworks.split(","):
        ours, base = [], []
        for r in range(args.rounds):  # A B, B A, A B, ...: neither goes first every time
            order = ("ours", "base") if r % 2 == 0 else ("base", "ours")
            for which in order:
                if which == "ours":
                    ours += reproduce(args, tmp / "data", tmp / f"{fw}-{r}", fw)
                elif fw == "pytorch":
                    base += torch_hand_loop(args, data, device)
                else:
                    base += keras_fit(args, data)
        name = "hand-written loop" if fw == "pytorch" else "model.fit"
        for k, clock in enumerate(("wall", "CPU")):
            mo = statistics.median(w[k] for w in ours)
            mb = statistics.median(w[k] for w in base)
            rows.append((fw, name, clock, mo, mb, 100 * (mb - mo) / mb, len(ours), len(base)))
            print(
                f"{fw} ({clock} clock): reproduce {mo:.1f} img/s, {name} {mb:.1f} img/s, "
                f"overhead {rows[-1][5]:+.1f}%",
                flush=True,
            )
    lines = [
        "# godeep.reproduce throughput",
        "",
        f"Hardware: {hw} ({args.device}); torch {torch.__version__}. ResNet-{args.depth}, "
        f"global batch {args.batch}, {args.steps} steps per run, windows of {args.window} steps "
        f"(first dropped), {args.rounds} rounds, alternating which goes first; synthetic CIFAR-format images.",
        "",
        "| framework | baseline | clock | reproduce img/s (median) | baseline img/s (median) "
        "| overhead | windows (ours / baseline) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for fw, name, clock, mo, mb, ov, no, nb in rows:
        lines.append(
            f"| {fw} | {name} | {clock} | {mo:.1f} | {mb:.1f} | {ov:+.1f}% | {no} / {nb} |"
        )
    lines += [
        "",
        "Overhead = (baseline - reproduce) / baseline; the baselines train on batches "
        "augmented in advance, so the runner's augmentation counts as overhead. The CPU "
        "clock (images per CPU second of the process) is the one to trust on a shared "
        "machine, where other processes stretch wall time.",
    ]
    Path(args.report).parent.mkdir(parents=True, exist_ok=True)
    Path(args.report).write_text("\n".join(lines) + "\n")
    print(f"report: {args.report}")


if __name__ == "__main__":
    main()
