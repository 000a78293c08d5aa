"""``python -m godeep.reproduce {cifar-resnet,norm-batch,prepare-data} ...``"""

from __future__ import annotations

import argparse
import json
import sys

from . import run
from .config import RunConfig, SetupError
from .data import DataError, prepare


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--framework", choices=["pytorch", "keras"], default="pytorch")
    p.add_argument("--data-dir", required=True, help="folder prepared by prepare-data")
    p.add_argument("--out", default="runs/reproduce", help="metrics.jsonl and checkpoints go here")
    p.add_argument("--depth", type=int, help="6n+2: 20, 32, 44, 56, 110, ...")
    p.add_argument("--steps", type=int, help="iterations (default: 64000 for cifar-resnet)")
    p.add_argument("--batch-size", type=int, help="global batch over all devices (default 128)")
    p.add_argument("--lr", type=float, help="peak rate (default 0.1 x batch / 128)")
    p.add_argument(
        "--warmup",
        choices=["auto", "on", "off"],
        default="auto",
        help="lr/10 until training error < 80%% (auto: depth >= 110)",
    )
    p.add_argument("--train-subset", type=int, help="first N training images (smoke runs)")
    p.add_argument("--test-subset", type=int, help="first N test images (smoke runs)")
    p.add_argument("--val-split", action="store_true", help="hold out 5k of 50k for validation")
    p.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
    p.add_argument(
        "--devices",
        type=int,
        help="Keras: devices for MirroredStrategy "
        "(default: all GPUs, else 1 CPU; N > 1 CPUs become N logical devices)",
    )
    p.add_argument("--amp", action="store_true", help="mixed precision (fp16 on GPUs)")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true", help="torch.compile / jit_compile")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    p.add_argument(
        "--stop-after",
        type=int,
        help="stop (with a checkpoint) after N iterations "
        "of this session; --resume continues (for time-limited sessions)",
    )
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--checkpoint-every", type=int, default=1000)
    p.add_argument("--threads", type=int, help="CPU threads per process")
    p.add_argument("--sync-bn", action="store_true", help="BN statistics over all devices")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m godeep.reproduce", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare-data", help="download and verify CIFAR-10 once")
    prep.add_argument("--data-dir", required=True)
    cr = sub.add_parser("cifar-resnet", help="He et al. 2016, section 4.2 (Table 6, Figure 6)")
    _common(cr)
    cr.add_argument("--plain", action="store_true", help="no shortcuts (the paper's plain nets)")
    nb = sub.add_parser("norm-batch", help="Wu & He 2018's batch-size study, on CIFAR-10")
    _common(nb)
    nb.add_argument("--norm", choices=["batch", "group"], default="batch")
    nb.add_argument("--groups", type=int, default=32, help="GN groups (at most the channels)")
    nb.add_argument("--per-device-batch", type=int, default=32)
    nb.add_argument(
        "--epochs",
        type=float,
        default=164.0,
        help="epochs when --steps is not given (the same for every batch size)",
    )
    return top


def config_from_args(args: argparse.Namespace) -> RunConfig:
    kwargs = {k: v for k, v in vars(args).items() if k != "command" and v is not None}
    if args.command == "norm-batch":
        kwargs.setdefault("depth", 20)
    kwargs.setdefault("depth", 56)
    return RunConfig(experiment=args.command, **kwargs)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "prepare-data":
            prepare(args.data_dir)
            return 0
        cfg = config_from_args(args)
        last = run(cfg)
    except (DataError, SetupError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(last))
    return 0


if __name__ == "__main__":
    sys.exit(main())
