"""CIFAR-10 for the full-scale runs: the project's verified loader, a subset, a validation
split and the per-pixel mean subtraction. Framework-neutral (NumPy only)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from godeep import data as gd_data

from .augment import per_pixel_mean

__all__ = [
    "DataError",
    "Prepared",
    "STAND_IN_MANIFEST",
    "load_prepared",
    "prepare",
    "stand_in_records",
    "synthetic_cifar",
    "write_cifar_files",
]


class DataError(RuntimeError):
    """The data directory is missing, incomplete or damaged (the message says what to do)."""


@dataclass(frozen=True)
class Prepared:
    """Mean-subtracted float32 images (N, 3, 32, 32) and int64 labels; ``x_val`` is None
    unless a validation split was asked for. ``mean`` is the training set's mean image."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    mean: np.ndarray


def prepare(data_dir: str | os.PathLike[str]) -> Path:
    """Download CIFAR-10's binary archive once into ``data_dir`` (MD5-checked by
    :func:`godeep.data.load_cifar10`) and check it loads; returns the batches' folder."""
    try:
        dataset = gd_data.load_cifar10(data_dir, download=True)
    except gd_data.DatasetUnavailableError as exc:
        raise DataError(f"could not prepare CIFAR-10 in {data_dir}: {exc}") from exc
    print(f"CIFAR-10 ready in {Path(data_dir) / 'cifar10'}: {dataset}")
    return Path(data_dir) / "cifar10"


def load_prepared(
    data_dir: str | os.PathLike[str],
    train_subset: int | None = None,
    test_subset: int | None = None,
    val_split: bool = False,
) -> Prepared:
    """Load CIFAR-10 from ``data_dir`` (never downloads), keep the first ``train_subset``
    training and ``test_subset`` test images, optionally hold out the last tenth of the training
    images (5k of 50k: the paper's 45k/5k split) for validation, and subtract the per-pixel mean
    of the (remaining) training images from every image: x <- x - mean_i(x_train_i)."""
    if data_dir is None:
        raise DataError(
            "--data-dir is required (prepare it with: python -m godeep.reproduce "
            "prepare-data --data-dir DIR)"
        )
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(
            f"data directory {root} does not exist; create and fill it with: "
            f"python -m godeep.reproduce prepare-data --data-dir {root}"
        )
    try:
        ds = gd_data.load_cifar10(root, download=False, records=stand_in_records(root))
    except gd_data.DatasetUnavailableError as exc:
        raise DataError(
            f"CIFAR-10 is missing or incomplete in {root}: {exc}\nPrepare it once "
            f"with: python -m godeep.reproduce prepare-data --data-dir {root}"
        ) from exc
    except (ValueError, OSError) as exc:
        raise DataError(
            f"CIFAR-10 in {root} is damaged: {exc}\nDelete {root / 'cifar10'} and "
            f"run: python -m godeep.reproduce prepare-data --data-dir {root}"
        ) from exc
    x_train, y_train, x_test, y_test = ds.x_train, ds.y_train, ds.x_test, ds.y_test
    for name, n, total in (
        ("train_subset", train_subset, len(y_train)),
        ("test_subset", test_subset, len(y_test)),
    ):
        if n is not None and not 1 <= n <= total:
            raise ValueError(f"{name} must be in [1, {total}], got {n}")
    if train_subset is not None:
        x_train, y_train = x_train[:train_subset], y_train[:train_subset]
    if test_subset is not None:
        x_test, y_test = x_test[:test_subset], y_test[:test_subset]
    x_val = y_val = None
    if val_split:
        n_val = len(y_train) // 10
        if n_val < 1:
            raise ValueError("too few training images for a validation split")
        x_train, x_val = x_train[:-n_val], x_train[-n_val:]
        y_train, y_val = y_train[:-n_val], y_train[-n_val:]
    mean = per_pixel_mean(x_train)
    sub = lambda x: None if x is None else np.ascontiguousarray(x - mean)  # noqa: E731
    return Prepared(sub(x_train), y_train, sub(x_test), y_test, sub(x_val), y_val, mean)


_TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
_TEST_FILE = "test_batch.bin"
#: written beside CIFAR-format files that are not CIFAR-10 (tests, smoke runs): records per file
STAND_IN_MANIFEST = "STAND-IN.json"


def stand_in_records(data_dir: str | os.PathLike[str]) -> dict[str, int] | None:
    """The records per batch file of a CIFAR-format stand-in written by :func:`write_cifar_files`,
    or None for real CIFAR-10 (no manifest), whose files must hold 10000 records each."""
    manifest = Path(data_dir) / "cifar10" / "cifar-10-batches-bin" / STAND_IN_MANIFEST
    if not manifest.is_file():
        return None
    try:
        return dict(json.loads(manifest.read_text())["records"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"{manifest} is damaged ({exc}); delete the folder and write the data again"
        ) from exc


def write_cifar_files(
    data_dir: str | os.PathLike[str],
    images: np.ndarray,
    labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
) -> Path:
    """Write uint8 images (N, 3, 32, 32) and labels as CIFAR-10's binary batch files
    (record = 1 label byte + 3072 pixel bytes) under ``data_dir/cifar10/cifar-10-batches-bin``,
    the training images split over the five ``data_batch_i.bin`` files. For tests and smoke
    runs: what :func:`godeep.data.load_cifar10` reads back is exactly these arrays / 255.
    A manifest (:data:`STAND_IN_MANIFEST`) records the files' record counts, which
    :func:`load_prepared` passes to the loader's size checks instead of CIFAR-10's 10000."""
    folder = Path(data_dir) / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True, exist_ok=True)

    def records(x: np.ndarray, y: np.ndarray) -> bytes:
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype != np.uint8 or x.shape[1:] != (3, 32, 32) or len(x) != len(y):
            raise ValueError(
                f"need uint8 images (N, 3, 32, 32) and N labels, got {x.shape} "
                f"{x.dtype} and {y.shape}"
            )
        if len(y) and (y.min() < 0 or y.max() > 9):
            raise ValueError("labels must be in 0..9")
        table = np.concatenate([y.astype(np.uint8)[:, None], x.reshape(len(x), -1)], axis=1)
        return table.tobytes()

    counts = {}
    for i, part in enumerate(np.array_split(np.arange(len(labels)), 5)):
        (folder / _TRAIN_FILES[i]).write_bytes(records(images[part], labels[part]))
        counts[_TRAIN_FILES[i]] = len(part)
    (folder / _TEST_FILE).write_bytes(records(test_images, test_labels))
    counts[_TEST_FILE] = len(test_labels)
    note = "not CIFAR-10: a CIFAR-format stand-in for tests and smoke runs"
    (folder / STAND_IN_MANIFEST).write_text(json.dumps({"note": note, "records": counts}, indent=1))
    return folder


def synthetic_cifar(
    data_dir: str | os.PathLike[str], n_train: int = 50, n_test: int = 20, seed: int = 0
) -> Path:
    """Write a *synthetic* CIFAR-format dataset (no download): class k's images are uniform
    noise plus a colour offset and a bright band at a class-dependent row, so a network can
    learn them. Only for tests and smoke runs: its errors say nothing about CIFAR-10."""
    rng = np.random.default_rng(seed)

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 10, size=n)
        x = rng.uniform(0, 160, size=(n, 3, 32, 32))
        x[np.arange(n), y % 3] += 60
        for i, k in enumerate(y):
            x[i, :, 3 * k : 3 * k + 3, :] += 40
        return np.clip(x, 0, 255).astype(np.uint8), y

    x, y = make(n_train)
    xt, yt = make(n_test)
    return write_cifar_files(data_dir, x, y, xt, yt)
