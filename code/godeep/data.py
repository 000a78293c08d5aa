"""Datasets of the course, as plain NumPy arrays.

Two datasets, both built offline (no download):

* :func:`mnist1d` -- MNIST-1D (Greydanus, 2020), 1-D signals of length 40 generated procedurally
  by the ``mnist1d`` package: small enough for a CPU, hard enough to separate good nets from bad.
* :func:`digits` -- scikit-learn's bundled 8x8 handwritten digits (1797 images).

Two real datasets are downloaded on demand, for readers who are online:

* :func:`load_mnist` -- MNIST, from the IDX files on the mirror torchvision uses.
* :func:`load_cifar10` -- CIFAR-10, from the *binary* archive, so no pickle is ever loaded.

Every loader returns a :class:`Dataset`: ``x`` float32, ``y`` int64, images in NCHW layout (the
PyTorch convention; :func:`to_channels_last` gives the NHWC layout Keras expects). The module
imports only NumPy; scikit-learn and ``mnist1d`` are imported when their dataset is asked for.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import math
import os
import random
import shutil
import sys
import tarfile
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping
from typing import Optional

import numpy as np

from . import validate

__all__ = [
    "Dataset",
    "DatasetUnavailableError",
    "ChecksumError",
    "RESOURCES",
    "mnist1d",
    "digits",
    "to_channels_last",
    "load_mnist",
    "load_cifar10",
    "parse_idx",
    "data_dir",
]

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
        for arg, n, total in (("n_train", n_train, len(self.y_train)),
                              ("n_test", n_test, len(self.y_test))):
            _check_int(arg, n, low=1)
            if n > total:
                raise ValueError(f"{arg} must be at most {total}, got {n}")
        return Dataset(
            self.x_train[:n_train].copy(), self.y_train[:n_train].copy(),
            self.x_test[:n_test].copy(), self.y_test[:n_test].copy(),
            name=self.name, classes=self.classes,
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
            raise ValueError(f"{name} must hold whole-number class labels, got {raw[i]} at index {i}")
    bad = np.flatnonzero((raw < 0) | (raw >= classes))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name} must hold labels in [0, {classes}) (classes={classes}), got {raw[i]} at index {i}")
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


def _standardize(train: np.ndarray, test: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(x - mu) / sigma`` for both splits, with mu, sigma from the *training* split.

    ``axis=None``: one scalar mu, sigma; ``axis=0``: one per feature. A constant feature
    (sigma = 0) is only centred.
    """
    mu = train.mean(axis=axis, dtype=np.float64)
    sigma = train.std(axis=axis, dtype=np.float64)
    sigma = np.where(sigma > 0, sigma, 1.0)
    return ((train - mu) / sigma).astype(np.float32), ((test - mu) / sigma).astype(np.float32)


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
        raise ValueError(f"n_samples must be a multiple of 10 (10 balanced classes), got {n_samples}")
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
    return Dataset(x_train, y[:n_train].copy(), x_test, y[n_train:].copy(),
                   name="mnist1d", classes=10)


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


# --------------------------------------------------------------------------------------------
# Downloads: one table of URLs and checksums, one download function
# --------------------------------------------------------------------------------------------

_MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"

#: file name -> (URL, MD5). MNIST's MD5s are torchvision's (torchvision/datasets/mnist.py);
#: CIFAR-10's is the one published on https://www.cs.toronto.edu/~kriz/cifar.html.
RESOURCES: dict[str, tuple[str, str]] = {
    "train-images-idx3-ubyte.gz": (_MNIST_MIRROR + "train-images-idx3-ubyte.gz",
                                   "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train-labels-idx1-ubyte.gz": (_MNIST_MIRROR + "train-labels-idx1-ubyte.gz",
                                   "d53e105ee54ea40749a09fcbcd1e9432"),
    "t10k-images-idx3-ubyte.gz": (_MNIST_MIRROR + "t10k-images-idx3-ubyte.gz",
                                  "9fb629c4189551a2d022fa330f9573f3"),
    "t10k-labels-idx1-ubyte.gz": (_MNIST_MIRROR + "t10k-labels-idx1-ubyte.gz",
                                  "ec29112dd5afa0611ce80d1b7f02629c"),
    "cifar-10-binary.tar.gz": ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                               "c32a1d4ab5d03f1284b67883e8d87530"),
}


