"""He et al.'s CIFAR augmentation: 4-pixel zero padding, a random 32x32 crop, a random flip.

The random choices of iteration ``t`` are a function of ``(seed, t)`` only, drawn for the whole
*global* batch; a process of a distributed run takes its share of them. So the images a run
trains on do not depend on the number of processes, and a resumed run draws exactly what an
uninterrupted one would: there is no generator state to save.

Works on NumPy arrays and PyTorch tensors alike (the same indexing).
"""

from __future__ import annotations

import numpy as np

__all__ = ["PAD", "crop_flip_params", "pad", "crop_flip", "per_pixel_mean"]

#: pixels of zero padding on each side (the crop offset is in 0 .. 2 * PAD)
PAD = 4


def crop_flip_params(
    seed: int, step: int, n: int, pad_: int = PAD
) -> tuple[np.ndarray, np.ndarray]:
    """Crop offsets ``(n, 2)`` in ``0 .. 2*pad_`` (rows, columns) and flips ``(n,)`` (bool)
    for the ``n`` images of iteration ``step``, from a generator seeded with ``(seed, step)``."""
    for name, value in (("seed", seed), ("step", step), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    rng = np.random.default_rng([int(seed), int(step), 0x43494641])
    offsets = rng.integers(0, 2 * pad_ + 1, size=(n, 2))
    flips = rng.integers(0, 2, size=n).astype(bool)
    return offsets, flips


def pad(x, pad_: int = PAD):
    """Zero-pad the last two axes of an (N, C, H, W) array or tensor by ``pad_`` on each side."""
    if x.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {tuple(x.shape)}")
    if isinstance(x, np.ndarray):
        return np.pad(x, ((0, 0), (0, 0), (pad_, pad_), (pad_, pad_)))
    import torch.nn.functional as F

    return F.pad(x, (pad_, pad_, pad_, pad_))


def crop_flip(padded, offsets, flips, size: int = 32):
    """Crop ``size`` x ``size`` windows at ``offsets`` from padded (N, C, H, W) images and mirror
    the rows of those with ``flips`` set, as two gathers (rows, then columns):

    out[i, c, r, k] = padded[i, c, oy_i + r, ox_i + (size - 1 - k if flip_i else k)].
    """
    if padded.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {tuple(padded.shape)}")
    n, c, h, w = padded.shape
    if len(offsets) != n or len(flips) != n:
        raise ValueError(f"need {n} offsets and flips, got {len(offsets)} and {len(flips)}")
    if h < size or w < size:
        raise ValueError(f"cannot crop {size}x{size} from {h}x{w} images")
    offsets = np.asarray(offsets)
    if (
        offsets.min(initial=0) < 0
        or (offsets[:, 0] > h - size).any()
        or (offsets[:, 1] > w - size).any()
    ):
        raise ValueError(f"crop offsets must lie in [0, {h - size}] x [0, {w - size}]")
    flips = np.asarray(flips, dtype=bool)
    k = np.arange(size)
    rows = (offsets[:, :1] + k)[:, None, :, None]  # (n, 1, size, 1)
    cols = (offsets[:, 1:] + np.where(flips[:, None], size - 1 - k, k))[:, None, None, :]
    if isinstance(padded, np.ndarray):
        cropped = np.take_along_axis(padded, rows, axis=2)
        return np.take_along_axis(cropped, cols, axis=3)
    import torch

    rows = torch.as_tensor(rows, device=padded.device).expand(n, c, size, w)
    cols = torch.as_tensor(cols, device=padded.device).expand(n, c, size, size)
    return padded.gather(2, rows).gather(3, cols)


def per_pixel_mean(x: np.ndarray) -> np.ndarray:
    """The mean training image, shape (C, H, W): the paper subtracts it from every image."""
    if x.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {x.shape}")
    return x.mean(axis=0, dtype=np.float64).astype(np.float32)
