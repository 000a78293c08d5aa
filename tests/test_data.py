"""Tests of godeep.data: offline datasets, the IDX parser, and the MNIST/CIFAR-10 loaders.

The loaders are exercised on tiny files written here in the real on-disk formats; the table of
checksums is patched and the download function copies local files, so the real code path
(checksum, atomic rename, extraction) runs without any network access.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import random
import shutil
import socket
import struct
import subprocess
import sys
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from godeep import data


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


def make_dataset(n_train=6, n_test=4, shape=(1, 2, 3)) -> data.Dataset:
    rng = np.random.default_rng(0)
    return data.Dataset(
        rng.normal(size=(n_train, *shape)),
        np.arange(n_train) % 3,
        rng.normal(size=(n_test, *shape)),
        np.arange(n_test) % 3,
        name="toy",
        classes=3,
    )


def test_dataset_coerces_dtypes_and_reports_shapes():
    ds = make_dataset()
    assert ds.x_train.dtype == np.float32 and ds.x_test.dtype == np.float32
    assert ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
    assert ds.input_shape == (1, 2, 3)
    assert ds.n_features == 6
    text = repr(ds)
    assert text == "Dataset('toy', classes=3, train=(6, 1, 2, 3), test=(4, 1, 2, 3))"


def test_dataset_is_frozen():
    ds = make_dataset()
    with pytest.raises(AttributeError):
        ds.name = "other"


def test_dataset_rejects_mismatched_lengths_and_shapes():
    x, y = np.zeros((3, 2)), np.zeros(3)
    with pytest.raises(ValueError, match="x_train"):
        data.Dataset(x, np.zeros(4), x, y, name="bad", classes=2)
    with pytest.raises(ValueError, match="y_test"):
        data.Dataset(x, y, x, np.zeros((3, 1)), name="bad", classes=2)
    with pytest.raises(ValueError, match="same sample shape"):
        data.Dataset(x, y, np.zeros((3, 5)), y, name="bad", classes=2)


def test_subset_takes_prefixes_and_copies():
    ds = make_dataset()
    small = ds.subset(2, 3)
    assert small.x_train.shape == (2, 1, 2, 3) and small.x_test.shape == (3, 1, 2, 3)
    np.testing.assert_array_equal(small.y_train, ds.y_train[:2])
    small.x_train[...] = 99
    assert not np.any(ds.x_train == 99)
    assert ds.subset(1).x_test.shape[0] == 4
    with pytest.raises(ValueError, match="n_train"):
        ds.subset(7, 1)
    with pytest.raises(ValueError, match="n_test"):
        ds.subset(1, 0)


# --------------------------------------------------------------------------------------------
# MNIST-1D
# --------------------------------------------------------------------------------------------


def test_mnist1d_shapes_dtypes_and_classes():
    ds = data.mnist1d()
    assert ds.name == "mnist1d" and ds.classes == 10
    assert ds.x_train.shape == (3200, 40) and ds.x_test.shape == (800, 40)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert set(np.unique(ds.y_train)) == set(range(10))
    counts = np.bincount(np.concatenate([ds.y_train, ds.y_test]), minlength=10)
    assert np.all(counts == 400)  # balanced by construction


def test_mnist1d_is_deterministic_and_seeded():
    a, b = data.mnist1d(1000, seed=3), data.mnist1d(1000, seed=3)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    data.offline._mnist1d_raw.cache_clear()  # regenerate, not just read back the cache
    c = data.mnist1d(1000, seed=3)
    np.testing.assert_array_equal(a.x_train, c.x_train)
    d = data.mnist1d(1000, seed=4)
    assert not np.array_equal(a.x_train, d.x_train)


def test_mnist1d_returns_independent_copies():
    a = data.mnist1d(200, seed=1)
    a.x_train[...] = 0
    a.y_train[...] = 0
    b = data.mnist1d(200, seed=1)
    assert b.x_train.std() > 0.5 and len(np.unique(b.y_train)) > 1


def test_mnist1d_standardized_with_training_statistics():
    ds = data.mnist1d(1000, seed=0)
    assert abs(float(ds.x_train.mean())) < 1e-5
    assert abs(float(ds.x_train.std()) - 1) < 1e-5
    # one scalar mu and sigma, not one per time step: the time steps keep different spreads
    assert float(ds.x_train.std(axis=0).max() - ds.x_train.std(axis=0).min()) > 0.1
    # the test split is transformed with the same (training) mu and sigma, so it is close to,
    # but not exactly, standard
    assert abs(float(ds.x_test.mean())) < 0.2 and abs(float(ds.x_test.std()) - 1) < 0.2
    assert float(ds.x_test.mean()) != pytest.approx(0, abs=1e-6)


def test_mnist1d_split_sizes_follow_test_fraction():
    ds = data.mnist1d(1000, seed=0, test_fraction=0.3)
    assert len(ds.y_train) == 700 and len(ds.y_test) == 300
    # the split does not change the samples: same signals in the same order
    ref = data.mnist1d(1000, seed=0, test_fraction=0.2)
    np.testing.assert_array_equal(ds.y_train, ref.y_train[:700])


def test_mnist1d_leaves_global_random_state_alone():
    data.offline._mnist1d_raw.cache_clear()
    np.random.seed(123)
    random.seed(123)
    expected = (np.random.rand(), random.random())
    np.random.seed(123)
    random.seed(123)
    data.mnist1d(100, seed=5)
    assert (np.random.rand(), random.random()) == expected


@pytest.mark.parametrize(
    "kwargs, argument, error",
    [
        ({"n_samples": 0}, "n_samples", ValueError),
        ({"n_samples": -10}, "n_samples", ValueError),
        ({"n_samples": 15}, "n_samples", ValueError),
        ({"n_samples": 100.0}, "n_samples", TypeError),
        ({"seed": -1}, "seed", ValueError),
        ({"seed": 2**32}, "seed", ValueError),
        ({"seed": "0"}, "seed", TypeError),
        ({"test_fraction": 0.0}, "test_fraction", ValueError),
        ({"test_fraction": 1.0}, "test_fraction", ValueError),
        ({"test_fraction": -0.5}, "test_fraction", ValueError),
        ({"test_fraction": "0.2"}, "test_fraction", TypeError),
        ({"n_samples": 10, "test_fraction": 0.01}, "test_fraction", ValueError),
    ],
)
def test_mnist1d_rejects_bad_arguments(kwargs, argument, error):
    with pytest.raises(error, match=argument):
        data.mnist1d(**kwargs)


# --------------------------------------------------------------------------------------------
# digits
# --------------------------------------------------------------------------------------------


def test_digits_shapes_and_dtypes():
    ds = data.digits()
    assert ds.name == "digits" and ds.classes == 10
    assert ds.x_train.shape == (1347, 64) and ds.x_test.shape == (450, 64)
    assert ds.x_train.dtype == np.float32 and ds.y_test.dtype == np.int64
    assert ds.n_features == 64


def test_digits_images_are_nchw_views_of_the_flat_pixels():
    flat, img = data.digits(seed=2), data.digits(seed=2, images=True)
    assert img.x_train.shape == (1347, 1, 8, 8) and img.input_shape == (1, 8, 8)
    np.testing.assert_array_equal(img.x_train.reshape(-1, 64), flat.x_train)
    np.testing.assert_array_equal(img.y_test, flat.y_test)


def test_digits_standardization_uses_training_statistics():
    ds = data.digits()
    mu, sigma = ds.x_train.mean(axis=0), ds.x_train.std(axis=0)
    np.testing.assert_allclose(mu, 0, atol=1e-5)
    constant = sigma < 1e-6  # e.g. the always-blank corner pixels
    assert constant.sum() < 10
    np.testing.assert_allclose(sigma[~constant], 1, atol=1e-4)


def test_digits_unstandardized_pixels_are_in_unit_interval():
    ds = data.digits(standardize=False)
    assert ds.x_train.min() == 0 and ds.x_train.max() == 1
    values = np.unique(ds.x_train * 16)
    np.testing.assert_allclose(values, np.round(values), atol=1e-5)  # the 17 grey levels


def test_digits_split_is_stratified_deterministic_and_seeded():
    ds = data.digits(test_fraction=0.25, seed=0)
    total = np.bincount(np.concatenate([ds.y_train, ds.y_test]), minlength=10)
    test = np.bincount(ds.y_test, minlength=10)
    assert np.all(np.abs(test - 0.25 * total) <= 1)
    again = data.digits(test_fraction=0.25, seed=0)
    np.testing.assert_array_equal(ds.x_test, again.x_test)
    other = data.digits(test_fraction=0.25, seed=1)
    assert not np.array_equal(ds.y_test, other.y_test)


@pytest.mark.parametrize(
    "kwargs, argument, error",
    [
        ({"test_fraction": 0}, "test_fraction", ValueError),
        ({"test_fraction": 1.2}, "test_fraction", ValueError),
        ({"seed": -3}, "seed", ValueError),
        ({"seed": 1.5}, "seed", TypeError),
        ({"standardize": "yes"}, "standardize", TypeError),
        ({"images": 1}, "images", TypeError),
    ],
)
def test_digits_rejects_bad_arguments(kwargs, argument, error):
    with pytest.raises(error, match=argument):
        data.digits(**kwargs)


def test_to_channels_last():
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    y = data.to_channels_last(x)
    assert y.shape == (2, 4, 5, 3) and y.flags["C_CONTIGUOUS"]
    assert y[1, 2, 3, 0] == x[1, 0, 2, 3] and y[0, 3, 4, 2] == x[0, 2, 3, 4]
    with pytest.raises(ValueError, match=r"x must be a 4-D .*NCHW.*\(8, 8\)"):
        data.to_channels_last(np.zeros((8, 8)))


def test_module_import_is_framework_neutral():
    code = (
        "import sys, godeep.data; "
        "heavy = [m for m in ('torch', 'tensorflow', 'sklearn', 'mnist1d') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------------------------
# IDX
# --------------------------------------------------------------------------------------------

_IDX_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` as an IDX file, independently of the parser under test."""
    code = _IDX_CODES[array.dtype.kind + str(array.dtype.itemsize)]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-5, 0, 7], dtype=np.int8),
        np.array([[1, -2], [300, -40000]], dtype=np.int32),
        np.array([-1000, 1000], dtype=np.int16),
        np.linspace(-1, 1, 5).astype(np.float32),
        np.linspace(-1, 1, 6).reshape(2, 3),
    ],
    ids=lambda a: str(a.dtype),
)
def test_parse_idx_round_trip(array):
    parsed = data.parse_idx(idx_bytes(array))
    assert parsed.shape == array.shape
    assert parsed.dtype == array.dtype  # native byte order
    np.testing.assert_array_equal(parsed, array)
    parsed[...] = 0  # writable


