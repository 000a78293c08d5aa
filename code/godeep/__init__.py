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
    deterministic (``tf.config.experimental.enable_op_determinism``). TensorFlow is seeded
    as ``keras.utils.set_random_seed`` does, but without clearing TensorFlow's kernel caches
    (see :func:`_seed_tensorflow`), so an already-traced training step stays fast.

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
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ValueError(f"threads must be a positive int or None, got {threads!r}")
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)  # affects subprocesses only

    import numpy as np

    np.random.seed(seed)
    try:  # a TensorFlow notebook's kernel may run without PyTorch (tools/blocker)
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.manual_seed(seed)
        if threads is not None:
            torch.set_num_threads(threads)
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        _seed_tensorflow(seed)
        if threads is not None:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
            except RuntimeError:  # the runtime has started: its thread pool is fixed now
                pass
        try:
            tf.config.experimental.enable_op_determinism()
        except RuntimeError:  # pragma: no cover - already enabled / set after start
            pass


def _seed_tensorflow(seed: int) -> None:
    """``keras.utils.set_random_seed(seed)`` without its clearing of TensorFlow's caches.

    ``tf.random.set_seed`` (which Keras calls) also empties TensorFlow's kernel caches, so that
    a *stateful* eager random op (``tf.random.normal`` without a seed) restarts its stream;
    it also throws away every instantiated ``tf.function``, whose next call then re-optimizes
    its graph (2-3 s for a traced ResNet-56 step instead of ~40 ms). Here the global seed and
    the counter that derives op seeds from it are reset as ``tf.random.set_seed`` resets them,
    and the Keras global seed as ``keras.utils.set_random_seed`` sets it; the caches stay. The
    course draws its random numbers with Keras' seed generators and stateless ops (initializers,
    dropout), which this reproduces exactly; a stateful ``tf.random`` op drawn again after
    re-seeding with a seed used before would continue its stream (use ``tf.random.set_seed``).
    Falls back to ``keras.utils.set_random_seed`` where TensorFlow's internals differ.
    """
    import tensorflow as tf

    try:
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
        from keras.src.utils import rng_utils
        from tensorflow.python.eager import context

        ctx = context.context()
        fields = ("_seed", "_rng")
        if not (tf.executing_eagerly() and all(hasattr(ctx, f) for f in fields)):
            raise AttributeError("no eager context")
        global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
        global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    except (ImportError, AttributeError):  # pragma: no cover - other Keras/TensorFlow versions
        tf.keras.utils.set_random_seed(seed)
        return
    # what tf.random.set_seed does in eager mode (context._set_global_seed), less the cache clearing
    ctx._seed = seed
    ctx._rng = random.Random(seed)
