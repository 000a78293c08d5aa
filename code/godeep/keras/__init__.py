"""TensorFlow/Keras twins of the PyTorch modules of :mod:`godeep`.

Each module here has the same public names and signatures as its PyTorch counterpart
(``godeep.signals`` <-> ``godeep.keras.signals``), so that a notebook's PyTorch cell and its
TensorFlow tab read alike. Importing this package imports TensorFlow, quietly.
"""

from __future__ import annotations

import os

# Before TensorFlow loads: silence its C++ start-up messages, and turn off oneDNN's custom
# kernels, whose results depend on the CPU's instruction set (and whose notice TensorFlow
# prints to stderr whatever the log level), so stored notebook outputs reproduce anywhere.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")

__all__ = ["tf"]
