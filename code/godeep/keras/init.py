"""Weight initialization in Keras: the twin of :mod:`godeep.init`.

Same formulas, Keras' kernel layout: a ``Dense`` kernel is ``(in, out)`` and a ``Conv2D``
kernel ``(K_h, K_w, C_in, C_out)``, so ``fan_in = C_in * K_h * K_w`` is read from the
second-to-last axis and ``fan_out = C_out * K_h * K_w`` from the last (PyTorch puts ``out``
first). The initializers are classes usable as ``kernel_initializer=``:

    keras.layers.Dense(64, kernel_initializer=KaimingNormal(seed=0))

Each instance owns a ``keras.random.SeedGenerator``: an integer ``seed`` makes the whole
sequence of draws reproducible, and successive calls (one per layer) give *different* weights.
Keras 3's built-in initializers, by contrast, return the same values on every call of one
instance, so sharing one between layers gives every layer identical weights.

Unlike Keras' ``HeNormal`` and ``GlorotNormal`` (a truncated normal, rescaled), the normal
initializers here draw from an untruncated normal, as ``torch.nn.init`` does.

Shapes of fewer than 2 dimensions are handled as Keras' ``compute_fans`` does: a 1-D shape
``(n,)`` has ``fan_in = fan_out = n``, a scalar ``()`` has 1 and 1. A shape with a zero
dimension gets an empty tensor, as from Keras' initializers (:func:`fans` itself refuses it).
``mode`` is case-insensitive, as in :mod:`godeep.init`.
"""

from __future__ import annotations

import math
import numbers

import keras

from ..init import MODES, NONLINEARITIES, _mode, _shape, gain, uniform_bound  # noqa: F401  (framework-neutral)
from . import tf  # noqa: F401  (quiet TensorFlow import)

__all__ = [
    "NONLINEARITIES",
    "MODES",
    "fans",
    "gain",
    "xavier_std",
    "kaiming_std",
    "uniform_bound",
    "XavierNormal",
    "XavierUniform",
    "KaimingNormal",
    "KaimingUniform",
    "xavier_normal_",
    "xavier_uniform_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "KERAS_TRUNCATION_STD",
]

#: Standard deviation of a standard normal truncated to [-2, 2]. Keras' VarianceScaling with
#: ``distribution="truncated_normal"`` (HeNormal, GlorotNormal, LecunNormal) divides its stddev
#: by this constant (keras/src/initializers/random_initializers.py) so that the *truncated*
#: draws have the intended standard deviation ``sqrt(scale / n)``.
KERAS_TRUNCATION_STD = 0.87962566103423978


def fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a kernel in Keras layout ``(*kernel, in, out)``.

    ``Dense``: ``(in, out)``; ``Conv2D``: ``(K_h, K_w, C_in, C_out)``, so
    ``fan_in = C_in K_h K_w`` and ``fan_out = C_out K_h K_w``. ``shape`` may be a tensor or variable.
    As Keras: ``(n,)`` gives ``(n, n)`` and ``()`` gives ``(1, 1)``.
    """
    dims = _shape(shape, layout="(*kernel, in, out)", what="kernel", min_dims=0)
    if len(dims) < 2:
        n = dims[0] if dims else 1
        return n, n
    receptive_field = math.prod(dims[:-2])
    return dims[-2] * receptive_field, dims[-1] * receptive_field


def _check_gain(value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"gain must be a finite number >= 0, got {value!r}")
    return float(value)


def xavier_std(shape, gain: float = 1.0) -> float:
    """``gain * sqrt(2 / (fan_in + fan_out))`` with Keras' fans; see :func:`godeep.init.xavier_std`."""
    fan_in, fan_out = fans(shape)
    return _check_gain(gain) * math.sqrt(2.0 / (fan_in + fan_out))


def kaiming_std(shape, mode: str = "fan_in", nonlinearity: str = "relu", a: float = 0.0) -> float:
    """``gain(nonlinearity, a) / sqrt(fan)`` with Keras' fans; see :func:`godeep.init.kaiming_std`."""
    mode = _mode(mode)
    fan_in, fan_out = fans(shape)
    return gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def _dims(shape) -> tuple | None:
    """``shape`` as a tuple of ints, or None when it is not one (the std functions then explain)."""
    try:
        dims = (
            tuple(shape.shape)
            if hasattr(shape, "shape") and not isinstance(shape, (tuple, list))
            else tuple(shape)
        )
    except TypeError:
        return None
    ints = all(isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in dims)
    return tuple(int(d) for d in dims) if ints else None


