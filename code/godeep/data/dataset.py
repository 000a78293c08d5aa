"""The :class:`Dataset` container, the loaders' errors and their argument checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import validate

_OFFLINE_HINT = (
    "Offline alternatives that need no download: godeep.data.mnist1d() and godeep.data.digits()."
)

# --------------------------------------------------------------------------------------------
# The Dataset container
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split of a classification dataset.

    ``x_*`` are float32 arrays of shape ``(N, ...)`` (images NCHW), ``y_*`` int64 labels in
    ``0 .. classes-1`` of shape ``(N,)``. Inputs are converted to these dtypes on construction,
    after checks: ``classes`` is an int >= 1; labels are whole numbers (integer dtype, or floats
    with no fraction and no NaN) in ``0 .. classes-1``; ``x`` holds numbers, one row per label.
    A split may be empty.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str
    classes: int

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a str, got {type(self.name).__name__}")
        object.__setattr__(self, "classes", validate.positive_int("classes", self.classes))
        for split in ("train", "test"):
            x = _features(f"x_{split}", getattr(self, f"x_{split}"))
            y = _labels(f"y_{split}", getattr(self, f"y_{split}"), self.classes)
            if x.ndim < 2 or len(x) != len(y):
                raise ValueError(
                    f"x_{split} must have shape (N, ...) with N = len(y_{split}) = {len(y)}, "
                    f"got shape {x.shape}"
                )
            object.__setattr__(self, f"x_{split}", x)
            object.__setattr__(self, f"y_{split}", y)
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(
                f"x_train and x_test must have the same sample shape, got "
                f"{self.x_train.shape[1:]} and {self.x_test.shape[1:]}"
            )

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input, ``x_train.shape[1:]``, e.g. ``(40,)`` or ``(1, 28, 28)``."""
        return tuple(self.x_train.shape[1:])

    @property
    def n_features(self) -> int:
        """Number of scalars in one input, the product of :attr:`input_shape` (784 for MNIST)."""
        return int(np.prod(self.input_shape))

    def subset(self, n_train: int, n_test: int | None = None) -> Dataset:
        """The first ``n_train`` training and ``n_test`` test examples (all test ones if None).

        The loaders return shuffled (or stratified) splits, so a prefix is a fair sample.
        """
        n_test = len(self.y_test) if n_test is None else n_test
        for arg, n, total in (
            ("n_train", n_train, len(self.y_train)),
            ("n_test", n_test, len(self.y_test)),
        ):
            _check_int(arg, n, low=1)
            if n > total:
                raise ValueError(f"{arg} must be at most {total}, got {n}")
        return Dataset(
            self.x_train[:n_train].copy(),
            self.y_train[:n_train].copy(),
            self.x_test[:n_test].copy(),
            self.y_test[:n_test].copy(),
            name=self.name,
            classes=self.classes,
        )

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, classes={self.classes}, "
            f"train={self.x_train.shape}, test={self.x_test.shape})"
        )


def _features(name: str, x: object) -> np.ndarray:
    """``x`` as float32, refusing what is not numbers (strings, objects, complex)."""
    raw = np.asarray(x)
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {raw.dtype}")
    return np.asarray(raw, dtype=np.float32)


def _labels(name: str, y: object, classes: int) -> np.ndarray:
    """``y`` as int64 class labels in ``[0, classes)``: no fraction, no NaN, nothing out of range."""
    raw = np.asarray(y)
    if raw.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {raw.shape}")
    if raw.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold integer class labels, got dtype {raw.dtype}")
    if raw.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(raw) | (raw != np.round(raw)))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"{name} must hold whole-number class labels, got {raw[i]} at index {i}"
            )
    bad = np.flatnonzero((raw < 0) | (raw >= classes))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{name} must hold labels in [0, {classes}) (classes={classes}), got {raw[i]} at index {i}"
        )
    return np.asarray(raw, dtype=np.int64)  # no copy when already int64


class DatasetUnavailableError(RuntimeError):
    """A dataset file is missing and could not be downloaded (or failed its checksum)."""


class ChecksumError(DatasetUnavailableError):
    """A downloaded file's MD5 differs from the published one (the file is deleted)."""


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    return validate.integer(name, value, low, high)


def _check_fraction(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a float in (0, 1), got {type(value).__name__}")
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value}")
    return float(value)


def _standardize(
    train: np.ndarray, test: np.ndarray, axis: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(x - mu) / sigma`` for both splits, with mu, sigma from the *training* split.

    ``axis=None``: one scalar mu, sigma; ``axis=0``: one per feature. A constant feature
    (sigma = 0) is only centred.
    """
    mu = train.mean(axis=axis, dtype=np.float64)
    sigma = train.std(axis=axis, dtype=np.float64)
    sigma = np.where(sigma > 0, sigma, 1.0)
    return ((train - mu) / sigma).astype(np.float32), ((test - mu) / sigma).astype(np.float32)
