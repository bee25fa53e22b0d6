"""DataLoader: batches of NumPy arrays in an order fixed by ``(seed, epoch)``.

Epoch ``e`` visits the dataset in the order ``np.random.default_rng([seed, e]).permutation(n)``
(``shuffle=True``) or ``0..n-1`` (``shuffle=False``), cut into batches of ``batch_size``;
batch ``b`` is augmented by ``transform(x, np.random.default_rng([seed, e, b]))``.

Where ``seed`` comes from:

- ``seed=s`` given: ``s``, for every pass. Nothing depends on global random state, so two
  runs, or a Lucid and a PyTorch model fed by the same loader, see the same batches in
  the same order.
- no ``seed``: each pass (``iter(loader)``) that shuffles or transforms draws its own seed
  from NumPy's global generator (``sampler.draw_seed``: one ``np.random.randint``), as
  PyTorch draws a fresh base seed from torch's global generator on each pass. So
  ``np.random.seed(k)`` before the passes reproduces their orders, and another ``k``
  changes them. ``seed_of(e)`` gives the seed of epoch ``e`` (of its latest pass; if it
  has not run yet, the seed drawn now for its next pass), so ``DataLoader(..., seed=
  loader.seed_of(e))`` replays that epoch.

``batch_indices(e)`` returns epoch ``e``'s order for a harness to record or compare. Each
``iter(loader)`` is one epoch: it uses ``loader.epoch`` and then advances it by one, so
iterating twice gives two different epochs; ``set_epoch(e)`` picks the next one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .dataset import fetch_batch
from .prefetch import PrefetchIterator
from .sampler import RandomSampler, SequentialSampler, draw_seed, epoch_rng, sampler_order


class DataLoader:
    """Iterate ``dataset`` in batches: tuples of NumPy arrays (``(x, y)`` for ``(x, y)`` data).

    Args:
        dataset: anything with ``__len__`` and ``__getitem__``; a dataset with
            ``get_batch(indices)`` (``ArrayDataset``, ``Subset`` of one) is gathered with
            one fancy-indexing copy per array instead of item by item.
        batch_size: items per batch; the last batch is smaller unless ``drop_last``.
        shuffle: a new seeded permutation per epoch (exclusive with ``sampler``).
        sampler: a :class:`~lucid.data.sampler.Sampler` (``order(epoch)``) or any iterable
            of indices (its ``set_epoch`` is called when it has one).
        collate_fn: turns a list of items into a batch (then items are fetched one by one).
        seed: seeds the shuffling and the transforms; None (default): each pass draws a
            seed from NumPy's global generator (``np.random.seed`` governs it).
        prefetch: number of batches a background thread prepares ahead (0: none).
        transform: batch transform ``t(x, rng) -> x`` applied to the first array of the batch.
        generator: a ``numpy.random.Generator`` (or an int seeding one) that draws the
            passes' seeds in place of NumPy's global generator (with ``seed=None``).
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        sampler=None,
        collate_fn: Callable | None = None,
        seed: int | None = None,
        prefetch: int = 0,
        transform: Callable | None = None,
        generator=None,
    ):
        if int(batch_size) < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True are mutually exclusive")
        if int(prefetch) < 0:
            raise ValueError(f"DataLoader: prefetch must be >= 0, got {prefetch}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = None if seed is None else int(seed)
        if generator is not None and seed is not None:
            raise ValueError("DataLoader: pass seed or generator, not both")
        self.generator = (np.random.default_rng(generator)
                          if isinstance(generator, int | np.integer) else generator)
        self._owns_shuffle = sampler is None and self.shuffle
        if sampler is None:
            sampler = (
                RandomSampler(len(dataset), self.seed)
                if shuffle
                else SequentialSampler(len(dataset))
            )
        self.sampler = sampler
        self._drawn: dict[int, int] = {}  # epoch -> seed drawn for its latest or next pass
        self._unused: set[int] = set()  # epochs whose drawn seed no pass has used yet
        self.collate_fn = collate_fn
        self.prefetch = int(prefetch)
        self.transform = transform
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter(loader)`` run epoch ``epoch``."""
        self.epoch = int(epoch)

    def _num_items(self) -> int:
        try:
            return len(self.sampler)
        except TypeError:
            return len(self.dataset)

    def __len__(self) -> int:
        n, b = self._num_items(), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def seed_of(self, epoch: int, *, new_pass: bool = False) -> int:
        """The seed of ``epoch``: ``seed`` when given; otherwise the one drawn from
        ``np.random`` for the epoch's latest pass, or, before any, for its next pass
        (drawn now). ``new_pass=True`` (what ``iter`` does) draws a fresh one unless a
        peek already drew the seed of this pass."""
        if self.seed is not None:
            return self.seed
        if new_pass and epoch in self._unused:
            self._unused.discard(epoch)
        elif new_pass or epoch not in self._drawn:
            self._drawn[epoch] = draw_seed(self.generator)
            if not new_pass:
                self._unused.add(epoch)
        return self._drawn[epoch]

    def order(self, epoch: int) -> np.ndarray:
        """All indices of ``epoch``, in visiting order."""
        return self._order(epoch, self.seed_of(epoch) if self._owns_shuffle else self.seed)

    def _order(self, epoch: int, seed: int | None) -> np.ndarray:
        if self._owns_shuffle:
            return self.sampler.order(epoch, seed)
        return sampler_order(self.sampler, epoch)

    def batch_indices(self, epoch: int) -> list[np.ndarray]:
        """The indices of every batch of ``epoch``, in order (``drop_last`` applied)."""
        return self.split(self.order(epoch))

    def split(self, order: np.ndarray) -> list[np.ndarray]:
        """``order`` cut into batches of ``batch_size`` (``drop_last`` applied)."""
        b = self.batch_size
        stop = len(order) - len(order) % b if self.drop_last else len(order)
        return [order[i : i + b] for i in range(0, stop, b)]

    def batch_rng(self, epoch: int, batch: int) -> np.random.Generator:
        """The generator handed to ``transform`` for batch ``batch`` of ``epoch``."""
        return epoch_rng(self.seed_of(epoch), epoch, batch)

    def _batches(self, epoch: int, seed: int | None, order: np.ndarray):
        for b, idx in enumerate(self.split(order)):
            batch = fetch_batch(self.dataset, idx, self.collate_fn)
            if self.transform is not None:
                rng = epoch_rng(seed, epoch, b)
                if isinstance(batch, tuple | list):
                    batch = (self.transform(batch[0], rng), *batch[1:])
                else:
                    batch = self.transform(batch, rng)
            yield batch

    def next_pass(self) -> tuple[int, int | None, np.ndarray]:
        """Start a pass: ``(epoch, seed, order)`` of the next ``iter(loader)``, and advance
        the epoch. What ``__iter__`` runs on; a loader of another kind of batch (Lucid
        tensors, worker processes) can run on it too."""
        epoch = self.epoch
        self.epoch = epoch + 1
        random = self._owns_shuffle or self.transform is not None
        # seed and order here, not in the prefetch thread; nothing random, nothing drawn
        seed = self.seed_of(epoch, new_pass=True) if random else self.seed
        return epoch, seed, self._order(epoch, seed)

    def __iter__(self):
        epoch, seed, order = self.next_pass()
        if self.prefetch > 0:
            return PrefetchIterator(lambda: self._batches(epoch, seed, order), self.prefetch)
        return self._batches(epoch, seed, order)

    def __repr__(self) -> str:
        return (
            f"DataLoader(n={self._num_items()}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, seed={self.seed}, epoch={self.epoch}, "
            f"prefetch={self.prefetch})"
        )
