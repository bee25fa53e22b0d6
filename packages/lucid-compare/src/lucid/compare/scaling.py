"""The report's scaling section, for runs trained as ``--nproc N`` processes.

A ``--nproc`` history records ``nproc`` and, per epoch, ``grad_sync_time`` (seconds in the
gradient all-reduces, timed around them after the gradients are computed, so waiting for
a slower rank counts as communication) and ``metric_sync_time`` (summing each batch's
loss and correct count over the ranks). With ``--scaling`` the same run is trained again
in one process with N times the threads of each rank (``OUT/scaling/``); its times are
copied into the main history as ``scaling_baseline`` (``baseline_record``), so the
section is drawn from the main histories alone:

- time per epoch (training + evaluation) and training time, N processes and 1 process;
- the communication share: gradient all-reduce time / training time;
- speed-up = 1-process epoch time / N-process epoch time, efficiency = speed-up / N;
- the largest batch-loss difference between the two, |a - b| / max(1, |b|), which should
  be float32 round-off (data parallelism is the same computation, reordered).
"""

from __future__ import annotations

import math

import numpy as np

from . import conditions
from .backends import LABELS
from .trajectory import divergence

#: where ``--scaling`` writes the 1-process runs, inside the output folder
FOLDER = "scaling"


def _mean(values) -> float | None:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return sum(vals) / len(vals) if vals else None


def _threads(h) -> int | None:
    t = (h.get("environment") or {}).get("framework", {}).get("threads")
    return t or (h.get("config") or {}).get("threads") or None


def baseline_record(baseline: dict, main: dict | None = None) -> dict:
    """What the scaling section needs of a 1-process baseline history: its threads, status
    and per-epoch times; with ``main``, the largest relative batch-loss difference."""
    rec = {
        "run": baseline.get("run"),
        "status": baseline.get("status"),
        "threads": _threads(baseline),
        "unreliable": conditions.assess(baseline.get("framework"),
                                        (baseline.get("environment") or {}).get("process")),
        "epochs": [{k: e.get(k) for k in ("epoch", "train_time", "eval_time", "epoch_time",
                                          "images_per_s")} for e in baseline.get("epochs", [])],
    }
    if main is not None:
        diff = divergence(main.get("batch_losses", []), baseline.get("batch_losses", []))
        diff = diff[np.isfinite(diff)]
        rec["batches_compared"] = int(diff.size)
        rec["max_batch_loss_diff"] = float(diff.max()) if diff.size else None
    return rec


def _primary(analysis_or_histories) -> dict:
    """Framework -> its first-seed main history."""
    if isinstance(analysis_or_histories, dict):
        return dict(analysis_or_histories.get("primary") or {})
    out = {}
    mains = [h for h in analysis_or_histories if h.get("role", "main") == "main"]
    for h in sorted(mains, key=lambda h: h.get("seed_index", 0)):
        out.setdefault(h["framework"], h)
    return out


def _fmt(v, spec: str = ".2f", unit: str = " s") -> str:
    return "-" if v is None else f"{v:{spec}}{unit}"


def _column(h) -> dict:
    epochs = h.get("epochs", [])
    train = _mean(e.get("train_time") for e in epochs)
    grad = _mean(e.get("grad_sync_time") for e in epochs)
    col = {
        "layout": f"{h.get('nproc', 1)} x {_threads(h) or '?'}",
        "epoch": _mean(e.get("epoch_time") for e in epochs),
        "train": train,
        "grad": grad,
        "metric": _mean(e.get("metric_sync_time") for e in epochs),
        "share": grad / train if grad is not None and train else None,
        "ips": _mean(e.get("images_per_s") for e in epochs),
    }
    base = h.get("scaling_baseline")
    if base:
        b_epoch = _mean(e.get("epoch_time") for e in base["epochs"])
        col["base_layout"] = f"1 x {base.get('threads') or '?'}"
        col["base_epoch"] = b_epoch
        col["base_train"] = _mean(e.get("train_time") for e in base["epochs"])
        col["speedup"] = b_epoch / col["epoch"] if b_epoch and col["epoch"] else None
        col["diff"] = base.get("max_batch_loss_diff")
        col["base_unreliable"] = base.get("unreliable") or []
    return col


def scaling_section(analysis_or_histories) -> list[str]:
    """Markdown lines of the scaling section (an analysis from ``report.analyse`` or a list
    of histories); no lines when no main run used more than one process."""
    primary = {fw: h for fw, h in _primary(analysis_or_histories).items()
               if int(h.get("nproc", 1) or 1) > 1}
    if not primary:
        return []
    cols = {fw: _column(h) for fw, h in primary.items()}
    nproc = max(int(h["nproc"]) for h in primary.values())
    rows = [
        ("processes x threads each", lambda c: c["layout"]),
        ("epoch time (train + eval), mean", lambda c: _fmt(c["epoch"])),
        ("training time per epoch", lambda c: _fmt(c["train"])),
        ("gradient all-reduce per epoch", lambda c: _fmt(c["grad"], ".3f")),
        ("communication share of training", lambda c: _fmt(
            None if c["share"] is None else 100 * c["share"], ".1f", " %")),
        ("metric sums per epoch", lambda c: _fmt(c["metric"], ".3f")),
        ("images/s", lambda c: _fmt(c["ips"], ".0f", "")),
    ]
    if any("base_layout" in c for c in cols.values()):
        rows += [
            ("1 process: processes x threads", lambda c: c.get("base_layout", "-")),
            ("1 process: epoch time, mean", lambda c: _fmt(c.get("base_epoch"))),
            ("1 process: training time per epoch", lambda c: _fmt(c.get("base_train"))),
            ("1 process: timing conditions", lambda c: "-" if "base_layout" not in c else (
                "unreliable: " + "; ".join(c["base_unreliable"]) if c["base_unreliable"]
                else "no concern")),
            (f"speed-up ({nproc} processes vs 1)", lambda c: _fmt(c.get("speedup"), ".2f", "x")),
            ("efficiency (speed-up / processes)", lambda c: _fmt(
                None if c.get("speedup") is None else c["speedup"] / nproc, ".2f", "")),
            ("largest batch-loss difference from 1 process",
             lambda c: _fmt(c.get("diff"), ".1e", "")),
        ]
    fws = list(cols)
    lines = [f"## Scaling ({nproc} processes)", "",
             "| | " + " | ".join(LABELS.get(f, f) for f in fws) + " |",
             "|---|" + "---|" * len(fws)]
    lines += [f"| {name} | " + " | ".join(cell(cols[f]) for f in fws) + " |"
              for name, cell in rows]
    lines += ["", "Each process trains on its share of every global batch (the same batches "
              "as one process, split between the ranks), and the gradients are averaged "
              "after each backward pass. The all-reduce time is measured around the "
              "averaging, after the gradients are computed, so waiting for a slower rank "
              "counts as communication. Metric sums add each batch's loss and correct "
              "count over the ranks."]
    if not any("base_layout" in c for c in cols.values()):
        lines += ["", f"No 1-process baseline here: `--scaling` (with `--nproc {nproc}`) "
                  "trains one as well and adds its times and the speed-up."]
    else:
        lines += ["", "The 1-process baseline has as many threads as all the ranks "
                  "together, so both use the same cores; its timing conditions are judged "
                  "as the summary's (a machine busy with other work slows threads that "
                  "wait for each other most). The batch-loss difference is "
                  "|a - b| / max(1, |b|) over every batch."]
    return lines + [""]
