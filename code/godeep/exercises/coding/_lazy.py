"""A wrong answer built only when checked."""


def _lazy(build, *args):
    """A wrong answer built only when checked: importing the chapter must not import PyTorch or Keras."""
    return lambda *shape: build(*args)(*shape)
