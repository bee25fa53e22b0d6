"""Samplers: the order in which a DataLoader visits a dataset, as a function of the epoch.

A Lucid sampler computes its whole order at once: ``sampler.order(epoch)`` returns an int64
array of indices. With a ``seed``, the order is a pure function of ``(seed, epoch)``, so two
runs, or two frameworks fed by the same loader, see the same indices in the same order.
Without one, each call draws a seed from NumPy's global generator (``draw_seed``), as
PyTorch's ``RandomSampler`` draws from torch's global generator on each pass: then
``np.random.seed(s)`` fixes and changes the orders. Iterating a sampler (``iter(sampler)``)
follows PyTorch: it yields the order of ``sampler.epoch``, which ``set_epoch`` sets.
"""

from __future__ import annotations

import numpy as np


def epoch_rng(seed: int, epoch: int, *more: int) -> np.random.Generator:
    """``np.random.default_rng([seed, epoch, *more])``: the generator of one epoch (and batch)."""
    return np.random.default_rng([int(seed), int(epoch), *(int(m) for m in more)])


def draw_seed(generator: np.random.Generator | None = None) -> int:
    """A seed in [0, 2^63) drawn from ``generator``, by default NumPy's global generator
    (``np.random``): what a loader or sampler given no ``seed`` uses, so that
    ``np.random.seed`` governs it."""
    if generator is not None:
        return int(generator.integers(0, 2**63 - 1))
    return int(np.random.randint(0, 2**63 - 1, dtype=np.int64))


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


def _seed_or_none(seed) -> int | None:
    return None if seed is None else int(seed)


class RandomSampler(Sampler):
    """``np.random.default_rng([seed, epoch]).permutation(n)``: a new permutation per epoch.

    ``seed=None``: each ``order`` call uses a new seed from ``draw_seed()`` (np.random).
    """

    def __init__(self, n: int, seed: int | None = None):
        self.n, self.seed = int(n), _seed_or_none(seed)

    def __len__(self) -> int:
        return self.n

    def order(self, epoch: int, seed: int | None = None) -> np.ndarray:
        """The permutation of ``epoch`` for ``seed`` (default: the sampler's, else drawn)."""
        seed = seed if seed is not None else self.seed if self.seed is not None else draw_seed()
        return epoch_rng(seed, epoch).permutation(self.n).astype(np.int64)


class SubsetRandomSampler(Sampler):
    """The given indices in a new seeded order each epoch (``seed=None``: as RandomSampler)."""

    def __init__(self, indices, seed: int | None = None):
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.seed = _seed_or_none(seed)

    def __len__(self) -> int:
        return len(self.indices)

    def order(self, epoch: int) -> np.ndarray:
        return self.indices[RandomSampler(len(self.indices), self.seed).order(epoch)]


def sampler_order(sampler, epoch: int) -> np.ndarray:
    """Indices of ``sampler`` for ``epoch``: ``order(epoch)`` for a Lucid sampler; for any
    other iterable of indices (a list, a PyTorch sampler), ``set_epoch(epoch)`` when it has
    one, then its iteration."""
    if hasattr(sampler, "order"):
        return np.asarray(sampler.order(epoch), dtype=np.int64).reshape(-1)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    return np.fromiter((int(i) for i in sampler), dtype=np.int64)
