"""``DataLoader`` with PyTorch's arguments: batches of Lucid tensors, optionally loaded
by worker processes.

The order of the batches is lucid-data's (``lucid.data.DataLoader``: a seeded permutation
per epoch), its seed drawn for each pass from Lucid's global generator, so that
``lucid.manual_seed(s)`` fixes and changes it as ``torch.manual_seed`` does PyTorch's
(``seed=`` fixes one seed for every pass; ``generator=`` draws from another). With
``num_workers=0`` the batches are loaded in this process; with ``num_workers=N``, N
worker processes (started with ``spawn``, so the dataset and ``collate_fn`` must pickle)
load whole batches, ``prefetch_factor`` each ahead, and the batches come back in order.
Each worker seeds NumPy's global generator (and Python's ``random``) with the pass's
base seed plus its id, as PyTorch does, so random per-sample transforms differ across
workers and repeat across runs. ``persistent_workers`` keeps the workers between passes.
``pin_memory`` is accepted and has no effect: MLX's CPU and GPU share memory.
"""

from __future__ import annotations

import lucid
import numpy as np
from lucid.data import DataLoader as _NumpyLoader
from lucid.data.sampler import draw_seed

from .workers import WorkerPool, get_worker_info


class LucidGenerator:
    """Draws a loader's seeds from Lucid's global generator (``lucid.manual_seed``), as
    PyTorch's loader draws from torch's: ``integers(low, high)`` like NumPy's."""

    def integers(self, low: int, high: int) -> int:
        hi, lo = (int(v) for v in lucid.randint(0, 2**31, (2,)).tolist())
        return low + ((hi << 31) | lo) % (high - low)


def to_lucid(batch, device=None):
    """NumPy arrays (in tuples, lists and dicts) -> Lucid tensors; the rest unchanged."""
    if isinstance(batch, np.ndarray):
        return lucid.tensor(batch, device=device)
    if isinstance(batch, tuple | list):
        return type(batch)(to_lucid(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_lucid(v, device) for k, v in batch.items()}
    return batch


class DataLoader:
    """``torch.utils.data.DataLoader``'s arguments; yields Lucid tensors (module docstring).

    ``generator``: a ``numpy.random.Generator`` (or an int) that draws each pass's seeds
    in place of Lucid's global generator. ``seed``: one fixed seed for every pass (Lucid's
    reproducible mode; exclusive with ``generator``). ``device``: where the tensors go.
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler=None, batch_sampler=None, num_workers: int = 0, collate_fn=None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn=None, generator=None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, seed: int | None = None, device=None):
        if batch_sampler is not None:
            raise NotImplementedError("DataLoader: batch_sampler is not supported by Lucid; "
                                      "use batch_size with sampler")
        if int(num_workers) < 0:
            raise ValueError(f"DataLoader: num_workers must be >= 0, got {num_workers}")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout must be >= 0, got {timeout}")
        if prefetch_factor is not None and (num_workers == 0 or prefetch_factor < 1):
            raise ValueError("DataLoader: prefetch_factor needs num_workers > 0 and must be "
                             f">= 1, got {prefetch_factor}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers needs num_workers > 0")
        self.dataset = dataset
        self.num_workers, self.timeout = int(num_workers), float(timeout)
        self.prefetch_factor = prefetch_factor or 2
        self.persistent_workers, self.pin_memory = persistent_workers, pin_memory
        self.worker_init_fn, self.collate_fn, self.device = worker_init_fn, collate_fn, device
        if generator is None and seed is None:
            generator = LucidGenerator()  # lucid.manual_seed fixes the order, as in PyTorch
        self._batches = _NumpyLoader(dataset, batch_size=batch_size or 1, shuffle=bool(shuffle),
                                     drop_last=drop_last, sampler=sampler,
                                     collate_fn=collate_fn, seed=seed, generator=generator)
        self.batch_size, self.drop_last, self.sampler = batch_size, drop_last, sampler
        self._pool: WorkerPool | None = None

    def __len__(self) -> int:
        return len(self._batches)

    def set_epoch(self, epoch: int) -> None:
        self._batches.set_epoch(epoch)

    def __iter__(self):
        _, _, order = self._batches.next_pass()
        indices = self._batches.split(order)
        if self.num_workers == 0:
            return (to_lucid(self._fetch(idx), self.device) for idx in indices)
        return self._from_workers(indices)

    def _fetch(self, idx):
        from lucid.data import fetch_batch

        return fetch_batch(self.dataset, idx, self.collate_fn)

    def _from_workers(self, indices):
        base_seed = draw_seed(self._batches.generator)  # each pass's workers, as PyTorch
        pool = self._pool or WorkerPool(self.dataset, self.collate_fn, self.num_workers,
                                        base_seed, self.worker_init_fn)
        if self.persistent_workers:
            self._pool = pool
        try:
            for batch in pool.map_in_order(indices, self.prefetch_factor * self.num_workers,
                                           self.timeout or None):
                yield to_lucid(batch, self.device)
        finally:
            if not self.persistent_workers:
                pool.close()

    def __del__(self):
        if getattr(self, "_pool", None) is not None:
            self._pool.close()


__all__ = ["DataLoader", "get_worker_info", "to_lucid"]
