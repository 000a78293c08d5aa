"""CIFAR-10, read from the binary archive (no pickle is ever loaded)."""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .. import validate
from .dataset import _OFFLINE_HINT, Dataset, DatasetUnavailableError
from .download import _fetch, data_dir
from .mnist import _ARCHIVE_ERRORS

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


def _check_cifar_batch(path: Path, what: str | None = None, records: int | None = None) -> None:
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


def _check_records(records: Mapping[str, int] | None) -> dict[str, int | None]:
    """Records expected per batch file: CIFAR-10's 10000 each, or the mapping given for every file."""
    names = _CIFAR_TRAIN + _CIFAR_TEST
    if records is None:
        return dict.fromkeys(names)
    if not isinstance(records, Mapping):
        raise TypeError(
            f"records must be a mapping of batch file name to record count, got {type(records).__name__}"
        )
    if set(records) != set(names):
        raise ValueError(
            f"records must give a count for exactly the files {names}, got {sorted(records)}"
        )
    return {name: validate.positive_int(f"records[{name!r}]", records[name]) for name in names}


def _read_cifar_batches(
    paths: list[Path], records: dict | None = None
) -> tuple[np.ndarray, np.ndarray]:
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
    records: Mapping[str, int] | None = None,
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
