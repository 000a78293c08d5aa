"""One figure style for the whole course, and the plots it draws again and again.

Quantities that span orders of magnitude (signal variances, gradient norms) go on log
scales; non-positive or non-finite values (a signal that underflowed to 0 or overflowed to
inf) are left out of a log plot and flagged in the legend, rather than silently distorting it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["COLORS", "use_style", "per_layer", "layer_histograms", "curves"]

#: Consistent colours: frameworks, and the usual suspects of the course.
COLORS = {
    "pytorch": "#ee4c2c",
    "tensorflow": "#ff8f00",
    "forward": "#1f77b4",
    "backward": "#d62728",
    "good": "#2ca02c",
    "bad": "#7f7f7f",
}

_STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 80,  # small PNGs keep notebooks light; the book scales them
    "savefig.dpi": 80,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": "medium",
    "legend.fontsize": "small",
    "legend.frameon": False,
    "figure.constrained_layout.use": True,
}


def use_style() -> None:
    """Apply the course's figure style to matplotlib (call once per notebook)."""
    matplotlib.rcParams.update(_STYLE)


def per_layer(
    ax,
    values: Sequence[float],
    label: str | None = None,
    log: bool = True,
    start: int = 1,
    **kwargs,
):
    """Plot one statistic against layer index ``start, start+1, ...``.

    On a log axis, entries that are 0, negative, NaN or inf cannot be drawn: they are masked
    and the legend label says how many layers were left out.
    """
    values = np.asarray(values, dtype=float)
    layers = np.arange(start, start + len(values))
    ok = np.isfinite(values) & ((values > 0) if log else True)
    if label is not None and not ok.all():
        label = f"{label} ({int((~ok).sum())} layers off-scale)"
    line = ax.plot(layers[ok], values[ok], marker="o", markersize=3, label=label, **kwargs)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("layer")
    return line


def layer_histograms(
    activations: Mapping[str, np.ndarray],
    layers: Sequence[str],
    bins: int = 50,
    range: tuple[float, float] | None = None,
    color: str | None = None,
    axes=None,
):
    """Small multiples: the histogram of the activations of each layer in ``layers``."""
    missing = [n for n in layers if n not in activations]
    if missing:
        raise ValueError(f"no activations kept for {missing}: call record(..., keep=True)")
    if axes is None:
        _, axes = plt.subplots(1, len(layers), figsize=(2.0 * len(layers), 2.0), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, layers):
        ax.hist(np.ravel(activations[name]), bins=bins, range=range, color=color, density=True)
        ax.set_title(name)
        ax.set_yticks([])
    return axes


def curves(
    ax,
    series: Mapping[str, Sequence[float]],
    xlabel: str = "step",
    ylabel: str = "",
    log: bool = False,
    **kwargs,
):
    """Several named curves on one axis (training losses, norms over time)."""
    for name, values in series.items():
        ax.plot(np.arange(len(values)), values, label=name, **kwargs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.legend()
    return ax
