"""Batch transforms in NumPy, vectorised over the batch.

A transform is a callable ``t(x, rng) -> x`` on a whole batch ``x`` of shape
``(N, C, H, W)`` (or ``(N, H, W)``), drawing its randomness from ``rng``, a
``np.random.Generator``. The DataLoader passes ``np.random.default_rng([seed, epoch,
batch_index])``, so augmentation is reproducible batch by batch. Transforms never modify
their input in place.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _pair(v, name: str) -> tuple[int, int]:
    if isinstance(v, int | np.integer):
        return int(v), int(v)
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise ValueError(f"{name} must be an int or a pair (h, w), got {v}")
    return v


def _as_4d(x: np.ndarray, name: str) -> np.ndarray:
    if x.ndim == 4:
        return x
    if x.ndim == 3:
        return x[:, None]
    raise ValueError(f"{name}: expected a batch (N, C, H, W) or (N, H, W), got shape {x.shape}")


class Compose:
    """Apply ``transforms`` in order, all drawing from the same ``rng``."""

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for t in self.transforms:
            x = t(x, rng)
        return x

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


class RandomCrop:
    """Pad, then crop a random ``size`` window per image.

    ``padding``: int (all sides), ``(w_pad, h_pad)`` or ``(left, top, right, bottom)``, as
    torchvision. ``padding_mode``: ``"constant"`` (with ``fill``), ``"edge"``, ``"reflect"``
    or ``"symmetric"``. Offsets: ``top = rng.integers(0, H' - h + 1, N)`` then
    ``left = rng.integers(0, W' - w + 1, N)`` (``H', W'`` the padded size); image ``i`` is
    ``padded[i, :, top[i]:top[i]+h, left[i]:left[i]+w]``.
    """

    def __init__(self, size, padding=0, fill: float = 0.0, padding_mode: str = "constant"):
        self.size = _pair(size, "RandomCrop size")
        if isinstance(padding, int | np.integer):
            padding = (int(padding),) * 4
        else:
            padding = tuple(int(p) for p in padding)
            if len(padding) == 2:
                padding = padding * 2
        if len(padding) != 4 or min(padding) < 0:
            raise ValueError(
                f"RandomCrop padding must be non-negative (1, 2 or 4 ints), got {padding}"
            )
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"RandomCrop padding_mode {padding_mode!r} is not supported")
        self.padding = padding  # left, top, right, bottom
        self.fill = fill
        self.padding_mode = padding_mode
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"

    def pad(self, x: np.ndarray) -> np.ndarray:
        """The batch with the padding applied (``(N, C, H', W')``).

        With constant padding the result lives in a buffer kept per thread and reused by
        the next call (its border already holds ``fill``): only the centre is copied. The
        crop gathers a new array from it, so no returned batch aliases the buffer.
        """
        left, top, right, bottom = self.padding
        if not any(self.padding):
            return x
        if self.padding_mode != "constant":
            return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), self.padding_mode)
        n, c, h, w = x.shape
        shape = (n, c, h + top + bottom, w + left + right)
        out = getattr(self._local, "buffer", None)
        if out is None or out.shape != shape or out.dtype != x.dtype:
            out = np.empty(shape, dtype=x.dtype)
            out[...] = self.fill
            self._local.buffer = out
        out[:, :, top : top + h, left : left + w] = x
        return out

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_local"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    def get_params(self, n: int, padded_hw: tuple[int, int], rng) -> tuple[np.ndarray, np.ndarray]:
        """Per-image ``(top, left)`` offsets into the padded batch."""
        (hp, wp), (h, w) = padded_hw, self.size
        if h > hp or w > wp:
            raise ValueError(f"RandomCrop: crop {self.size} larger than padded image {padded_hw}")
        top = rng.integers(0, hp - h + 1, size=n)
        left = rng.integers(0, wp - w + 1, size=n)
        return top, left

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x4 = _as_4d(np.asarray(x), "RandomCrop")
        padded = self.pad(x4)
        n = len(padded)
        top, left = self.get_params(n, padded.shape[2:], rng)
        windows = sliding_window_view(padded, self.size, axis=(2, 3))  # N, C, nh, nw, h, w
        out = windows[np.arange(n), :, top, left]  # N, C, h, w (a gathered copy)
        return out if np.ndim(x) == 4 else out[:, 0]


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p``: ``flip = rng.random(N) < p``."""

    def __init__(self, p: float = 0.5):
        self.p = float(p)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = np.asarray(x)
        flip = rng.random(len(x)) < self.p
        sel = np.flatnonzero(flip)
        out = x.copy()
        out[sel] = x[sel, ..., ::-1]
        return out


class RandomVerticalFlip:
    """Mirror each image top-bottom with probability ``p``: ``flip = rng.random(N) < p``."""

    def __init__(self, p: float = 0.5):
        self.p = float(p)

    def __repr__(self) -> str:
        return f"RandomVerticalFlip(p={self.p})"

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = np.asarray(x)
        flip = rng.random(len(x)) < self.p
        sel = np.flatnonzero(flip)
        out = x.copy()
        out[sel] = x[sel, ..., ::-1, :]
        return out


class ToFloat:
    """Integer pixels to float32: ``x / scale`` (default 255: uint8 -> [0, 1], like ToTensor)."""

    def __init__(self, scale: float = 255.0):
        self.scale = float(scale)

    def __repr__(self) -> str:
        return f"ToFloat(scale={self.scale})"

    def __call__(self, x: np.ndarray, rng=None) -> np.ndarray:
        out = np.asarray(x).astype(np.float32)
        np.divide(out, np.float32(self.scale), out=out)
        return out


class Normalize:
    """Per channel: ``(x - mean) / std`` in float32, on a float batch ``(N, C, H, W)``."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1)
        if self.mean.shape != self.std.shape:
            raise ValueError(f"Normalize: mean {self.mean} and std {self.std} differ in length")
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be positive, got {self.std}")

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"

    def __call__(self, x: np.ndarray, rng=None) -> np.ndarray:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(
                f"Normalize: expected a float batch, got {x.dtype}; put ToFloat() before it"
            )
        c = len(self.mean)
        if x.ndim < 2 or (c != 1 and x.shape[1] != c):
            raise ValueError(f"Normalize: {c} channels of mean/std for a batch of shape {x.shape}")
        shape = (1, c) + (1,) * (x.ndim - 2)
        out = np.subtract(x, self.mean.reshape(shape), dtype=np.float32)
        np.divide(out, self.std.reshape(shape), out=out)
        return out
