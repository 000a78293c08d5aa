"""Exercises of Chapter 5, "Understanding residual learning".

The exercises live in one module per idea; this module gathers them under ``ch5``:
:mod:`.shortcuts` (scaled, gated and other shortcuts), :mod:`.paths` (path lengths and
shattered gradients), :mod:`.scaling` (stream growth, filter normalization),
:mod:`.lesion` (a lesion study of your own),
:mod:`.stochastic` (blocks kept by stochastic depth), :mod:`.normalizer_free` (the NF
stream's beta) and the coding exercises of :mod:`.coding.ch5` and
:mod:`.coding.path_gradient`.
"""

from __future__ import annotations

from . import chapter_getattr
from .coding.ch5 import filter_normalize, preact_block, rezero  # noqa: F401
from .coding.path_gradient import path_block  # noqa: F401  (coding exercises in both frameworks)
from .lesion import (  # noqa: F401
    _LESION_MIN_BLOCKS,
    _check_own_lesion,
    _digits_accuracy,
    _is_keras,
    _lesion_tools,
    _own_lesion_solution,
    own_lesion,
)
from .normalizer_free import _check_nf_beta, nf_beta  # noqa: F401
from .paths import (  # noqa: F401
    _autocorrelation_solution,
    _check_autocorrelation,
    _check_short_paths,
    _short_paths_solution,
    autocorrelation_lag1,
    short_paths,
)
from .scaling import (  # noqa: F401
    _check_filter_scale,
    filter_scale,
)
from .shortcuts import (  # noqa: F401
    _WHY,
    PAPER_TABLE1,
    _check_shortcut_winner,
    shortcut_winner,
)
from .stochastic import _check_sd_blocks, sd_blocks  # noqa: F401

__getattr__ = chapter_getattr(__name__)
