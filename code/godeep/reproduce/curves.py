"""Figure 6-style curves from ``metrics.jsonl`` files: training error (dashed) and test error
(solid) against iterations, one colour per run, as in He et al. 2016, Figure 6."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from .metrics import read_metrics

__all__ = ["error_curves", "plot_error_curves"]


def error_curves(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Arrays from one run's metrics: ``step`` and ``train_err`` of every logged window,
    ``test_step`` and ``test_err`` of the evaluations (errors as fractions)."""
    records = read_metrics(path)
    if not records:
        raise ValueError(f"{path} holds no metrics records")
    tests = [r for r in records if r.get("test_err") is not None]
    return {
        "step": np.array([r["step"] for r in records]),
        "train_err": np.array([r["train_err"] for r in records], dtype=float),
        "test_step": np.array([r["step"] for r in tests]),
        "test_err": np.array([r["test_err"] for r in tests], dtype=float),
    }


def plot_error_curves(ax, runs: Mapping[str, str | os.PathLike[str]], percent: bool = True):
    """Draw each run of ``runs`` (label -> metrics file or folder) on ``ax``: training error
    dashed, test error solid, in percent; returns ``ax``."""
    import matplotlib.pyplot as plt

    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    scale = 100 if percent else 1
    for i, (label, path) in enumerate(runs.items()):
        c = error_curves(path)
        color = colors[i % len(colors)]
        ax.plot(c["step"], scale * c["train_err"], "--", color=color, lw=1, label=f"{label} train")
        if len(c["test_step"]):
            ax.plot(
                c["test_step"],
                scale * c["test_err"],
                "-",
                color=color,
                lw=2,
                marker="o",
                ms=3,
                label=f"{label} test",
            )
    ax.set_xlabel("iteration")
    ax.set_ylabel("error (%)" if percent else "error")
    ax.legend()
    return ax