def test_parse_idx_known_header():
    # magic 0x00000801: unsigned bytes, one dimension of size 3
    parsed = data.parse_idx(b"\x00\x00\x08\x01\x00\x00\x00\x03\x07\x08\x09")
    np.testing.assert_array_equal(parsed, [7, 8, 9])
    assert parsed.dtype == np.uint8


@pytest.mark.parametrize(
    "blob, message",
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "magic"),
        (b"\x00\x07\x08\x01\x00\x00\x00\x01\x05", "magic"),
        (b"\x00\x00", "magic"),
        (b"\x00\x00\x0a\x01\x00\x00\x00\x01\x05", "dtype code 0x0a"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x01", "truncated"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x05", "needs 11"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x05\x06", "needs 9"),
    ],
)
def test_parse_idx_rejects_corrupt_data(blob, message):
    with pytest.raises(ValueError, match=message):
        data.parse_idx(blob)


# --------------------------------------------------------------------------------------------
# Downloads: fake remote files, real download path
# --------------------------------------------------------------------------------------------


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def remote(tmp_path, monkeypatch):
    """A local folder that plays the web server; returns a function that publishes a file.

    ``publish(path)`` registers ``path`` in ``data.RESOURCES`` under a fake URL with its true
    MD5, and ``_urlretrieve`` copies from the folder, so downloads never leave the machine.
    """
    server = tmp_path / "server"
    server.mkdir()
    calls: list[str] = []

    def publish(path: Path, checksum: str | None = None) -> None:
        shutil.copy(path, server / path.name)
        url = f"https://example.invalid/files/{path.name}"
        monkeypatch.setitem(data.RESOURCES, path.name, (url, checksum or md5(path)))

    def fake_urlretrieve(url: str, destination: Path) -> None:
        calls.append(url)
        source = server / url.rsplit("/", 1)[1]
        if not source.exists():
            raise urllib.error.URLError("404")
        shutil.copyfile(source, destination)

    monkeypatch.setattr(data.download, "_urlretrieve", fake_urlretrieve)
    publish.calls = calls
    return publish


