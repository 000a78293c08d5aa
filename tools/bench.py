"""Whole-run time of the course's experiments in PyTorch and Keras, side by side.

A *run* is what a notebook does for one seed: ``godeep.seed_everything(seed)``, build the
model, train it, and read the result the notebook reads (the last epoch's test accuracy, so
the per-epoch evaluation is part of the run). Each experiment family runs in a fresh Python
process (as a notebook's kernel does), with both frameworks in that process; the runs
alternate between the frameworks (PyTorch, Keras, Keras, PyTorch, ...) so that a busy moment of
a shared machine falls on both. Wall and CPU time (``time.process_time``: every thread of the
process) are summed over a family's runs; the ratio is Keras / PyTorch.

``--repeat N`` runs each family N times, each pass in a fresh process (so every pass pays for
building and tracing, as a notebook does); the table gives the median pass (by wall ratio) and
the range of the N ratios, since one pass on a shared machine can be off by a tenth.

Usage::

    python tools/bench.py [--families resnet20,resnet56,mlp,convnet,transformer]
                          [--repeat N] [--report _build/bench.md] [--title TEXT]

Set ``PYTHONPATH`` to the ``code`` folder whose ``godeep`` is to be measured.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("GODEEP_PROGRESS", "0")
os.environ.setdefault("GODEEP_INTERACTIVE", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

# family -> description: the runs as the notebooks now do them (the grid of each framework's
# notebook since issue 17: every seed in both frameworks, evaluation only where it is read)
FAMILIES = {
    "resnet20": "ResNet-20 on 1280 8x8 digits, 5 epochs SGD 0.9, plain and residual, seeds 0-2, "
    "one evaluation at the end (4.1)",
    "resnet56": "ResNet-56 on 1280 8x8 digits, SGD 0.9, plain 20 epochs and residual 5, seeds "
    "0-2, one evaluation at the end (4.1)",
    "mlp": "6x64 MLP on MNIST-1D, 8 epochs SGD 0.9, lr 0.1, plain and BatchNorm, seeds 0-2 "
    "(a slice of 3.4's sweep)",
    "convnet": "small convnet on 8x8 digits, 5 epochs Adam, plain/BN/LN, seeds 0-2 (3.4)",
    "transformer": "12-block Transformer, 120 Adam steps on 'sort', post/pre-LN, seeds 0-1 (5.4)",
}
#: The families as issue 23 first measured them (``--families-of 2026-11``): ResNet-20
#: residual only, ResNet-56 5 epochs with seeds 0-1, both evaluating after every epoch; the
#: convnet with seed 0 only (then the Keras side's subset of the notebooks' grids).
FIRST_MEASURED = "2026-11"
FIRST_FAMILIES = {
    **FAMILIES,
    "resnet20": "ResNet-20 on 1280 8x8 digits, 5 epochs SGD 0.9, residual, seeds 0-2, "
    "evaluated after every epoch",
    "resnet56": "ResNet-56 on 1280 8x8 digits, 5 epochs SGD 0.9, plain and residual, seeds 0-1, "
    "evaluated after every epoch",
    "convnet": "small convnet on 8x8 digits, 5 epochs Adam, plain/BN/LN, seed 0",
}


def _runs(family: str, first: bool = False) -> list[dict]:
    if family == "resnet20":
        if first:
            return [dict(depth=20, plain=False, seed=s, every_epoch=True) for s in (0, 1, 2)]
        return [dict(depth=20, plain=p, seed=s) for p in (True, False) for s in (0, 1, 2)]
    if family == "resnet56":
        if first:
            return [
                dict(depth=56, plain=p, seed=s, every_epoch=True)
                for p in (True, False)
                for s in (0, 1)
            ]
        return [
            dict(depth=56, plain=p, seed=s, epochs=20 if p else 5)
            for p in (True, False)
            for s in (0, 1, 2)
        ]
    if family == "mlp":
        return [dict(norm=n, seed=s) for n in (None, "batch") for s in (0, 1, 2)]
    if family == "convnet":
        seeds = (0,) if first else (0, 1, 2)
        return [dict(norm=n, seed=s) for n in (None, "batch", "layer") for s in seeds]
    if family == "transformer":
        return [dict(norm=n, seed=s) for n in ("post", "pre") for s in (0, 1)]
    raise ValueError(f"unknown family {family!r}; one of {tuple(FAMILIES)}")


def _worker(family: str, repeat: int, first: bool = False) -> list[dict]:
    """Time every run of ``family`` in both frameworks, alternating; one row per run."""
    import numpy as np

    import godeep
    from godeep import data, models, residual, train, transformer
    from godeep.keras import (
        models as kmodels,
        residual as kresidual,
        train as ktrain,
        transformer as ktransformer,
    )

    digits = data.digits(images=True)
    small = digits.subset(1280)

    def nhwc(d):
        return data.Dataset(
            data.to_channels_last(d.x_train),
            d.y_train,
            data.to_channels_last(d.x_test),
            d.y_test,
            d.name,
            d.classes,
        )

    small_nhwc, digits_nhwc = nhwc(small), nhwc(digits)
    mnist1d = data.mnist1d()
    net = dict(in_features=40, width=64, depth=6, out_features=10, activation="relu", init=0.1)
    resnet_training = dict(epochs=5, lr=0.1, momentum=0.9, batch_size=64)

    def run(framework: str, s: dict) -> float:
        godeep.seed_everything(s["seed"])
        torch_ = framework == "pytorch"
        if family in ("resnet20", "resnet56"):
            every_epoch = s.get("every_epoch", False)
            options = {**resnet_training, "epochs": s.get("epochs", 5)}
            if torch_:
                model = residual.cifar_resnet(
                    s["depth"], plain=s["plain"], in_channels=1, widths=(8, 16, 32)
                )
                h = train.fit(model, small, seed=s["seed"], eval_epochs=every_epoch, **options)
                if not every_epoch:  # 4.1: one evaluation, at the end
                    h.test_acc.append(train.evaluate(model, small.x_test, small.y_test)[1])
            else:
                model = kresidual.cifar_resnet(
                    s["depth"], plain=s["plain"], in_channels=1, widths=(8, 16, 32), input_size=8
                )
                h = ktrain.fit(
                    model, small_nhwc, seed=s["seed"], eval_epochs=every_epoch, **options
                )
                if not every_epoch:
                    x, y = small_nhwc.x_test, small_nhwc.y_test
                    h.test_acc.append(ktrain.evaluate(model, x, y)[1])
            return float(np.mean(h.step_loss[-20:])) + h.test_acc[-1]
        if family == "mlp":
            fit, build = (train.fit, models.mlp) if torch_ else (ktrain.fit, kmodels.mlp)
            h = fit(
                build(**net, norm=s["norm"]),
                mnist1d,
                lr=0.1,
                seed=s["seed"],
                epochs=8,
                batch_size=64,
                momentum=0.9,
            )
            return h.test_acc[-1] + h.train_loss[-1]
        if family == "convnet":
            kw = dict(epochs=5, lr=1e-3, batch_size=128, optimizer="adam", seed=s["seed"])
            if torch_:
                return train.fit(models.convnet(norm=s["norm"]), digits, **kw).test_acc[-1]
            return ktrain.fit(kmodels.convnet(norm=s["norm"]), digits_nhwc, **kw).test_acc[-1]
        if family == "transformer":
            arch = dict(d_model=32, n_heads=4, n_layers=12, max_len=8, norm=s["norm"])
            build, fit = (
                (transformer.TinyTransformer, transformer.train_on_task)
                if torch_
                else (ktransformer.TinyTransformer, ktransformer.train_on_task)
            )
            curve = fit(
                build(10, **arch), "sort", steps=120, lr=1e-3, batch_size=32, seed=s["seed"]
            )
            return float(curve[-30:].mean())
        raise ValueError(family)

    rows = []
    order = ("pytorch", "keras")
    for r in range(repeat):
        for i, s in enumerate(_runs(family, first)):
            for framework in order if (r + i) % 2 == 0 else order[::-1]:
                wall, cpu = time.perf_counter(), time.process_time()
                result = run(framework, s)
                rows.append(
                    dict(
                        family=family,
                        framework=framework,
                        repeat=r,
                        setting=s,
                        result=result,
                        wall=time.perf_counter() - wall,
                        cpu=time.process_time() - cpu,
                    )
                )
    return rows


def _table(rows: list[dict]) -> str:
    """One line per family: the median pass by wall ratio (times of that pass), and the range."""
    lines = [
        "| family | runs | PyTorch wall s | Keras wall s | ratio wall | ratio wall, all passes | "
        "PyTorch CPU s | Keras CPU s | ratio CPU | Keras first run / later runs (wall s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for family in dict.fromkeys(row["family"] for row in rows):
        passes = []
        for r in sorted({row["repeat"] for row in rows if row["family"] == family}):
            mine = [row for row in rows if row["family"] == family and row["repeat"] == r]
            sums = {
                fw: (
                    sum(x["wall"] for x in mine if x["framework"] == fw),
                    sum(x["cpu"] for x in mine if x["framework"] == fw),
                )
                for fw in ("pytorch", "keras")
            }
            keras_runs = [x["wall"] for x in mine if x["framework"] == "keras"]
            passes.append((sums["keras"][0] / sums["pytorch"][0], sums, keras_runs))
        passes.sort(key=lambda p: p[0])
        # the median pass (the lower middle one of an even count: the table never rounds up)
        ratio, sums, k = passes[(len(passes) - 1) // 2]
        later = k[1:]
        spread = (
            f"{passes[0][0]:.2f}-{passes[-1][0]:.2f} ({len(passes)})"
            if len(passes) > 1
            else f"{ratio:.2f} (1)"
        )
        lines.append(
            f"| {family} | {len(k)} | {sums['pytorch'][0]:.2f} | {sums['keras'][0]:.2f} | "
            f"{ratio:.2f} | {spread} | {sums['pytorch'][1]:.2f} | {sums['keras'][1]:.2f} | "
            f"{sums['keras'][1] / sums['pytorch'][1]:.2f} | "
            f"{k[0]:.2f} / {sum(later) / max(len(later), 1):.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="passes over each family's runs, each in a fresh process (the table gives the median)",
    )
    parser.add_argument("--report", default="_build/bench.md")
    parser.add_argument("--title", default="Whole runs, Keras / PyTorch")
    parser.add_argument(
        "--families-of",
        choices=("now", FIRST_MEASURED),
        default="now",
        help=f"the families as the notebooks run them now, or as issue 23 measured them first "
        f"({FIRST_MEASURED})",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    if args.worker:
        first = args.families_of == FIRST_MEASURED
        print(json.dumps(_worker(args.worker, args.repeat, first)))
        return 0
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    for family in families:
        if family not in FAMILIES:
            parser.error(f"unknown family {family!r}; one of {', '.join(FAMILIES)}")
    rows = []
    for r in range(args.repeat):  # pass by pass: a slow spell of the machine hits one pass
        for family in families:
            print(f"bench: pass {r + 1}/{args.repeat}, {family} ...", file=sys.stderr, flush=True)
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    family,
                    "--repeat",
                    "1",
                    "--families-of",
                    args.families_of,
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            rows += [
                {**row, "repeat": r} for row in json.loads(out.stdout.strip().splitlines()[-1])
            ]
    which = (
        f"as issue 23 first measured them, {FIRST_MEASURED}"
        if args.families_of == FIRST_MEASURED
        else "as the notebooks run them now"
    )
    text = [
        f"# {args.title}",
        "",
        f"Python {sys.version.split()[0]}; PYTHONPATH={os.environ.get('PYTHONPATH', '')}; "
        f"{args.repeat} pass(es), each in a fresh process; times summed over a family's runs "
        "(of the median pass).",
        "",
        _table(rows),
        "",
        f"Families ({which}):",
        "",
    ]
    described = FIRST_FAMILIES if args.families_of == FIRST_MEASURED else FAMILIES
    text += [f"- **{f}**: {described[f]}" for f in families]
    text += ["", "Runs (wall s, CPU s, result):", ""]
    text += [
        f"- {r['family']} {r['framework']:>7} pass {r['repeat']} {r['setting']}: {r['wall']:.2f} "
        f"s, {r['cpu']:.2f} s CPU, {r['result']!r}"
        for r in rows
    ]
    report = Path(args.report)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("\n".join(text) + "\n")
    print("\n".join(text[:6]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
