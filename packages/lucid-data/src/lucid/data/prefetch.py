"""Background prefetch: a thread fills a bounded queue with the next batches.

NumPy's gathers and the batch transforms release the GIL for their bulk work, so a
producer thread overlaps loading with the training step. The iterator owns the thread:
``close()`` (called by ``break``-ing out of a ``for`` loop, by garbage collection, or at the
end of the ``with`` block) sets a stop flag, drains the queue so a blocked ``put``
returns, and joins the thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def _produce(make: Callable[[], Iterator], q: queue.Queue, stop: threading.Event) -> None:
    """Thread body: put every item of ``make()`` into ``q`` until done or stopped."""

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    try:
        for item in make():
            if not put(item):
                return
    except BaseException as e:  # handed to the consumer, re-raised there
        put(_Failure(e))
        return
    put(_DONE)


class PrefetchIterator:
    """Iterate ``make()`` through a thread and a queue of at most ``depth`` items."""

    def __init__(self, make: Callable[[], Iterator], depth: int, name: str = "lucid-prefetch"):
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, int(depth)))
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=_produce, args=(make, self._queue, self._stop), name=name, daemon=True
        )
        self._done = False
        self._thread.start()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def __iter__(self):
        return self

    def __next__(self):
        if self._done:
            raise StopIteration
        item = self._queue.get()
        if item is _DONE:
            self.close()
            raise StopIteration
        if isinstance(item, _Failure):
            self.close()
            raise item.exc
        return item

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop the producer and wait for its thread to end."""
        if self._done:
            return
        self._done = True
        self._stop.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close(timeout=1.0)
        except Exception:
            pass
