"""Worker processes for ``DataLoader(num_workers=N)``: each loads whole batches.

Started with ``spawn`` (a forked copy of a process running MLX's threads is not safe), so
the dataset and ``collate_fn`` travel by pickle, and a training script needs PyTorch's
usual ``if __name__ == "__main__":`` guard. Worker ``k`` seeds ``np.random`` and
``random`` with ``base_seed + k`` and then calls ``worker_init_fn(k)``.
"""

from __future__ import annotations

import multiprocessing
import random
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from itertools import islice
from typing import NamedTuple

import numpy as np
from lucid.data import fetch_batch


class WorkerInfo(NamedTuple):
    """What ``get_worker_info()`` returns inside a worker (None in the main process)."""

    id: int
    num_workers: int
    seed: int
    dataset: object


_info: WorkerInfo | None = None
_collate = None


def get_worker_info() -> WorkerInfo | None:
    return _info


def _start(dataset, collate_fn, counter, num_workers: int, base_seed: int, init_fn) -> None:
    global _info, _collate
    with counter.get_lock():
        worker_id = counter.value
        counter.value += 1
    seed = (base_seed + worker_id) % 2**63
    np.random.seed(seed % 2**32)
    random.seed(seed)
    _info, _collate = WorkerInfo(worker_id, num_workers, seed, dataset), collate_fn
    if init_fn is not None:
        init_fn(worker_id)


def _load(indices: np.ndarray):
    return fetch_batch(_info.dataset, indices, _collate)


class WorkerPool:
    """``num_workers`` processes that load batches; ``map_in_order`` yields them in order."""

    def __init__(self, dataset, collate_fn, num_workers: int, base_seed: int, init_fn=None):
        context = multiprocessing.get_context("spawn")
        counter = context.Value("i", 0)
        self.executor = ProcessPoolExecutor(
            num_workers, mp_context=context, initializer=_start,
            initargs=(dataset, collate_fn, counter, num_workers, base_seed, init_fn))

    def map_in_order(self, batches, ahead: int, timeout: float | None):
        """The batch of every index array in ``batches``, in order, ``ahead`` in flight."""
        todo = iter(batches)
        pending = deque(self.executor.submit(_load, idx) for idx in islice(todo, ahead))
        while pending:
            try:
                batch = pending.popleft().result(timeout)
            except FutureTimeout:
                raise RuntimeError(f"DataLoader: a worker took more than timeout={timeout} s "
                                   "for one batch") from None
            following = next(todo, None)
            if following is not None:
                pending.append(self.executor.submit(_load, following))
            yield batch

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
