"""TensorFlow/Keras twins of the PyTorch modules of :mod:`godeep`.

Each module here has the same public names and signatures as its PyTorch counterpart
(``godeep.signals`` <-> ``godeep.keras.signals``), so that code written for one framework reads
alike in the other; the intended differences (Keras conventions) are listed, with their reasons,
in ``tests/test_twins.py``. Importing this package imports TensorFlow, quietly.
"""

from __future__ import annotations

import os

# Before TensorFlow loads: silence its C++ start-up messages, and turn off oneDNN's custom
# kernels, whose results depend on the CPU's instruction set (and whose notice TensorFlow
# prints to stderr whatever the log level), so printed outputs reproduce anywhere.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import gc  # noqa: E402

import keras  # noqa: E402, F401
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")

# Importing TensorFlow and Keras leaves some 360,000 Python objects that live as long as the
# process; Python's garbage collector scans every one of them at each full collection (about
# 0.3-0.5 s on 2 cores, a few times in a notebook, mostly while a training step is traced).
# gc.freeze() moves the objects that exist now, TensorFlow's, Keras' and the kernel's own, out of
# its scans: they are still freed when their last reference goes, only never scanned for
# cycles. Done here, on import, before any model exists: objects frozen later (a model with
# reference cycles) would never be collected. Nothing computed changes.
gc.freeze()

# One thread per operation, as godeep.seed_everything sets for PyTorch: a reduction split over
# threads adds in an order that depends on the core count, so results would differ between
# machines; the course's models are small enough that one thread is also the fastest. The
# thread pool can only be sized before TensorFlow's runtime starts, hence here, on import.
try:
    tf.config.threading.set_intra_op_parallelism_threads(1)
except RuntimeError:  # the runtime already started (TensorFlow was used before this import)
    pass
# The inter-op pool keeps TensorFlow's default (one thread per core): independent ops of a step
# (a gradient's two branches) then run side by side. Measured in December 2026 on 2 cores, six
# ResNet-20 runs of 4.1: 22.3-22.7 s of wall time (28.9-29.1 s of CPU) with the default, against
# 24.5-26.8 s (24.4-26.3 s of CPU) with one inter-op thread.

__all__ = ["tf"]
