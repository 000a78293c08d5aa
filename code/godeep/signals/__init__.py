"""Watch signals travel: per-layer statistics of activations and gradients (PyTorch).

For a stack of layers ``h_l = f(W_l h_{l-1})`` we record, at each watched layer ``l``:

* the forward signal: mean and standard deviation of the activations ``h_l``, pooled over
  units and examples, and the *per-unit* standard deviation across the examples of the batch
  (:func:`unit_std`), which alone says whether the layer's output still depends on the input;
* the backward signal: the standard deviation of ``dE/dh_l``, the gradient of the loss
  ``E`` with respect to those activations;
* how much of the layer is *saturated* (the activation's slope ``f'(z)`` is below
  :data:`SATURATION_THRESHOLD` of its maximum, so almost no gradient passes) and how much is
  *dead* (a unit whose output is exactly zero for every example of the batch, as with ReLU);
* for every weight matrix, its norm ``||W_l||`` and the norm of its gradient ``||dE/dW_l||``.

The framework-neutral pieces (:class:`LayerStats`, :class:`SignalReport`,
:class:`TrainingMonitor`, :func:`saturation_fraction`, :func:`dead_fraction`) are shared
with the Keras twin :mod:`godeep.keras.signals`.

One idea per module, every name importable from :mod:`godeep.signals` itself:
:mod:`~godeep.signals.stats` (statistics, report, diagnosis, monitor; framework-free),
:mod:`~godeep.signals.record` (PyTorch recording) and :mod:`~godeep.signals.lesions`
(shattered gradients, lesions).
"""

from __future__ import annotations

from .lesions import (
    Lesioned,
    autocorrelation,
    input_gradients,
    lesion_study,
    path_length_distribution,
)
from .record import record
from .stats import (
    SATURATION_THRESHOLD,
    LayerStats,
    SignalReport,
    TrainingMonitor,
    WeightStats,
    dead_fraction,
    diagnose,
    layer_stats,
    saturation_fraction,
    unit_std,
)

__all__ = [
    "SATURATION_THRESHOLD",
    "LayerStats",
    "WeightStats",
    "SignalReport",
    "TrainingMonitor",
    "saturation_fraction",
    "dead_fraction",
    "unit_std",
    "layer_stats",
    "diagnose",
    "record",
    "autocorrelation",
    "input_gradients",
    "Lesioned",
    "lesion_study",
    "path_length_distribution",
]
