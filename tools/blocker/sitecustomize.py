"""Make some top-level modules unimportable in this interpreter (a framework's kernel).

tools/nb.py and the root conftest.py start the kernel of a derived notebook with this folder
first on PYTHONPATH and ``GODEEP_BLOCK_IMPORTS`` naming the other framework's modules, e.g.
``tensorflow,keras,tf_keras`` for the PyTorch notebook: those modules then look exactly as if
they were not installed (``import tensorflow`` raises ModuleNotFoundError,
``importlib.util.find_spec("tensorflow")`` is None, ``sys.modules`` has no entry), so "this
notebook runs without the other framework" is proven by the run, not hoped. With the
variable unset this file does nothing.

How: every finder on ``sys.meta_path`` is wrapped in a filter that answers None for the
blocked names. (Two simpler ways broke real libraries: a finder that *raised* broke PyTorch,
whose ``torch._dynamo`` probes optional libraries with ``find_spec``; ``sys.modules[name] =
None`` broke SciPy, whose array-API helpers read ``sys.modules["torch"].Tensor``.)
"""

import os
import sys

BLOCKED = frozenset(name for name in os.environ.get("GODEEP_BLOCK_IMPORTS", "").split(",") if name)


class HidingFinder:
    """A meta-path finder that hides the blocked top-level modules from the finder it wraps."""

    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            return None
        find_spec = getattr(self.finder, "find_spec", None)
        return None if find_spec is None else find_spec(name, path, target)

    def __getattr__(self, attribute):  # invalidate_caches, find_distributions, ...
        return getattr(self.finder, attribute)


if BLOCKED:
    sys.meta_path[:] = [
        f if isinstance(f, HidingFinder) else HidingFinder(f) for f in sys.meta_path
    ]
