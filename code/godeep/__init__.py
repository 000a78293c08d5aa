"""Going Deep: the shared, tested code of the course.

One concept, one module. ``godeep.<concept>`` holds the framework-neutral maths and the
PyTorch code; ``godeep.keras.<concept>`` holds the TensorFlow/Keras twin with the same public
names. ``import godeep`` never imports TensorFlow.
"""

from __future__ import annotations

import os
import random
import sys

__version__ = "0.1.0"

__all__ = ["seed_everything", "__version__"]


def seed_everything(seed: int = 0) -> int:
    """Seed every random number generator the course uses and return the seed.

    Seeds Python's ``random``, NumPy's legacy global generator, PyTorch (CPU) and, only if
    TensorFlow has already been imported, TensorFlow/Keras, whose ops are then made
    deterministic (``tf.config.experimental.enable_op_determinism``).
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)  # affects subprocesses only

    import numpy as np

    np.random.seed(seed)
    import torch

    torch.manual_seed(seed)
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        tf.keras.utils.set_random_seed(seed)
        try:
            tf.config.experimental.enable_op_determinism()
        except RuntimeError:  # pragma: no cover - already enabled / set after start
            pass
    return seed
