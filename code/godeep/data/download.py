"""Downloads: one table of URLs and checksums (:data:`RESOURCES`), one download function."""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

from .dataset import _OFFLINE_HINT, ChecksumError, DatasetUnavailableError

# --------------------------------------------------------------------------------------------
# Downloads: one table of URLs and checksums, one download function
# --------------------------------------------------------------------------------------------

_MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"

#: file name -> (URL, MD5). MNIST's MD5s are torchvision's (torchvision/datasets/mnist.py);
#: CIFAR-10's is the one published on https://www.cs.toronto.edu/~kriz/cifar.html.
RESOURCES: dict[str, tuple[str, str]] = {
    "train-images-idx3-ubyte.gz": (
        _MNIST_MIRROR + "train-images-idx3-ubyte.gz",
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    ),
    "train-labels-idx1-ubyte.gz": (
        _MNIST_MIRROR + "train-labels-idx1-ubyte.gz",
        "d53e105ee54ea40749a09fcbcd1e9432",
    ),
    "t10k-images-idx3-ubyte.gz": (
        _MNIST_MIRROR + "t10k-images-idx3-ubyte.gz",
        "9fb629c4189551a2d022fa330f9573f3",
    ),
    "t10k-labels-idx1-ubyte.gz": (
        _MNIST_MIRROR + "t10k-labels-idx1-ubyte.gz",
        "ec29112dd5afa0611ce80d1b7f02629c",
    ),
    "cifar-10-binary.tar.gz": (
        "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        "c32a1d4ab5d03f1284b67883e8d87530",
    ),
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
