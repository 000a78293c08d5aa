"""The offline datasets: MNIST-1D (procedural) and scikit-learn's 8x8 digits."""

from __future__ import annotations

import functools
import random

import numpy as np

from .dataset import Dataset, _check_fraction, _check_int, _standardize

# --------------------------------------------------------------------------------------------
# MNIST-1D (procedural, offline)
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _mnist1d_raw(n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Generate MNIST-1D with ``mnist1d.data.make_dataset`` (never its downloading path).

    ``make_dataset`` reseeds the *global* ``random`` and ``np.random`` generators; their states
    are saved and restored so that calling this leaves the caller's random streams untouched.
    The arrays are cached (generation takes ~1 s) and marked read-only; callers copy them.
    """
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = n_samples
    args.seed = seed
    args.train_split = 1.0  # we split ourselves, see mnist1d()
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        generated = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    x = np.asarray(generated["x"], dtype=np.float64)
    y = np.asarray(generated["y"], dtype=np.int64)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def mnist1d(n_samples: int = 4000, seed: int = 0, test_fraction: float = 0.2) -> Dataset:
    """MNIST-1D: ``n_samples`` signals of length 40, 10 balanced classes, generated offline.

    The ``mnist1d`` package renders each digit template with random padding, scaling,
    translation, correlated and i.i.d. noise and shear (``seed`` fixes all of it; the original
    MNIST-1D release used ``n_samples=5000, seed=42``). Samples come shuffled; the last
    ``round(n_samples * test_fraction)`` form the test split. Inputs are standardized with the
    training split's scalar mean and standard deviation, ``x <- (x - mu_train) / sigma_train``
    (one scalar, not one per time step, so the shape of every signal is preserved).

    Generation takes about a second; results are cached in memory per ``(n_samples, seed)``,
    and every call returns fresh copies.
    """
    n_samples = _check_int("n_samples", n_samples, low=10)
    if n_samples % 10:
        raise ValueError(
            f"n_samples must be a multiple of 10 (10 balanced classes), got {n_samples}"
        )
    seed = _check_int("seed", seed, low=0, high=2**32 - 1)
    test_fraction = _check_fraction("test_fraction", test_fraction)
    n_test = round(n_samples * test_fraction)
    if not 0 < n_test < n_samples:
        raise ValueError(
            f"test_fraction={test_fraction} leaves an empty split of n_samples={n_samples}"
        )
    x, y = _mnist1d_raw(n_samples, seed)
    n_train = n_samples - n_test
    x_train, x_test = _standardize(x[:n_train], x[n_train:], axis=None)
    return Dataset(
        x_train, y[:n_train].copy(), x_test, y[n_train:].copy(), name="mnist1d", classes=10
    )


# --------------------------------------------------------------------------------------------
# scikit-learn digits (bundled, offline)
# --------------------------------------------------------------------------------------------


def digits(
    test_fraction: float = 0.25, seed: int = 0, standardize: bool = True, images: bool = False
) -> Dataset:
    """scikit-learn's 8x8 digits (1797 images, 10 classes; bundled, no download).

    The split is stratified (each class keeps its share in both splits) and shuffled by
    ``seed``. Pixels (0..16) are standardized per pixel with training statistics,
    ``x_j <- (x_j - mu_j) / sigma_j`` (constant pixels only centred) if ``standardize``, else
    scaled to ``[0, 1]``. Inputs are flat ``(N, 64)``, or ``(N, 1, 8, 8)`` NCHW if ``images``.
    """
    test_fraction = _check_fraction("test_fraction", test_fraction)
    seed = _check_int("seed", seed, low=0, high=2**32 - 1)
    for name, value in (("standardize", standardize), ("images", images)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {type(value).__name__}")

    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x, y = bunch.data.astype(np.float64), bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    if standardize:
        x_train, x_test = _standardize(x_train, x_test, axis=0)
    else:
        x_train, x_test = x_train / 16.0, x_test / 16.0
    if images:
        x_train, x_test = x_train.reshape(-1, 1, 8, 8), x_test.reshape(-1, 1, 8, 8)
    return Dataset(x_train, y_train, x_test, y_test, name="digits", classes=10)


def to_channels_last(x: np.ndarray) -> np.ndarray:
    """NCHW (PyTorch) -> NHWC (Keras): ``out[n, h, w, c] = x[n, c, h, w]``, a contiguous copy."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(
            f"x must be a 4-D batch of images in NCHW layout (N, C, H, W), got shape {x.shape}"
        )
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
