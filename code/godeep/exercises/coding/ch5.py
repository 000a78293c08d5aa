"""Chapter 5 coding exercises, in PyTorch or Keras: one module per exercise, gathered here.

:mod:`.preact` (the pre-activation block), :mod:`.rezero` (ReZero) and :mod:`.filter_norm`
(filter normalization of a random direction).
"""

from __future__ import annotations

from ._lazy import _lazy  # noqa: F401
from .filter_norm import (  # noqa: F401
    _check_filter_normalize,
    _filter_keras_solution,
    _filter_keras_torch_axis,
    _filter_solution,
    _filter_unit,
    _filter_whole_layer,
    _normalized,
    filter_normalize,
)
from .preact import (  # noqa: F401
    _PREACT_FORBIDDEN,
    _PREACT_VARIANTS,
    _check_preact,
    _library_preact,
    _post_activation,
    _preact,
    _preact_keras_solution,
    _preact_solution,
    _wrong_preact,
    preact_block,
)
from .rezero import (  # noqa: F401
    _check_rezero,
    _rezero_keras_one,
    _rezero_keras_solution,
    _rezero_parts,
    _rezero_solution,
    _rezero_wrong,
    _set,
    rezero,
)
