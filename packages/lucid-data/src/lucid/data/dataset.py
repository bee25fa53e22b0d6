"""Datasets over NumPy arrays, as in ``torch.utils.data``.

A dataset has ``__len__`` and ``__getitem__(i)``. A dataset that can also gather a whole
batch at once defines ``get_batch(indices) -> tuple of arrays``; the DataLoader then uses
it instead of fetching items one by one (``ArrayDataset`` gathers with ``x[indices]``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .sampler import draw_seed


class Dataset:
    """Base class: subclasses define ``__len__`` and ``__getitem__``."""

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


def _as_array(a) -> np.ndarray:
    return a if isinstance(a, np.ndarray) else np.asarray(a)


def integer_array(values, what: str) -> np.ndarray:
    """``values`` as an int64 array; floats (``1.7`` or even ``2.0``), bools and strings are
    refused with a ``TypeError`` naming ``what``, instead of being truncated."""
    arr = np.asarray(values)
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(
            f"{what} must be integers, got dtype {arr.dtype} (e.g. {arr.reshape(-1)[0]!r}); "
            "convert them explicitly if truncation is intended"
        )
    return arr.astype(np.int64, copy=False)


class ArrayDataset(Dataset):
    """Equal-length arrays indexed together along the first axis: item ``i`` is
    ``(a[i] for a in arrays)``, a batch is ``(a[idx] for a in arrays)``.

    Memory-mapped arrays stay on disk; only the gathered batches are read.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("ArrayDataset needs at least one array")
        self.arrays = tuple(_as_array(a) for a in arrays)
        lengths = [len(a) if a.ndim else -1 for a in self.arrays]
        if min(lengths) < 0 or len(set(lengths)) != 1:
            shapes = [a.shape for a in self.arrays]
            raise ValueError(f"ArrayDataset: arrays must share their first dimension, got {shapes}")

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(a[indices] for a in arrays)``, one fancy-indexing gather per array."""
        return tuple(np.asarray(a[indices]) for a in self.arrays)


#: PyTorch's name for the same thing.
TensorDataset = ArrayDataset


class Subset(Dataset):
    """The items of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = integer_array(indices, "Subset indices").reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset: indices out of range for a dataset of length {n}")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return self.dataset[self.indices[index]]
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices: np.ndarray):
        return fetch_batch(self.dataset, self.indices[indices])


class ConcatDataset(Dataset):
    """The datasets one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        self.offsets = np.cumsum([0] + [len(d) for d in self.datasets])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index):
        index = int(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for ConcatDataset of length {len(self)}")
        k = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return self.datasets[k][index - int(self.offsets[k])]


def default_collate(samples: list):
    """Stack a list of samples: tuples field by field, arrays and numbers with ``np.stack``."""
    if not samples:
        raise ValueError("default_collate: empty batch")
    first = samples[0]
    if isinstance(first, tuple | list):
        return tuple(default_collate([s[i] for s in samples]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, bool):
        return np.asarray(samples, dtype=bool)
    if isinstance(first, int):
        return np.asarray(samples, dtype=np.int64)
    if isinstance(first, float):
        return np.asarray(samples, dtype=np.float32)
    return np.stack([np.asarray(s) for s in samples])


def fetch_batch(dataset, indices: np.ndarray, collate_fn=None):
    """A batch of ``dataset`` at ``indices``: ``get_batch`` when the dataset has it and no
    ``collate_fn`` is given, else ``collate_fn([dataset[i] for i in indices])``."""
    if collate_fn is None and hasattr(dataset, "get_batch"):
        return dataset.get_batch(indices)
    return (collate_fn or default_collate)([dataset[int(i)] for i in indices])


def random_split(dataset, lengths: Sequence[int | float], seed: int | None = None,
                 generator=None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping subsets of the given lengths (or fractions
    summing to 1, the remainder going round-robin from the first), drawn from
    ``np.random.default_rng(seed).permutation(len(dataset))``. Without ``seed``, the seed
    is drawn from ``generator`` or NumPy's global generator, as PyTorch draws from its
    global one (``sampler.draw_seed``)."""
    if seed is None:
        seed = draw_seed(generator)
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1):
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(int(x) != x or x < 0 for x in lengths) or sum(lengths) != n:
        raise ValueError(
            f"random_split: lengths {lengths} must be non-negative ints summing to {n} "
            "(or fractions summing to 1)"
        )
    perm = np.random.default_rng(seed).permutation(n)
    bounds = np.cumsum([0] + [int(x) for x in lengths])
    return [Subset(dataset, perm[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
