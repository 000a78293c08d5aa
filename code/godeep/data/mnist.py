"""MNIST, read from its IDX files (:func:`parse_idx`)."""

from __future__ import annotations

import gzip
import math
import os
import tarfile
import zlib
from pathlib import Path

import numpy as np

from .. import validate
from .dataset import _OFFLINE_HINT, Dataset, DatasetUnavailableError
from .download import _fetch, data_dir

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
