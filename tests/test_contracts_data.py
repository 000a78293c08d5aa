"""Contracts of godeep.data: every bad input a clear error naming the field; damaged files caught.

All files are small and written in tmp dirs; nothing downloads.
"""

from __future__ import annotations

import gzip
import io
import re
import struct
import tarfile
import warnings

import numpy as np
import pytest

from godeep import data

X3 = np.zeros((3, 2))
X1 = np.zeros((1, 2))


def make(**changes):
    args = dict(x_train=X3, y_train=[0, 1, 2], x_test=X1, y_test=[1], name="t", classes=3)
    args.update(changes)
    return data.Dataset(**args)


# ------------------------------------------------------------------ Dataset: bad inputs

DATASET_BAD = [
    (
        dict(y_train=[0.5, 1.7, 2.2]),
        ValueError,
        "y_train must hold whole-number class labels, got 0.5 at index 0",
    ),
    (
        dict(y_train=[0.0, np.nan, 1.0]),
        ValueError,
        "y_train must hold whole-number class labels, got nan at index 1",
    ),
    (dict(y_test=[np.inf]), ValueError, "y_test must hold whole-number class labels, got inf"),
    (
        dict(y_train=[0, 5, 1]),
        ValueError,
        r"y_train must hold labels in \[0, 3\) \(classes=3\), got 5 at index 1",
    ),
    (dict(y_test=[-1]), ValueError, r"y_test must hold labels in \[0, 3\)"),
    (dict(y_train=[0.0, 3.0, 1.0]), ValueError, r"y_train must hold labels in \[0, 3\)"),
    (dict(y_train=np.array([1e30, 0, 0])), ValueError, r"y_train must hold labels in \[0, 3\)"),
    (
        dict(y_train=["a", "b", "c"]),
        TypeError,
        "y_train must hold integer class labels, got dtype <U1",
    ),
    (
        dict(y_train=[True, False, True]),
        TypeError,
        "y_train must hold integer class labels, got dtype bool",
    ),
    (dict(y_train=[[0], [1], [2]]), ValueError, r"y_train must be 1-D, got shape \(3, 1\)"),
    (
        dict(y_train=[0, 1]),
        ValueError,
        r"x_train must have shape \(N, \.\.\.\) with N = len\(y_train\) = 2",
    ),
    (dict(x_test=np.zeros((2, 2))), ValueError, r"N = len\(y_test\) = 1"),
    (dict(x_train=np.zeros(3)), ValueError, "x_train must have shape"),
    (
        dict(x_train=np.array([["a", "b"]] * 3)),
        TypeError,
        "x_train must hold real numbers, got dtype <U1",
    ),
    (dict(x_test=np.zeros((1, 3))), ValueError, "same sample shape"),
    (dict(classes=0), ValueError, "classes must be >= 1, got 0"),
    (dict(classes=-2), ValueError, "classes must be >= 1, got -2"),
    (dict(classes=3.0), TypeError, "classes must be an int, got float"),
    (dict(classes=True), TypeError, "classes must be an int, got bool"),
    (dict(name=None), TypeError, "name must be a str, got NoneType"),
]


@pytest.mark.parametrize("changes, error, fragment", DATASET_BAD)
def test_dataset_rejects(changes, error, fragment):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy cast warning before the error
        with pytest.raises(error, match=fragment):
            make(**changes)


# ------------------------------------------------------------------ Dataset: edge cases


def test_dataset_accepts_whole_float_labels_and_numpy_ints():
    ds = make(y_train=np.array([0.0, 2.0, 1.0]), classes=np.int64(3))
    np.testing.assert_array_equal(ds.y_train, [0, 2, 1])
    assert ds.y_train.dtype == np.int64 and type(ds.classes) is int


def test_dataset_allows_empty_splits():
    ds = make(x_test=np.zeros((0, 2)), y_test=np.zeros(0))
    assert ds.x_test.shape == (0, 2) and ds.y_test.dtype == np.int64


def test_dataset_keeps_valid_inputs_unchanged():
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    ds = make(x_train=x, y_train=np.array([2, 0, 1], dtype=np.uint8))
    assert ds.x_train is x  # float32 input is not copied
    np.testing.assert_array_equal(ds.y_train, [2, 0, 1])


# ------------------------------------------------------------------ parse_idx


def test_parse_idx_size_overflow_is_caught():
    header = struct.pack(">BBBB", 0, 0, 0x08, 3) + struct.pack(">III", 2**22, 2**22, 2**20)
    with pytest.raises(
        ValueError, match=r"data has 16 bytes, an IDX array of shape \(4194304, 4194304, 1048576\)"
    ):
        data.parse_idx(header)


