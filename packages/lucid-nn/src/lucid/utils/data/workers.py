"""Worker processes for ``DataLoader(num_workers=N)``: each loads whole batches.

As PyTorch's: batch ``k`` of a pass goes to worker ``k % N``, each worker has its own
queue of batches, and worker ``w`` seeds ``np.random`` and ``random`` with
``base_seed + w`` and then calls ``worker_init_fn(w)``; so random per-sample transforms
repeat exactly for the same seeds. Workers are started with ``spawn`` (a forked copy of a
process running MLX's threads is not safe): the dataset and ``collate_fn`` travel by
pickle, and a training script needs the usual ``if __name__ == "__main__":`` guard. A
worker that dies is noticed within a second and reported with its exit code.
"""

from __future__ import annotations

import multiprocessing
import queue
import random
import traceback
from typing import NamedTuple

import numpy as np
from lucid.data import fetch_batch

POLL_S = 1.0  # how often a waiting loader checks that its workers are alive


class WorkerInfo(NamedTuple):
    """What ``get_worker_info()`` returns inside a worker (None in the main process)."""

    id: int
    num_workers: int
    seed: int
    dataset: object


_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    return _info


class _Failure(NamedTuple):
    error: BaseException | None
    text: str


def _work(worker_id, num_workers, base_seed, dataset, collate_fn, init_fn, tasks, results):
    """A worker's loop: ``(k, indices)`` in, ``(k, batch or _Failure)`` out, until None."""
    global _info
    seed = (base_seed + worker_id) % 2**63
    np.random.seed(seed % 2**32)
    random.seed(seed)
    _info = WorkerInfo(worker_id, num_workers, seed, dataset)
    if init_fn is not None:
        init_fn(worker_id)
    while (task := tasks.get()) is not None:
        k, indices = task
        try:
            results.put((k, fetch_batch(dataset, indices, collate_fn)))
        except Exception as err:  # noqa: BLE001 - handed to the main process
            text = traceback.format_exc()
            try:
                results.put((k, _Failure(err, text)))
            except Exception:  # noqa: BLE001 - the error itself does not pickle
                results.put((k, _Failure(None, text)))


class WorkerPool:
    """``num_workers`` processes; ``map_in_order`` yields the batches in order."""

    def __init__(self, dataset, collate_fn, num_workers: int, base_seed: int, init_fn=None):
        context = multiprocessing.get_context("spawn")
        self.results = context.Queue()
        self.tasks = [context.Queue() for _ in range(num_workers)]
        self.processes = [
            context.Process(target=_work, daemon=True, name=f"lucid-data-worker-{w}",
                            args=(w, num_workers, base_seed, dataset, collate_fn, init_fn,
                                  self.tasks[w], self.results))
            for w in range(num_workers)]
        for p in self.processes:
            p.start()
        self.sent = 0  # batches handed out over the pool's life: batch k -> worker k % N

    def map_in_order(self, batches, ahead: int, timeout: float | None):
        """The batch of every index array in ``batches``, in order, ``ahead`` in flight."""
        batches = list(batches)
        first, done, ready = self.sent, 0, {}
        for idx in batches[:ahead]:
            self._send(idx)
        while done < len(batches):
            k = first + done
            while k not in ready:
                got, batch = self._receive(timeout)
                ready[got] = batch
            batch = ready.pop(k)
            if isinstance(batch, _Failure):
                if batch.error is not None:
                    raise batch.error
                raise RuntimeError(f"DataLoader worker failed:\n{batch.text}")
            done += 1
            if done + ahead <= len(batches):
                self._send(batches[done + ahead - 1])
            yield batch

    def _send(self, indices) -> None:
        self.tasks[self.sent % len(self.tasks)].put((self.sent, indices))
        self.sent += 1

    def _receive(self, timeout: float | None):
        waited = 0.0
        while True:
            try:
                return self.results.get(timeout=POLL_S)
            except queue.Empty:
                waited += POLL_S
            dead = [p for p in self.processes if not p.is_alive()]
            if dead:
                raise RuntimeError(f"DataLoader worker {dead[0].name} (pid {dead[0].pid}) "
                                   f"exited unexpectedly with code {dead[0].exitcode}")
            if timeout is not None and waited >= timeout:
                raise RuntimeError(f"DataLoader: no batch from the workers within "
                                   f"timeout={timeout:g} s")

    def close(self) -> None:
        for q in self.tasks:
            q.put(None)
        for p in self.processes:
            p.join(timeout=1.0)
            if p.is_alive():
                p.terminate()
