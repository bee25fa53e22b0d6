"""Samplers: the order in which a DataLoader visits a dataset, as a function of the epoch.

A Lucid sampler computes its whole order at once: ``sampler.order(epoch)`` returns an int64
array of indices. The order is a pure function of ``(seed, epoch)``, so two runs, or two
frameworks fed by the same loader, see the same indices in the same order. Iterating a
sampler (``iter(sampler)``) follows PyTorch: it yields the order of ``sampler.epoch``, which
``set_epoch`` sets.
"""

from __future__ import annotations

import numpy as np


def epoch_rng(seed: int, epoch: int, *more: int) -> np.random.Generator:
    """``np.random.default_rng([seed, epoch, *more])``: the generator of one epoch (and batch)."""
    return np.random.default_rng([int(seed), int(epoch), *(int(m) for m in more)])


class Sampler:
    """Base class: subclasses define ``order(epoch)`` and ``__len__``."""

    epoch = 0

    def order(self, epoch: int) -> np.ndarray:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self):
        return iter(self.order(self.epoch).tolist())


class SequentialSampler(Sampler):
    """``0, 1, ..., n - 1`` every epoch."""

    def __init__(self, n: int):
        self.n = int(n)

    def __len__(self) -> int:
        return self.n

    def order(self, epoch: int) -> np.ndarray:
        return np.arange(self.n, dtype=np.int64)


class RandomSampler(Sampler):
    """``np.random.default_rng([seed, epoch]).permutation(n)``: a new permutation per epoch."""

    def __init__(self, n: int, seed: int = 0):
        self.n, self.seed = int(n), int(seed)

    def __len__(self) -> int:
        return self.n

    def order(self, epoch: int) -> np.ndarray:
        return epoch_rng(self.seed, epoch).permutation(self.n).astype(np.int64)


class SubsetRandomSampler(Sampler):
    """The given indices in a new seeded order each epoch."""

    def __init__(self, indices, seed: int = 0):
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.seed = int(seed)

    def __len__(self) -> int:
        return len(self.indices)

    def order(self, epoch: int) -> np.ndarray:
        return self.indices[epoch_rng(self.seed, epoch).permutation(len(self.indices))]


def sampler_order(sampler, epoch: int) -> np.ndarray:
    """Indices of ``sampler`` for ``epoch``: ``order(epoch)`` for a Lucid sampler; for any
    other iterable of indices (a list, a PyTorch sampler), ``set_epoch(epoch)`` when it has
    one, then its iteration."""
    if hasattr(sampler, "order"):
        return np.asarray(sampler.order(epoch), dtype=np.int64).reshape(-1)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    return np.fromiter((int(i) for i in sampler), dtype=np.int64)