def test_parse_idx_zero_dims_is_one_value():
    np.testing.assert_array_equal(
        data.parse_idx(b"\x00\x00\x08\x00\x07"), np.array(7, dtype=np.uint8)
    )


# ------------------------------------------------------------------ MNIST files


def idx(array: np.ndarray) -> bytes:
    return (
        struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.tobytes()
    )


def write_mnist(folder, labels_train=None, blob=None):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": np.array(
            [1, 2, 3] if labels_train is None else labels_train, dtype=np.uint8
        ),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": np.array([0, 9], dtype=np.uint8),
    }
    for name, array in files.items():
        (folder / name).write_bytes(gzip.compress(idx(array)))
    if blob is not None:
        (folder / blob[0]).write_bytes(blob[1])


@pytest.fixture
def trusted(monkeypatch):
    """_fetch returns the local file unchecked: a damaged file as if its MD5 had matched."""
    for loader in (data.mnist, data.cifar):  # the modules whose loaders call _fetch
        monkeypatch.setattr(
            loader, "_fetch", lambda filename, directory, download: directory / filename
        )


def test_mnist_labels_out_of_range(tmp_path, trusted):
    write_mnist(tmp_path / "mnist", labels_train=[1, 12, 3])
    with pytest.raises(
        ValueError, match=r"train-labels-idx1-ubyte.gz holds labels from 1 to 12, MNIST's are 0..9"
    ):
        data.load_mnist(root=tmp_path, download=False)


