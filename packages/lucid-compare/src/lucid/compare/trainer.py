"""The training loop, written once for every framework.

``fit`` trains a backend epoch by epoch on the NumPy batches of ``lucid.data`` loaders,
evaluates after each epoch, records everything in the history, writes the history and a
checkpoint (model + optimizer + scheduler) after each epoch, and stops a run whose loss
becomes NaN or infinite. A ``KeyboardInterrupt`` propagates after the history is marked
``interrupted`` and written.

When the backend is one rank of several (``--nproc``, ``backend.world > 1``), every rank
iterates the same loaders and trains on its slice of each global batch (``ranks.shard``);
each batch's loss and correct count, and the test sums, are added over the ranks, so the
history is the one a single process would write. Each epoch's record adds ``nproc``,
``grad_sync_time`` and ``metric_sync_time``. Ranks other than 0 pass ``None`` for the
history and checkpoint files and write nothing.
"""

from __future__ import annotations

import math
import sys
import time

from tqdm.auto import tqdm

from . import data as data_mod
from . import ranks
from .environment import peak_memory_mb
from .errors import Diverged
from .history import History


def evaluate(backend, loader) -> tuple[float, float, float]:
    """``(mean loss, accuracy, seconds)`` over ``loader``, in eval mode and without grads."""
    t0 = time.perf_counter()
    backend.train_mode(False)
    total, correct, n = 0.0, 0, 0
    try:
        for x, y in loader:
            if backend.world > 1:  # this rank's share; the sums are added over ranks below
                x, y, _ = ranks.shard(x, y, backend.rank, backend.world)
                if not len(y):
                    continue
            loss_sum, c = backend.eval_step(x, y)
            total += loss_sum
            correct += c
            n += len(y)
    finally:
        backend.train_mode(True)
    if backend.world > 1:
        total, correct, n = backend.all_sum([total, correct, n]).tolist()
    return total / max(n, 1), correct / max(n, 1), time.perf_counter() - t0


def fit(backend, cfg, data: data_mod.Data, history: History, *, history_file, checkpoint_file,
        progress: bool = True, label: str | None = None, log=print) -> History:
    """Train from ``history.completed_epochs`` to ``cfg.epochs``; returns ``history``."""
    label = label or backend.name
    train_loader, test_loader = data_mod.make_loaders(data, cfg)
    method = history["peak_memory_method"]
    try:
        for epoch in range(history.completed_epochs, cfg.epochs):
            record = _train_epoch(backend, cfg, train_loader, history, epoch, progress, label)
            backend.after_epoch()
            test_loss, test_acc, eval_time = evaluate(backend, test_loader)
            record.update(test_loss=test_loss, test_acc=test_acc, eval_time=eval_time,
                          epoch_time=record["train_time"] + eval_time,
                          peak_memory_mb=peak_memory_mb(method))
            history["epochs"].append(record)
            history["peak_memory_mb"] = record["peak_memory_mb"]
            if checkpoint_file is not None:  # None: a rank other than 0, which writes nothing
                backend.save_checkpoint(checkpoint_file, {"epoch": epoch + 1,
                                                          "run": history["run"]})
            if history_file is not None:
                history.save(history_file)
            log(f"[{label}] epoch {epoch + 1}/{cfg.epochs}: train loss {record['train_loss']:.4f} "
                f"acc {record['train_acc']:.4f} | test loss {test_loss:.4f} acc {test_acc:.4f} | "
                f"lr {record['lr']:.3g} | {record['epoch_time']:.1f} s "
                f"({record['images_per_s']:.0f} img/s)")
        history["status"] = "finished"
    except Diverged as err:
        history["status"], history["message"] = "diverged", str(err)
        log(f"[{label}] stopped: {err}")
    except KeyboardInterrupt:
        history["status"] = "interrupted"
        history["message"] = (f"interrupted during epoch {history.completed_epochs + 1}; "
                              "--resume continues from the last finished epoch")
        raise
    except Exception as err:
        history["status"], history["message"] = "failed", f"{type(err).__name__}: {err}"
        raise
    finally:
        history["peak_memory_mb"] = peak_memory_mb(method)
        if history_file is not None:
            history.save(history_file)
    return history


def _train_epoch(backend, cfg, loader, history, epoch, progress, label) -> dict:
    loader.set_epoch(epoch)
    order = data_mod.order_hash(loader.batch_indices(epoch))
    hasher = data_mod.BatchHasher()
    lr = backend.lr
    total, correct, seen, batches = 0.0, 0, 0, 0
    bar = tqdm(loader, total=len(loader), desc=f"{label} epoch {epoch + 1}/{cfg.epochs}",
               disable=not progress, leave=False, file=sys.stderr, dynamic_ncols=True)
    sync0 = backend.grad_sync_time, backend.metric_sync_time
    t0 = time.perf_counter()
    try:
        for x, y in bar:
            hasher.update(x, y)
            if backend.world == 1:
                loss, c = backend.train_step(x, y)
            else:  # this rank's share of the global batch; loss and correct of all ranks
                xr, yr, weight = ranks.shard(x, y, backend.rank, backend.world)
                loss, c = backend.train_step(xr, yr, weight)
                loss_sum, c = backend.all_sum([loss * len(yr), c])
                loss, c = float(loss_sum) / len(y), int(c)
            finite = math.isfinite(loss)
            history["batch_losses"].append(loss if finite else None)
            if not finite:
                raise Diverged(f"loss became {loss} at epoch {epoch + 1}, batch {batches + 1} "
                               f"(lr {backend.lr:.3g}); this run stops here")
            backend.after_batch()
            n = len(y)
            total += loss * n
            correct += c
            seen += n
            batches += 1
            if progress:
                bar.set_postfix(loss=f"{total / seen:.4f}", acc=f"{correct / seen:.4f}",
                                lr=f"{backend.lr:.3g}", refresh=False)
    finally:
        bar.close()
    train_time = time.perf_counter() - t0
    sync = {}
    if backend.world > 1:
        sync = {"nproc": backend.world, "grad_sync_time": backend.grad_sync_time - sync0[0],
                "metric_sync_time": backend.metric_sync_time - sync0[1]}
    return {**sync,
        "epoch": epoch + 1,
        "train_loss": total / max(seen, 1),
        "train_acc": correct / max(seen, 1),
        "lr": lr,
        "train_time": train_time,
        "train_images": seen,
        "images_per_s": seen / train_time if train_time > 0 else math.nan,
        "num_batches": batches,
        "batch_order_hash": order,
        "batch_data_hash": hasher.hexdigest(),
    }