def data_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """The download cache: ``root`` if given, else ``$GODEEP_DATA``, else ``~/.cache/godeep``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("GODEEP_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "godeep"


def _urlretrieve(url: str, destination: Path) -> None:
    """Copy ``url`` into the file ``destination`` (the only function that touches the network)."""
    with urllib.request.urlopen(url, timeout=60) as response, open(destination, "wb") as out:
        shutil.copyfileobj(response, out, length=1 << 20)


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(filename: str, directory: Path, download: bool) -> Path:
    """Path of the verified file ``directory/filename``, downloading it if missing.

    A download goes to a temporary file in ``directory``, is checked against the MD5 in
    :data:`RESOURCES`, then renamed into place atomically, so a partial or corrupt file never
    sits under the final name.
    """
    url, md5 = RESOURCES[filename]
    path = directory / filename
    if path.is_file():
        if _md5(path) == md5:
            return path
        if not download:
            raise ChecksumError(
                f"{path} is corrupt (MD5 {_md5(path)}, expected {md5}); delete it or pass "
                f"download=True to fetch it again from {url}. {_OFFLINE_HINT}"
            )
    elif not download:
        raise DatasetUnavailableError(
            f"{filename} is missing: looked for {path} and download=False. Download it from "
            f"{url} into {directory} (or pass download=True). {_OFFLINE_HINT}"
        )
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=directory)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        print(f"Downloading {url} to {path}", file=sys.stderr)
        try:
            _urlretrieve(url, tmp)
        except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
            raise DatasetUnavailableError(
                f"{filename} is missing from {directory} and downloading {url} failed "
                f"({exc}). {_OFFLINE_HINT}"
            ) from exc
        got = _md5(tmp)
        if got != md5:
            raise ChecksumError(
                f"downloaded {filename} from {url} has MD5 {got}, expected {md5}; the file "
                f"was deleted. Try again later. {_OFFLINE_HINT}"
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# --------------------------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------------------------

_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(data: bytes) -> np.ndarray:
    """Decode an IDX file (the MNIST format) into an array in native byte order.

    Layout: two zero bytes, a dtype code (0x08 unsigned byte, 0x09 signed byte, 0x0B int16,
    0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions ``d``, then ``d``
    big-endian uint32 sizes and the values, big-endian, in C order.
    """
    data = bytes(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError("data is not an IDX file: the magic number must start with two zero bytes")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"data has unknown IDX dtype code {code:#04x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"data is truncated: {len(data)} bytes, the header alone needs {header}")
    shape = tuple(int(n) for n in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = header + math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if len(data) != expected:
        raise ValueError(
            f"data has {len(data)} bytes, an IDX array of shape {shape} and dtype {dtype} "
            f"needs {expected}"
        )
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # a writable copy


#: what a truncated or damaged gzip (or tar.gz) archive raises while it is read
_ARCHIVE_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, tarfile.TarError)


def _read_idx_gz(path: Path) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as f:
            blob = f.read()
    except _ARCHIVE_ERRORS as exc:
        raise DatasetUnavailableError(
            f"{path} is truncated or corrupt ({exc}); delete it and retry. {_OFFLINE_HINT}"
        ) from exc
    try:
        return parse_idx(blob)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def load_mnist(root: str | os.PathLike[str] | None = None, download: bool = True) -> Dataset:
    """MNIST: 60000 training and 10000 test 28x28 grey digits, ``x`` shaped (N, 1, 28, 28).

    Files live in ``data_dir(root) / "mnist"``; missing ones are downloaded (if ``download``)
    from torchvision's mirror and checked against torchvision's MD5s. Pixels are scaled to
    ``[0, 1]``: ``x = byte / 255``. Raises :class:`DatasetUnavailableError` when offline.
    """
    validate.boolean("download", download)
    directory = data_dir(root) / "mnist"
    arrays = {}
    for split in ("train", "t10k"):
        images = _read_idx_gz(_fetch(f"{split}-images-idx3-ubyte.gz", directory, download))
        labels = _read_idx_gz(_fetch(f"{split}-labels-idx1-ubyte.gz", directory, download))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(
                f"MNIST {split} files in {directory} are inconsistent: images {images.shape}, "
                f"labels {labels.shape}"
            )
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise ValueError(
                f"{directory / f'{split}-labels-idx1-ubyte.gz'} holds labels from {labels.min()} "
                f"to {labels.max()}, MNIST's are 0..9"
            )
        x = (images.astype(np.float32) / 255.0)[:, None]
        arrays[split] = (x, labels.astype(np.int64))
    return Dataset(*arrays["train"], *arrays["t10k"], name="mnist", classes=10)


# --------------------------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------------------------

_CIFAR_FOLDER = "cifar-10-batches-bin"
_CIFAR_TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]
_CIFAR_TEST = ["test_batch.bin"]
_CIFAR_RECORD = 1 + 3 * 32 * 32
#: records in each of the six batch files (so 50000 training and 10000 test images)
_CIFAR_BATCH_RECORDS = 10000


def _cifar_batch_bytes() -> int:
    return _CIFAR_BATCH_RECORDS * _CIFAR_RECORD


def _extract_cifar(archive: Path, directory: Path) -> Path:
    """Extract the six batch files of ``archive`` into ``directory / cifar-10-batches-bin``.

    Only the expected members are read (by exact name, so no path from the archive is ever
    trusted) into a temporary folder that is renamed into place when complete.
    """
    target = directory / _CIFAR_FOLDER
    tmp = Path(tempfile.mkdtemp(prefix=f".{_CIFAR_FOLDER}.", dir=directory))
    size = _cifar_batch_bytes()
    try:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for name in _CIFAR_TRAIN + _CIFAR_TEST:
                    try:
                        member = tar.getmember(f"{_CIFAR_FOLDER}/{name}")
                    except KeyError:
                        raise DatasetUnavailableError(
                            f"{archive} has no member {_CIFAR_FOLDER}/{name}; delete it and retry. "
                            f"{_OFFLINE_HINT}"
                        ) from None
                    if member.size != size:
                        raise DatasetUnavailableError(
                            f"{archive}: {member.name} has {member.size} bytes, a CIFAR-10 batch has "
                            f"{size}; delete the archive and retry. {_OFFLINE_HINT}"
                        )
                    source = tar.extractfile(member)
                    if source is None:
                        raise DatasetUnavailableError(f"{archive}: {member.name} is not a file")
                    with source, open(tmp / name, "wb") as out:
                        shutil.copyfileobj(source, out, length=1 << 20)
        except _ARCHIVE_ERRORS as exc:
            raise DatasetUnavailableError(
                f"{archive} is truncated or corrupt ({exc}); delete it and retry. {_OFFLINE_HINT}"
            ) from exc
        for name in _CIFAR_TRAIN + _CIFAR_TEST:  # the extracted files, not only the archive
            _check_cifar_batch(tmp / name, what=f"{name} extracted from {archive}")
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _check_cifar_batch(path: Path, what: Optional[str] = None, records: Optional[int] = None) -> None:
    """Raise ``ValueError`` unless ``path`` holds exactly one batch: ``records`` (default
    10000) records of 3073 bytes."""
    records = _CIFAR_BATCH_RECORDS if records is None else records
    size, expected = path.stat().st_size, records * _CIFAR_RECORD
    if size != expected:
        raise ValueError(
            f"{what or path} is not a CIFAR-10 binary batch: {size} bytes, expected {expected} "
            f"({records} records of {_CIFAR_RECORD} bytes); delete {path.parent} "
            "to extract the archive again"
        )


def _check_records(records: Optional[Mapping[str, int]]) -> dict[str, Optional[int]]:
    """Records expected per batch file: CIFAR-10's 10000 each, or the mapping given for every file."""
    names = _CIFAR_TRAIN + _CIFAR_TEST
    if records is None:
        return dict.fromkeys(names)
    if not isinstance(records, Mapping):
        raise TypeError(f"records must be a mapping of batch file name to record count, got {type(records).__name__}")
    if set(records) != set(names):
        raise ValueError(f"records must give a count for exactly the files {names}, got {sorted(records)}")
    return {name: validate.positive_int(f"records[{name!r}]", records[name]) for name in names}


def _read_cifar_batches(paths: list[Path], records: Optional[dict] = None) -> tuple[np.ndarray, np.ndarray]:
    """Records of 1 label byte + 3072 pixel bytes (R, G, B planes, rows in order) -> x, y.

    Every file must hold exactly one batch of 10000 records, or the count ``records`` gives
    for it (each size is checked first).
    """
    for path in paths:
        _check_cifar_batch(path, records=(records or {}).get(path.name))
    records = []
    for path in paths:
        raw = np.fromfile(path, dtype=np.uint8)
        records.append(raw.reshape(-1, _CIFAR_RECORD))
    table = np.concatenate(records)
    y = table[:, 0].astype(np.int64)
    if y.size and y.max() > 9:
        raise ValueError(f"CIFAR-10 labels must be 0..9, found {y.max()} in {paths[0].parent}")
    x = table[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0
    return x, y


def load_cifar10(
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    *,
    records: Optional[Mapping[str, int]] = None,
) -> Dataset:
    """CIFAR-10: 50000 training and 10000 test 32x32 colour images, ``x`` shaped (N, 3, 32, 32).

    Uses the binary archive ``cifar-10-binary.tar.gz`` (MD5-checked), extracted once into
    ``data_dir(root) / "cifar10" / "cifar-10-batches-bin"``. Pixels are scaled to ``[0, 1]``:
    ``x = byte / 255``. The float32 arrays take about 740 MB. Raises
    :class:`DatasetUnavailableError` when the archive is missing and cannot be downloaded.

    ``records`` is for CIFAR-format stand-ins (tests, smoke runs): the number of records each
    of the six batch files must hold, by file name, instead of CIFAR-10's 10000.
    """
    validate.boolean("download", download)
    expected = _check_records(records)
    directory = data_dir(root) / "cifar10"
    folder = directory / _CIFAR_FOLDER
    if not all((folder / name).is_file() for name in _CIFAR_TRAIN + _CIFAR_TEST):
        archive = _fetch("cifar-10-binary.tar.gz", directory, download)
        shutil.rmtree(folder, ignore_errors=True)  # an incomplete folder left by hand
        folder = _extract_cifar(archive, directory)
    x_train, y_train = _read_cifar_batches([folder / name for name in _CIFAR_TRAIN], expected)
    x_test, y_test = _read_cifar_batches([folder / name for name in _CIFAR_TEST], expected)
    return Dataset(x_train, y_train, x_test, y_test, name="cifar10", classes=10)
