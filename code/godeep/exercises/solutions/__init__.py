"""Reference solutions of the coding exercises: the single source of each worked solution.

One module per chapter and framework (``ch4_torch``, ``ch4_keras``): plain functions and
classes, written as a reader would write them, that the book includes at build time with
``literalinclude`` + ``:pyobject:`` and that the tests run through their own checkers.
A Keras module imports Keras only when it is imported itself.
"""

import os

# A Keras module here imports `keras` as a reader would, before anything of godeep.keras: set
# TensorFlow's quiet start-up first, as godeep.keras does (no C++ log lines, no oneDNN kernels
# whose notice goes to stderr and whose results depend on the CPU).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
