"""``history_<run>.json``: everything one framework's run recorded.

A history is plain JSON (non-finite numbers are written as ``null``), rewritten atomically
(a temporary file, then ``os.replace``) after every epoch and when a run stops, so the
file on disk is always a complete, valid history. Reports are drawn from these files alone.

Keys: ``format``, ``version``, ``run`` (file stem suffix), ``framework``, ``role``
(``main`` or ``control``), ``seed_index``, ``experiment``, ``config`` (effective),
``overrides`` (this framework's explicit ones), ``init`` (``own``, ``torch``,
``torch+1ulp``), ``param_count``, ``environment`` (``machine``, ``framework``, and
``process``: the worker's measurement conditions, see ``conditions.Probe``), ``data``, ``status`` (``running``,
``finished``, ``interrupted``, ``diverged``, ``failed``), ``message``, ``batch_losses``
(flat, every batch of every epoch, including an unfinished epoch), ``epochs`` (one record
per finished epoch), ``peak_memory_mb``, ``peak_memory_method``, ``started``, ``updated``.
``nproc``: the processes the run trained in (``--nproc``; its epochs then add ``nproc``,
``grad_sync_time`` and ``metric_sync_time``), and with ``--scaling`` ``scaling_baseline``
(the 1-process run's times, ``scaling.baseline_record``).
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from pathlib import Path

FORMAT = "lucid-compare-history"
VERSION = 1
EPOCH_KEYS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "train_time",
              "eval_time", "epoch_time", "train_images", "images_per_s", "num_batches", "batch_order_hash",
              "batch_data_hash", "peak_memory_mb")


def _clean(obj):
    """JSON-safe copy: NaN/inf floats become None, tuples lists, NumPy scalars Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json_atomic(path, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(_clean(obj), f, indent=1, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class History(dict):
    """A history as a dict, with helpers; ``save`` writes it atomically."""

    @classmethod
    def new(cls, run: str, framework: str, role: str, seed_index: int, config: dict,
            overrides: dict, init: str) -> History:
        return cls(
            format=FORMAT, version=VERSION, run=run, framework=framework, role=role,
            seed_index=seed_index, experiment=config.get("experiment"), config=config,
            overrides=overrides, init=init, param_count=None, environment={}, data={},
            status="running", message=None, batch_losses=[], epochs=[], peak_memory_mb=None,
            peak_memory_method=None, started=now(), updated=now(),
        )

    @classmethod
    def load(cls, path) -> History:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{path}: not a lucid-compare history")
        return cls(data)

    def save(self, path) -> None:
        self["updated"] = now()
        write_json_atomic(path, self)

    @property
    def completed_epochs(self) -> int:
        return len(self["epochs"])

    def truncate_to_finished_epochs(self) -> None:
        """Drop the batch losses of an unfinished epoch (before resuming)."""
        n = sum(int(e["num_batches"]) for e in self["epochs"])
        del self["batch_losses"][n:]

    def finished(self) -> bool:
        return self["status"] == "finished"


def history_path(out, run: str) -> Path:
    return Path(out) / f"history_{run}.json"


def load_histories(out) -> list[History]:
    """Every ``history_*.json`` in ``out``, sorted by role, framework and seed index."""
    out = Path(out)
    hist = []
    for p in sorted(out.glob("history_*.json")):
        try:
            hist.append(History.load(p))
        except (OSError, ValueError) as err:
            raise ValueError(f"cannot read {p}: {err}") from err
    order = {"torch": 0, "lucid": 1}
    hist.sort(key=lambda h: (h.get("role") != "main", order.get(h["framework"], 9),
                             h.get("seed_index", 0), h["run"]))
    return hist