def test_mnist_truncated_gzip_names_the_file(tmp_path, trusted):
    whole = gzip.compress(idx(np.zeros((3, 28, 28), dtype=np.uint8)))
    write_mnist(tmp_path / "mnist", blob=("train-images-idx3-ubyte.gz", whole[: len(whole) // 2]))
    with pytest.raises(
        data.DatasetUnavailableError, match="train-images-idx3-ubyte.gz is truncated or corrupt"
    ):
        data.load_mnist(root=tmp_path, download=False)


def test_mnist_not_gzip_names_the_file(tmp_path, trusted):
    write_mnist(tmp_path / "mnist", blob=("t10k-labels-idx1-ubyte.gz", b"not a gzip file"))
    with pytest.raises(
        data.DatasetUnavailableError, match="t10k-labels-idx1-ubyte.gz is truncated or corrupt"
    ):
        data.load_mnist(root=tmp_path, download=False)


def test_mnist_bad_idx_names_the_file(tmp_path, trusted):
    write_mnist(
        tmp_path / "mnist",
        blob=("t10k-images-idx3-ubyte.gz", gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05\x01")),
    )
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: data has 9 bytes"):
        data.load_mnist(root=tmp_path, download=False)


# ------------------------------------------------------------------ CIFAR-10 files

TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]
NAMES = TRAIN + ["test_batch.bin"]


@pytest.fixture
def two_records(monkeypatch):
    monkeypatch.setattr(data.cifar, "_CIFAR_BATCH_RECORDS", 2)


def batch(n: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    records = rng.integers(0, 256, (n, data.cifar._CIFAR_RECORD), dtype=np.uint8)
    records[:, 0] %= 10
    return records.tobytes()


def write_folder(root, sizes: dict[str, int]):
    folder = root / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for name in NAMES:
        (folder / name).write_bytes(batch(sizes.get(name, 2), seed=len(name)))
    return folder


def test_cifar_counts(tmp_path, two_records):
    write_folder(tmp_path, {})
    ds = data.load_cifar10(root=tmp_path, download=False)
    assert ds.x_train.shape == (10, 3, 32, 32) and ds.x_test.shape == (2, 3, 32, 32)


@pytest.mark.parametrize(
    "sizes, fragment",
    [
        (
            {name: 0 for name in NAMES},
            r"data_batch_1.bin is not a CIFAR-10 binary batch: 0 bytes, expected 6146",
        ),
        ({"data_batch_3.bin": 0}, r"data_batch_3.bin is not a CIFAR-10 binary batch: 0 bytes"),
        ({"data_batch_5.bin": 1}, r"data_batch_5.bin is not a CIFAR-10 binary batch: 3073 bytes"),
        (
            {"test_batch.bin": 3},
            r"test_batch.bin is not a CIFAR-10 binary batch: 9219 bytes, expected 6146 \(2 records",
        ),
    ],
)
def test_cifar_short_or_long_batch_files_raise(tmp_path, two_records, sizes, fragment):
    write_folder(tmp_path, sizes)
    with pytest.raises(ValueError, match=fragment):
        data.load_cifar10(root=tmp_path, download=False)


def test_cifar_real_batch_size():
    assert data.cifar._CIFAR_BATCH_RECORDS * data.cifar._CIFAR_RECORD == 10000 * 3073


def write_archive(path, sizes: dict[str, int]):
    with tarfile.open(path, "w:gz") as tar:
        for name in NAMES:
            blob = batch(sizes.get(name, 2))
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))


def test_cifar_archive_member_of_wrong_size(tmp_path, two_records, trusted):
    (tmp_path / "cifar10").mkdir()
    write_archive(tmp_path / "cifar10" / "cifar-10-binary.tar.gz", {"data_batch_2.bin": 1})
    with pytest.raises(
        data.DatasetUnavailableError,
        match="data_batch_2.bin has 3073 bytes, a CIFAR-10 batch has 6146",
    ):
        data.load_cifar10(root=tmp_path, download=False)
    assert not (tmp_path / "cifar10" / "cifar-10-batches-bin").exists()


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_cifar_truncated_archive_names_the_file(tmp_path, two_records, trusted, cut):
    (tmp_path / "cifar10").mkdir()
    archive = tmp_path / "cifar10" / "cifar-10-binary.tar.gz"
    write_archive(archive, {})
    blob = archive.read_bytes()
    archive.write_bytes(blob[: int(len(blob) * cut)])
    with pytest.raises(
        data.DatasetUnavailableError, match="cifar-10-binary.tar.gz is truncated or corrupt"
    ):
        data.load_cifar10(root=tmp_path, download=False)
    assert sorted(p.name for p in (tmp_path / "cifar10").iterdir()) == ["cifar-10-binary.tar.gz"]


def test_cifar_extracted_files_are_verified(tmp_path, two_records, trusted, monkeypatch):
    """A member that extracts to fewer bytes than its header promised is caught on disk."""
    (tmp_path / "cifar10").mkdir()
    write_archive(tmp_path / "cifar10" / "cifar-10-binary.tar.gz", {})
    real_copy = data.cifar.shutil.copyfileobj

    def short_copy(source, out, length=0):
        real_copy(source, out, length)
        if out.name.endswith("data_batch_4.bin"):
            out.truncate(100)

    monkeypatch.setattr(data.cifar.shutil, "copyfileobj", short_copy)
    with pytest.raises(
        ValueError,
        match="data_batch_4.bin extracted from .*cifar-10-binary.tar.gz is not a CIFAR-10 binary batch: 100 bytes",
    ):
        data.load_cifar10(root=tmp_path, download=False)


@pytest.mark.parametrize("loader", [data.load_mnist, data.load_cifar10])
def test_loaders_refuse_a_non_bool_download(tmp_path, loader):
    """download="no" is truthy: it must not start a download."""
    with pytest.raises(TypeError, match="download must be a bool, got str"):
        loader(root=tmp_path, download="no")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ CIFAR-format stand-ins


def test_stand_in_files_load_only_with_their_record_counts(tmp_path):
    """Small CIFAR-format files (tests, smoke runs) pass the size checks only when their record
    counts are given; without them every file must hold CIFAR-10's 10000 records."""
    from godeep.reproduce.data import STAND_IN_MANIFEST, stand_in_records, synthetic_cifar

    folder = synthetic_cifar(tmp_path, n_train=10, n_test=4)
    records = stand_in_records(tmp_path)
    assert records == {**{f"data_batch_{i}.bin": 2 for i in range(1, 6)}, "test_batch.bin": 4}
    ds = data.load_cifar10(tmp_path, download=False, records=records)
    assert ds.x_train.shape == (10, 3, 32, 32) and ds.x_test.shape == (4, 3, 32, 32)
    with pytest.raises(ValueError, match="expected 30730000"):
        data.load_cifar10(tmp_path, download=False)
    (folder / STAND_IN_MANIFEST).unlink()
    assert stand_in_records(tmp_path) is None


@pytest.mark.parametrize(
    "records, exc, fragment",
    [
        ([2] * 6, TypeError, "records must be a mapping"),
        ({"data_batch_1.bin": 2}, ValueError, "exactly the files"),
        (
            {**{f"data_batch_{i}.bin": 2 for i in range(1, 6)}, "test_batch.bin": 0},
            ValueError,
            "records['test_batch.bin']",
        ),
    ],
)
def test_bad_record_counts_are_refused(tmp_path, records, exc, fragment):
    with pytest.raises(exc, match=re.escape(fragment)):
        data.load_cifar10(tmp_path, download=False, records=records)
