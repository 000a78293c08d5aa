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

One idea per module, every name importable from :mod:`godeep.data` itself:
:mod:`~godeep.data.dataset` (the container, errors, checks), :mod:`~godeep.data.offline`
(MNIST-1D, digits), :mod:`~godeep.data.download` (URLs, checksums, the download function),
:mod:`~godeep.data.mnist` and :mod:`~godeep.data.cifar` (the downloaded datasets).
"""

from __future__ import annotations

from .cifar import load_cifar10
from .dataset import ChecksumError, Dataset, DatasetUnavailableError
from .download import RESOURCES, data_dir
from .mnist import load_mnist, parse_idx
from .offline import digits, mnist1d, to_channels_last

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