class _VarianceInitializer(keras.initializers.Initializer):
    """Base class: a seeded stream of draws, normal or uniform, with a std given by the shape."""

    distribution = "normal"

    def __init__(self, seed: int | None = None) -> None:
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0
        ):
            raise ValueError(f"seed must be None or a non-negative int, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        # seed=None: Keras draws a starting seed from Python's `random` (seeded by seed_everything)
        self._generator = keras.random.SeedGenerator(self.seed)

    def std(self, shape) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def __call__(self, shape, dtype=None):
        dims = _dims(shape)
        if dims is not None and 0 in dims:
            return keras.ops.zeros(dims, dtype=dtype)  # no elements to draw: empty, as from Keras
        std = self.std(shape)
        if self.distribution == "normal":
            return keras.random.normal(
                shape, mean=0.0, stddev=std, dtype=dtype, seed=self._generator
            )
        bound = uniform_bound(std)
        return keras.random.uniform(
            shape, minval=-bound, maxval=bound, dtype=dtype, seed=self._generator
        )

    def get_config(self) -> dict:
        return {"seed": self.seed}


class _Xavier(_VarianceInitializer):
    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.gain = _check_gain(gain)

    def std(self, shape) -> float:
        return xavier_std(shape, self.gain)

    def get_config(self) -> dict:
        return {"gain": self.gain, **super().get_config()}


class _Kaiming(_VarianceInitializer):
    def __init__(
        self,
        a: float = 0.0,
        mode: str = "fan_in",
        nonlinearity: str = "leaky_relu",
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        kaiming_std((1, 1), mode, nonlinearity, a)  # validate now, not at the first layer
        self.a, self.mode, self.nonlinearity = a, mode, nonlinearity

    def std(self, shape) -> float:
        return kaiming_std(shape, self.mode, self.nonlinearity, self.a)

    def get_config(self) -> dict:
        return {
            "a": self.a,
            "mode": self.mode,
            "nonlinearity": self.nonlinearity,
            **super().get_config(),
        }


@keras.saving.register_keras_serializable(package="godeep")
class XavierNormal(_Xavier):
    """Kernel ~ ``N(0, std^2)``, ``std = gain * sqrt(2 / (fan_in + fan_out))`` (untruncated)."""

    distribution = "normal"


@keras.saving.register_keras_serializable(package="godeep")
class XavierUniform(_Xavier):
    """Kernel ~ ``U(-a, a)``, ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    With gain 1 this is Keras' ``GlorotUniform``.
    """

    distribution = "uniform"


@keras.saving.register_keras_serializable(package="godeep")
class KaimingNormal(_Kaiming):
    """Kernel ~ ``N(0, std^2)``, ``std = gain(nonlinearity, a) / sqrt(fan)`` (untruncated)."""

    distribution = "normal"


@keras.saving.register_keras_serializable(package="godeep")
class KaimingUniform(_Kaiming):
    """Kernel ~ ``U(-b, b)``, ``b = sqrt(3) gain(nonlinearity, a) / sqrt(fan)``; ReLU: ``b = sqrt(6 / fan_in)``."""

    distribution = "uniform"


def _assign(variable, initializer):
    if not hasattr(variable, "assign") or not hasattr(variable, "shape"):
        raise TypeError(
            f"variable must be a keras.Variable (e.g. layer.kernel), got {type(variable).__name__}"
        )
    variable.assign(initializer(tuple(variable.shape), dtype=variable.dtype))
    return variable


def xavier_normal_(variable, gain: float = 1.0, seed: int | None = None):
    """Refill a Keras variable (e.g. ``layer.kernel``) in place with :class:`XavierNormal` draws."""
    return _assign(variable, XavierNormal(gain, seed))


def xavier_uniform_(variable, gain: float = 1.0, seed: int | None = None):
    """Refill a Keras variable in place with :class:`XavierUniform` draws."""
    return _assign(variable, XavierUniform(gain, seed))


def kaiming_normal_(
    variable,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    seed: int | None = None,
):
    """Refill a Keras variable in place with :class:`KaimingNormal` draws."""
    return _assign(variable, KaimingNormal(a, mode, nonlinearity, seed))


def kaiming_uniform_(
    variable,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    seed: int | None = None,
):
    """Refill a Keras variable in place with :class:`KaimingUniform` draws."""
    return _assign(variable, KaimingUniform(a, mode, nonlinearity, seed))


# Initializers with a module of their own, re-exported here with the others (imported last:
# godeep.keras.lsuv imports this module).
from .isometry import Orthogonal, orthogonal_  # noqa: E402
from .lsuv import lsuv_  # noqa: E402

__all__ += ["Orthogonal", "orthogonal_", "lsuv_"]
