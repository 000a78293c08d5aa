"""Make some top-level modules unimportable in this interpreter (a framework's kernel).

tools/nb.py and the root conftest.py start the kernel of a derived notebook with this folder
first on PYTHONPATH and ``GODEEP_BLOCK_IMPORTS`` naming the other framework's modules, e.g.
``tensorflow,keras,tf_keras`` for the PyTorch notebook: importing one of them then raises
ModuleNotFoundError, so "this notebook runs without the other framework" is proven by the
run, not hoped. With the variable unset this file does nothing.

Each blocked name is set to None in ``sys.modules``, Python's own marker for "not
importable": ``import tensorflow`` raises ModuleNotFoundError and
``importlib.util.find_spec("tensorflow")`` returns None, as if it were not installed. (A
meta-path finder that raised instead broke PyTorch, whose ``torch._dynamo`` probes optional
libraries with ``find_spec`` and expects None for a missing one.)
"""

import os
import sys

BLOCKED = tuple(name for name in os.environ.get("GODEEP_BLOCK_IMPORTS", "").split(",") if name)

for _name in BLOCKED:
    if _name not in sys.modules:
        sys.modules[_name] = None
