"""Exercises of Chapter 5, "Understanding residual learning".

The exercises live in one module per idea; this module gathers them under ``ch5``:
:mod:`.bn_explosion` (a batch-normalized plain net's gradient growth, 5.1),
:mod:`.shortcuts` (scaled, gated and other shortcuts),
:mod:`.prenorm_stream` (the pre-norm stream and GPT-2's scaled initialization, 5.4), :mod:`.paths` (path lengths and
shattered gradients), :mod:`.scaling` (stream growth, filter normalization),
:mod:`.lesion` (a lesion study of your own),
:mod:`.stochastic` (blocks kept by stochastic depth), :mod:`.normalizer_free` (the NF
stream's beta) and the coding exercises of :mod:`.coding.ch5` and
:mod:`.coding.path_gradient`.
"""

from __future__ import annotations

from . import chapter_getattr
from .bn_explosion import _check_leaky_explosion, leaky_explosion  # noqa: F401  (5.1)
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
from .prenorm_stream import _check_prenorm_stream, prenorm_stream  # noqa: F401  (5.4)
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