def write_mnist_files(folder: Path, n_train=5, n_test=3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    arrays["train-images-idx3-ubyte.gz"][0, 0, 0] = 255  # the top of the range
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        (folder / name).write_bytes(gzip.compress(idx_bytes(array)))
    return arrays


def test_load_mnist_downloads_verifies_and_parses(tmp_path, remote):
    arrays = write_mnist_files(tmp_path / "files")
    for name in arrays:
        remote(tmp_path / "files" / name)
    cache = tmp_path / "cache"
    ds = data.load_mnist(root=cache)
    assert ds.name == "mnist" and ds.classes == 10
    assert ds.x_train.shape == (5, 1, 28, 28) and ds.x_test.shape == (3, 1, 28, 28)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    np.testing.assert_allclose(ds.x_train[:, 0], arrays["train-images-idx3-ubyte.gz"] / 255)
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte.gz"])
    assert ds.x_train.max() == 1.0 and ds.x_train.min() >= 0
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(arrays)  # no .part left
    assert len(remote.calls) == 4

    again = data.load_mnist(root=cache, download=False)  # served from the cache
    np.testing.assert_array_equal(again.x_test, ds.x_test)
    data.load_mnist(root=cache)
    assert len(remote.calls) == 4


def test_checksum_mismatch_is_detected_and_the_file_deleted(tmp_path, remote):
    arrays = write_mnist_files(tmp_path / "files")
    for name in arrays:
        remote(tmp_path / "files" / name)
    remote(tmp_path / "files" / "t10k-labels-idx1-ubyte.gz", checksum="0" * 32)
    cache = tmp_path / "cache"
    with pytest.raises(data.ChecksumError, match="t10k-labels-idx1-ubyte.gz.*expected 0{32}"):
        data.load_mnist(root=cache)
    assert isinstance(data.ChecksumError("x"), data.DatasetUnavailableError)
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == [
        "t10k-images-idx3-ubyte.gz",
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]


def test_corrupt_cached_file_is_reported_or_replaced(tmp_path, remote):
    arrays = write_mnist_files(tmp_path / "files")
    for name in arrays:
        remote(tmp_path / "files" / name)
    cache = tmp_path / "cache"
    data.load_mnist(root=cache)
    victim = cache / "mnist" / "train-labels-idx1-ubyte.gz"
    victim.write_bytes(b"garbage")
    with pytest.raises(data.ChecksumError, match="corrupt"):
        data.load_mnist(root=cache, download=False)
    data.load_mnist(root=cache)  # download=True fetches it again
    assert md5(victim) == md5(tmp_path / "files" / victim.name)


def test_offline_raises_dataset_unavailable_naming_alternatives(tmp_path, monkeypatch):
    def offline(url, destination):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(data.download, "_urlretrieve", offline)
    cache = tmp_path / "cache"
    with pytest.raises(data.DatasetUnavailableError) as info:
        data.load_mnist(root=cache)
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message and str(cache / "mnist") in message
    assert "godeep.data.mnist1d()" in message and "godeep.data.digits()" in message
    assert isinstance(info.value.__cause__, urllib.error.URLError)
    assert list((cache / "mnist").iterdir()) == []  # the temporary file is gone

    with pytest.raises(data.DatasetUnavailableError, match="mnist1d"):
        data.load_cifar10(root=cache)


def test_missing_file_without_download(tmp_path, monkeypatch):
    def forbidden(url, destination):
        raise AssertionError("download=False must not download")

    monkeypatch.setattr(data.download, "_urlretrieve", forbidden)
    with pytest.raises(data.DatasetUnavailableError) as info:
        data.load_mnist(root=tmp_path, download=False)
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz is missing" in message
    assert str(tmp_path / "mnist" / "train-images-idx3-ubyte.gz") in message
    assert "download=False" in message and "godeep.data.digits()" in message


def test_data_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GODEEP_DATA", raising=False)
    assert data.data_dir() == tmp_path / "home" / ".cache" / "godeep"
    monkeypatch.setenv("GODEEP_DATA", str(tmp_path / "env"))
    assert data.data_dir() == tmp_path / "env"
    assert data.data_dir(tmp_path / "arg") == tmp_path / "arg"


def test_loaders_use_godeep_data_when_no_root(tmp_path, monkeypatch):
    monkeypatch.setenv("GODEEP_DATA", str(tmp_path / "env"))
    with pytest.raises(data.DatasetUnavailableError, match=str(tmp_path / "env" / "mnist")):
        data.load_mnist(download=False)


def test_resources_table_is_complete():
    names = {
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        "cifar-10-binary.tar.gz",
    }
    assert set(data.RESOURCES) == names
    for name, (url, checksum) in data.RESOURCES.items():
        assert url.startswith("https://") and url.endswith("/" + name)
        assert len(checksum) == 32 and int(checksum, 16) >= 0


# --------------------------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------------------------


def cifar_records(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, bytes]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    blob = b"".join(bytes([label]) + image.tobytes() for label, image in zip(labels, images))
    return images, labels, blob


@pytest.fixture
def small_batches(monkeypatch):
    """Batch files of 2 records instead of CIFAR-10's 10000, so that archives stay tiny."""
    monkeypatch.setattr(data.cifar, "_CIFAR_BATCH_RECORDS", 2)


def write_cifar_archive(path: Path, n_per_batch=2, n_test=2) -> dict[str, tuple]:
    batches = {f"data_batch_{i}.bin": cifar_records(n_per_batch, i) for i in range(1, 6)}
    batches["test_batch.bin"] = cifar_records(n_test, 99)
    with tarfile.open(path, "w:gz") as tar:
        members = {**{k: v[2] for k, v in batches.items()}, "batches.meta.txt": b"airplane\n"}
        for name, blob in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return batches


def test_load_cifar10_downloads_extracts_and_parses(tmp_path, remote, small_batches):
    archive = tmp_path / "cifar-10-binary.tar.gz"
    batches = write_cifar_archive(archive)
    remote(archive)
    cache = tmp_path / "cache"
    ds = data.load_cifar10(root=cache)
    assert ds.name == "cifar10" and ds.classes == 10
    assert ds.x_train.shape == (10, 3, 32, 32) and ds.x_test.shape == (2, 3, 32, 32)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    train_images = np.concatenate([batches[f"data_batch_{i}.bin"][0] for i in range(1, 6)])
    train_labels = np.concatenate([batches[f"data_batch_{i}.bin"][1] for i in range(1, 6)])
    np.testing.assert_allclose(ds.x_train, train_images / 255)  # channel-major, rows in order
    np.testing.assert_array_equal(ds.y_train, train_labels)
    np.testing.assert_array_equal(ds.y_test, batches["test_batch.bin"][1])

    folder = cache / "cifar10" / "cifar-10-batches-bin"
    assert sorted(p.name for p in folder.iterdir()) == sorted(batches)  # only the batches
    assert sorted(p.name for p in (cache / "cifar10").iterdir()) == [
        "cifar-10-batches-bin",
        "cifar-10-binary.tar.gz",
    ]
    (cache / "cifar10" / "cifar-10-binary.tar.gz").unlink()  # the extracted batches suffice
    again = data.load_cifar10(root=cache, download=False)
    np.testing.assert_array_equal(again.x_test, ds.x_test)
    assert len(remote.calls) == 1


def test_load_cifar10_checksum_mismatch(tmp_path, remote, small_batches):
    archive = tmp_path / "cifar-10-binary.tar.gz"
    write_cifar_archive(archive)
    remote(archive, checksum="f" * 32)
    cache = tmp_path / "cache"
    with pytest.raises(data.ChecksumError, match="cifar-10-binary.tar.gz"):
        data.load_cifar10(root=cache)
    assert list((cache / "cifar10").iterdir()) == []


def test_load_cifar10_rejects_truncated_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(data.cifar, "_CIFAR_BATCH_RECORDS", 1)
    folder = tmp_path / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for i in range(1, 6):
        (folder / f"data_batch_{i}.bin").write_bytes(cifar_records(1, i)[2])
    (folder / "test_batch.bin").write_bytes(cifar_records(1, 0)[2][:-1])
    with pytest.raises(ValueError, match="test_batch.bin is not a CIFAR-10 binary batch"):
        data.load_cifar10(root=tmp_path, download=False)


def test_load_cifar10_missing_member(tmp_path, remote, small_batches):
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        blob = cifar_records(2, 0)[2]
        info = tarfile.TarInfo("cifar-10-batches-bin/data_batch_1.bin")
        info.size = len(blob)
        tar.addfile(info, io.BytesIO(blob))
    remote(archive)
    with pytest.raises(data.DatasetUnavailableError, match="data_batch_2.bin"):
        data.load_cifar10(root=tmp_path / "cache")
    assert sorted(p.name for p in (tmp_path / "cache" / "cifar10").iterdir()) == [
        "cifar-10-binary.tar.gz"
    ]  # no half-extracted folder


def test_real_download_function_with_a_file_url(tmp_path, monkeypatch):
    """The unpatched ``_urlretrieve`` (urllib) fetches a ``file://`` URL: no network involved."""
    arrays = write_mnist_files(tmp_path / "files")
    for name in arrays:
        source = tmp_path / "files" / name
        monkeypatch.setitem(data.RESOURCES, name, (source.as_uri(), md5(source)))
    ds = data.load_mnist(root=tmp_path / "cache")
    np.testing.assert_array_equal(ds.y_train, arrays["train-labels-idx1-ubyte.gz"])
