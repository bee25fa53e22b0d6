"""uint8 images -> float32, as torchvision's ``ToTensor`` + ``Normalize`` compute them.

``x = raw / 255`` (a true division, like ``ToTensor``), then per channel
``x = (x - mean) / std`` with float32 ``mean`` and ``std`` shaped ``(1, C, 1, 1)``, so
the arrays equal those of the PyTorch pipeline bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MNIST_MEAN = (0.1307,)
MNIST_STD = (0.3081,)
FASHION_MNIST_MEAN = (0.2860,)
FASHION_MNIST_STD = (0.3530,)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)

Stats = tuple[tuple[float, ...], tuple[float, ...]]


def resolve_normalize(normalize, default: Stats, channels: int) -> Stats | None:
    """``True`` -> ``default``; ``False``/``None`` -> None; ``(mean, std)`` -> checked stats."""
    if normalize is True:
        return default
    if normalize is False or normalize is None:
        return None
    try:
        mean, std = normalize
        mean = tuple(float(m) for m in np.atleast_1d(mean))
        std = tuple(float(s) for s in np.atleast_1d(std))
    except (TypeError, ValueError):
        raise ValueError(
            f"normalize must be True, False or a (mean, std) pair, got {normalize!r}"
        ) from None
    if len(mean) == 1:
        mean = mean * channels
    if len(std) == 1:
        std = std * channels
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f"normalize: mean and std need {channels} values, got {mean}, {std}")
    if any(s <= 0 for s in std):
        raise ValueError(f"normalize: std must be positive, got {std}")
    return mean, std


def to_float(raw: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [0, 1] (``raw / 255``)."""
    x = np.asarray(raw).astype(np.float32)  # a plain array, also from a memmap
    np.divide(x, np.float32(255), out=x)
    return x


def normalize_(x: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """In place, per channel of an NCHW float32 array: ``x = (x - mean) / std``."""
    shape = (1, len(mean)) + (1,) * (x.ndim - 2)
    np.subtract(x, np.asarray(mean, dtype=np.float32).reshape(shape), out=x)
    np.divide(x, np.asarray(std, dtype=np.float32).reshape(shape), out=x)
    return x


def prepare_images(raw: np.ndarray, stats: Stats | None) -> np.ndarray:
    """uint8 NCHW -> float32, in [0, 1] or normalised with ``stats``."""
    x = to_float(raw)
    if stats is not None:
        normalize_(x, *stats)
    return x
