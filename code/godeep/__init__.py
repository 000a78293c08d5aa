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


def seed_everything(seed: int = 0, threads: int | None = 1) -> None:
    """Seed every random number generator the course uses.

    Seeds Python's ``random``, NumPy's legacy global generator, PyTorch (CPU) and, only if
    TensorFlow has already been imported, TensorFlow/Keras, whose ops are then made
    deterministic (``tf.config.experimental.enable_op_determinism``).

    ``threads`` sets how many CPU threads PyTorch (and TensorFlow, if its runtime has not
    started yet) use for one operation; ``None`` leaves the frameworks' defaults. A sum split
    across threads is added in a different order, so with the default (one core per thread)
    a result would depend on the machine's core count; one thread makes the stored outputs
    reproducible on any machine, and for the course's small models it is also the fastest.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive int or None, got {threads!r}")
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)  # affects subprocesses only

    import numpy as np

    np.random.seed(seed)
    import torch

    torch.manual_seed(seed)
    if threads is not None:
        torch.set_num_threads(threads)
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        tf.keras.utils.set_random_seed(seed)
        if threads is not None:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
            except RuntimeError:  # the runtime has started: its thread pool is fixed now
                pass
        try:
            tf.config.experimental.enable_op_determinism()
        except RuntimeError:  # pragma: no cover - already enabled / set after start
            pass
