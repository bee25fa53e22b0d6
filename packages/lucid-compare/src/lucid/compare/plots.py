"""``compare.png`` and ``compare.svg``: one figure, one colour per framework.

Panels: batch loss (raw, faint, and smoothed), epoch train/test loss, train/test accuracy,
epoch time, learning rate, and (with ``--same-init``) the per-batch loss difference to
PyTorch next to the one-ULP control. Drawn with Matplotlib's Agg canvas (no display, no
pyplot state), from the analysis of the histories alone.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np

from .stats import moving_average

COLORS = {"torch": "#1f77b4", "lucid": "#d62728", "control": "#7f7f7f"}
#: Lucid is drawn dashed on top, so that identical curves stay visible as two
STYLES = {"torch": "-", "lucid": (0, (4, 2))}
LABELS = {"torch": "PyTorch", "lucid": "Lucid"}


def _color(fw: str) -> str:
    return COLORS.get(fw, "#2ca02c")


def _losses(h) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in h["batch_losses"]], dtype=np.float64)


def draw(analysis: dict, out_dir) -> list[str]:
    """Write ``compare.png`` and ``compare.svg`` into ``out_dir``; returns their names."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    primaries = analysis["primary"]
    fig = Figure(figsize=(15, 8.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    title = f"{analysis['experiment']}: " + " vs ".join(LABELS.get(f, f) for f in primaries)
    fig.suptitle(title)

    ax = axes[0, 0]
    for fw, h in primaries.items():
        y = _losses(h)
        x = np.arange(1, len(y) + 1)
        ax.plot(x, y, color=_color(fw), alpha=0.25, lw=0.8)
        w = analysis["smoothing_window"]
        ax.plot(x, moving_average(y, w, centered=True), color=_color(fw), lw=1.8,
                ls=STYLES.get(fw, "-"), label=f"{LABELS.get(fw, fw)} (centred mean of {w})")
    _epoch_lines(ax, primaries)
    ax.set(title="batch loss (raw, smoothed)", xlabel="batch", ylabel="loss")
    ax.legend(fontsize=8)

    _train_test_panel(axes[0, 1], primaries, "loss", "epoch loss")
    _train_test_panel(axes[0, 2], primaries, "acc", "accuracy")

    ax = axes[1, 0]
    n = len(primaries)
    for i, (fw, h) in enumerate(primaries.items()):
        ep = np.array([e["epoch"] for e in h["epochs"]], dtype=float)
        width = 0.8 / max(n, 1)
        ax.bar(ep + (i - (n - 1) / 2) * width, [e["epoch_time"] for e in h["epochs"]],
               width=width, color=_color(fw), label=LABELS.get(fw, fw))
    ax.set(title="epoch time (train + eval)", xlabel="epoch", ylabel="seconds")
    ax.legend(fontsize=8)

    ax = axes[1, 1]
    for fw, h in primaries.items():
        ep = [e["epoch"] for e in h["epochs"]]
        ax.step(ep, [e["lr"] for e in h["epochs"]], where="post", color=_color(fw),
                ls=STYLES.get(fw, "-"), label=LABELS.get(fw, fw))
    ax.set(title="learning rate (at the epoch's start)", xlabel="epoch", ylabel="lr")
    if any(e["lr"] and e["lr"] > 0 for h in primaries.values() for e in h["epochs"]):
        ax.set_yscale("log")
    ax.legend(fontsize=8)

    ax = axes[1, 2]
    div = analysis.get("divergence")
    if div:
        tol = div["tolerance"]
        for key, label, color in (("framework", "|Lucid - PyTorch|", _color("lucid")),
                                  ("control", "|PyTorch - PyTorch(+1 ULP)|", COLORS["control"])):
            d = div.get(key)
            if d and d["diff"]:
                y = np.array([np.nan if v is None else v for v in d["diff"]], dtype=float)
                ax.plot(np.arange(1, len(y) + 1), np.maximum(y, 1e-12), color=color, lw=1,
                        label=label)
        ax.axhline(tol, color="k", ls=":", lw=1, label=f"tolerance {tol:g}")
        ax.set_yscale("log")
        ax.set(title="same init: per-batch loss difference", xlabel="batch",
               ylabel="|loss diff| / max(1, |loss|)  (0 at 1e-12)")
        ax.legend(fontsize=8)
    else:
        ax.axis("off")
        ax.text(0.5, 0.5, "per-batch difference at equal initial weights:\nrun with --same-init",
                ha="center", va="center", fontsize=10, color="#555555")

    for ax in (axes[0, 1], axes[0, 2], axes[1, 0], axes[1, 1]):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    names = []
    for ext in ("png", "svg"):
        path = Path(out_dir) / f"compare.{ext}"
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            fig.savefig(tmp, format=ext, dpi=110)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        names.append(path.name)
    return names


def _epoch_lines(ax, primaries) -> None:
    h = next(iter(primaries.values()), None)
    if not h:
        return
    pos = np.cumsum([e["num_batches"] for e in h["epochs"]])[:-1]
    for p in pos:
        ax.axvline(p + 0.5, color="#cccccc", lw=0.6, zorder=0)


def _train_test_panel(ax, primaries: dict, metric: str, title: str) -> None:
    """Per-epoch train (solid/dashed) and test (dotted) ``metric`` of each framework."""
    for fw, h in primaries.items():
        ep = [e["epoch"] for e in h["epochs"]]
        for split, marker, ls in (("train", "o", STYLES.get(fw, "-")), ("test", "s", ":")):
            ax.plot(ep, [e[f"{split}_{metric}"] for e in h["epochs"]], marker=marker,
                    color=_color(fw), ms=4, ls=ls, label=f"{LABELS.get(fw, fw)} {split}")
    ax.set(title=title, xlabel="epoch", ylabel="loss" if metric == "loss" else "accuracy")
    ax.legend(fontsize=8)
