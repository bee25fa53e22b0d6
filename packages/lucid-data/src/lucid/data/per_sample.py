"""torchvision-style transforms of one sample, for a Dataset's ``__getitem__``.

    from lucid.data import per_sample as transforms

    tf = transforms.Compose([
        transforms.RandomCrop(32, padding=4),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize((0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)),
    ])

They take what torchvision's take (a PIL image, or an ``(H, W, C)`` / ``(H, W)`` array)
and give float32 NumPy arrays in ``(C, H, W)`` after ``ToTensor``, so they serve Lucid and
PyTorch alike; ``lucid.utils.data.DataLoader`` makes the batches Lucid tensors. The random
ones draw from NumPy's global generator, as torchvision's draw from torch's: seed it with
``np.random.seed`` (worker processes are seeded per worker). For whole batches,
``lucid.data.transforms`` is much faster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def _is_chw(a: np.ndarray) -> bool:
    """``(C, H, W)`` (after ``ToTensor``) rather than ``(H, W, C)``: a leading axis of 1, 3
    or 4 channels and a last axis too long to be channels."""
    return a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[2] > 4


def _padding(padding) -> tuple[tuple[int, int], tuple[int, int]]:
    """torchvision's ``padding`` (``p``, ``(left/right, top/bottom)`` or ``(l, t, r, b)``)
    as ``((top, bottom), (left, right))``."""
    if isinstance(padding, int):
        return (padding, padding), (padding, padding)
    p = tuple(padding)
    if len(p) == 2:
        return (p[1], p[1]), (p[0], p[0])
    if len(p) == 4:
        return (p[1], p[3]), (p[0], p[2])
    raise ValueError(f"padding must be an int or a 2- or 4-tuple, got {padding!r}")


def _hwc(image) -> np.ndarray:
    """An image as an ``(H, W, C)`` or ``(H, W)`` array (PIL images through ``np.asarray``)."""
    a = np.asarray(image)
    if a.ndim not in (2, 3):
        raise ValueError(f"expected an image of shape (H, W) or (H, W, C), got {a.shape}")
    return a


class Compose:
    """Apply ``transforms`` in order."""

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"{type(self).__name__}({inner}\n)"


class ToTensor:
    """``(H, W, C)`` (or ``(H, W)``) image -> ``(C, H, W)`` float32; ``uint8`` values are
    divided by 255 into [0, 1], as torchvision's ``ToTensor``."""

    def __call__(self, image) -> np.ndarray:
        a = _hwc(image)
        if a.ndim == 2:
            a = a[:, :, None]
        out = np.ascontiguousarray(a.transpose(2, 0, 1))
        if out.dtype == np.uint8:
            return out.astype(np.float32) / 255.0
        return out.astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel of a ``(C, H, W)`` array."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std has a zero: {std}")

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 3 or self.mean.shape[0] not in (1, x.shape[0]):
            raise ValueError(f"Normalize: expected (C, H, W) with C = {self.mean.shape[0]}, "
                             f"got {x.shape}")
        return (x - self.mean) / self.std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.ravel().tolist()}, std={self.std.ravel().tolist()})"


class RandomCrop:
    """A random ``size`` crop of an image (``(H, W[, C])`` before ``ToTensor``, or
    ``(C, H, W)`` after it), after ``padding`` pixels of ``fill`` on each side (or
    ``padding_mode`` 'reflect', 'edge', 'symmetric'); ``pad_if_needed`` pads a smaller
    image up to ``size``."""

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant"):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding = padding or 0
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"RandomCrop: unknown padding_mode {padding_mode!r}")

    def _pad(self, a: np.ndarray, hw_axes: tuple[int, int], pads) -> np.ndarray:
        widths = [(0, 0)] * a.ndim
        (top, bottom), (left, right) = pads
        widths[hw_axes[0]], widths[hw_axes[1]] = (top, bottom), (left, right)
        if self.padding_mode == "constant":
            return np.pad(a, widths, constant_values=self.fill)
        return np.pad(a, widths, mode=self.padding_mode)

    def __call__(self, image) -> np.ndarray:
        a = np.asarray(image)
        hw_axes = (1, 2) if _is_chw(a) else (0, 1)
        if self.padding:
            a = self._pad(a, hw_axes, _padding(self.padding))
        th, tw = self.size
        h, w = a.shape[hw_axes[0]], a.shape[hw_axes[1]]
        if self.pad_if_needed and (h < th or w < tw):
            a = self._pad(a, hw_axes, ((max(th - h, 0),) * 2, (max(tw - w, 0),) * 2))
            h, w = a.shape[hw_axes[0]], a.shape[hw_axes[1]]
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: crop {self.size} is larger than the image ({h}, {w})")
        i = np.random.randint(0, h - th + 1)
        j = np.random.randint(0, w - tw + 1)
        index = [slice(None)] * a.ndim
        index[hw_axes[0]], index[hw_axes[1]] = slice(i, i + th), slice(j, j + tw)
        return a[tuple(index)]

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror the image left-right with probability ``p`` (the last axis of ``(C, H, W)``,
    the second of ``(H, W[, C])``)."""

    def __init__(self, p: float = 0.5):
        if not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = p

    def __call__(self, image) -> np.ndarray:
        a = np.asarray(image)
        if np.random.random() >= self.p:
            return a
        return a[..., ::-1].copy() if _is_chw(a) or a.ndim == 2 else a[:, ::-1].copy()

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


__all__ = ["Compose", "Normalize", "RandomCrop", "RandomHorizontalFlip", "ToTensor"]
