"""``compare.png`` and ``compare.svg``: one figure, one colour per framework.

Panels: batch loss (raw, faint, and smoothed), epoch train/test loss, train/test accuracy
(with the ``--same-init`` control run), epoch time, learning rate (or a note when it never
changes), and (with ``--same-init``) the per-batch loss difference to
PyTorch next to the one-ULP control. Drawn with Matplotlib's Agg canvas (no display, no
pyplot state), from the analysis of the histories alone.
"""

from __future__ import annotations

import os
import uuid
import warnings
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


def _name(col: str) -> str:
    return "control (+1 ULP)" if col == "control" else LABELS.get(col, col)


def _mean_band(ax, x, curves: list, color, ls, label, lw=1.8) -> None:
    """Every curve thin, their mean thick and a band of +- one sample std."""
    n = min(len(c) for c in curves)
    stack = np.array([np.asarray(c[:n], dtype=float) for c in curves])
    x = np.asarray(x[:n])
    for c in stack:
        ax.plot(x, c, color=color, lw=0.6, alpha=0.45, ls=ls)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        mean = np.nanmean(stack, axis=0)
        std = np.nanstd(stack, axis=0, ddof=1)
    ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.18, lw=0)
    ax.plot(x, mean, color=color, lw=lw, ls=ls, label=label)


def draw(analysis: dict, out_dir) -> list[str]:
    """Write ``compare.png`` and ``compare.svg`` into ``out_dir``; returns their names.

    With several seeds, each seed's curve is drawn thin and the mean thick with a band of
    +- one sample std, labelled with n; the control run (``--same-init``) joins the epoch
    panels.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    primaries = analysis["primary"]
    runs = analysis.get("runs") or {fw: [h] for fw, h in primaries.items()}
    columns = analysis.get("columns") or runs
    fig = Figure(figsize=(15, 8.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    title = f"{analysis['experiment']}: " + " vs ".join(LABELS.get(f, f) for f in primaries)
    seeds = {fw: len(r) for fw, r in runs.items()}
    if max(seeds.values(), default=1) > 1:
        title += (" - " + ", ".join(f"{LABELS.get(f, f)} n={n}" for f, n in seeds.items())
                  + " seeds: thin = each seed, thick = mean, band = +-1 std")
    fig.suptitle(title)

    ax = axes[0, 0]
    w = analysis["smoothing_window"]
    for fw, rs in runs.items():
        color, ls = _color(fw), STYLES.get(fw, "-")
        if len(rs) == 1:
            y = _losses(rs[0])
            x = np.arange(1, len(y) + 1)
            ax.plot(x, y, color=color, alpha=0.25, lw=0.8)
            ax.plot(x, moving_average(y, w, centered=True), color=color, lw=1.8, ls=ls,
                    label=f"{LABELS.get(fw, fw)} (centred mean of {w} batches)")
        else:
            curves = [moving_average(_losses(h), w, centered=True) for h in rs]
            x = np.arange(1, max(len(c) for c in curves) + 1)
            _mean_band(ax, x, curves, color, ls,
                       f"{LABELS.get(fw, fw)} mean ± std, n={len(rs)} "
                       f"(centred mean of {w} batches)")
    _epoch_lines(ax, primaries)
    ax.set(title="batch loss (raw, smoothed)", xlabel="batch", ylabel="loss")
    _legend(ax)

    _train_test_panel(axes[0, 1], columns, "loss", "epoch loss")
    _train_test_panel(axes[0, 2], columns, "acc", "accuracy")

    ax = axes[1, 0]
    n = len(runs)
    width = 0.8 / max(n, 1)
    for i, (fw, rs) in enumerate(runs.items()):
        k = min(len(h["epochs"]) for h in rs)
        if not k:
            continue
        times = np.array([[e["epoch_time"] for e in h["epochs"][:k]] for h in rs], dtype=float)
        ep = np.arange(1, k + 1, dtype=float)
        label = LABELS.get(fw, fw) + (f" (mean ± std, n={len(rs)})" if len(rs) > 1 else "")
        ax.bar(ep + (i - (n - 1) / 2) * width, times.mean(axis=0), width=width,
               yerr=times.std(axis=0, ddof=1) if len(rs) > 1 else None, capsize=3,
               color=_color(fw), label=label)
    ax.set(title="epoch time (train + eval)", xlabel="epoch", ylabel="seconds")
    _legend(ax)

    _lr_panel(axes[1, 1], primaries)

    ax = axes[1, 2]
    div = analysis.get("divergence")
    if analysis.get("trajectory"):
        _trajectory_panel(ax, analysis["trajectory"])
    elif div:
        tol = div["tolerance"]
        for key, label, color in (("framework", "|Lucid - PyTorch|", _color("lucid")),
                                  ("control", "|PyTorch - PyTorch(+1 ULP)|", COLORS["control"])):
            d = div.get(key)
            if d and d["diff"]:
                y = np.array([np.nan if v is None else v for v in d["diff"]], dtype=float)
                ax.plot(np.arange(1, len(y) + 1), np.maximum(y, 1e-12), color=color, lw=1,
                        label=label)
                part = [b for b in (d.get("partial") or {}) if b <= len(y)]
                if part:
                    ax.plot(part, np.maximum(y[np.array(part) - 1], 1e-12), "x", color=color,
                            ms=6, label=f"{label} at a partial last batch")
        ax.axhline(tol, color="k", ls=":", lw=1, label=f"tolerance {tol:g}")
        ax.set_yscale("log")
        ax.set(title="same init: per-batch loss difference", xlabel="batch",
               ylabel="|loss diff| / max(1, |loss|)  (0 at 1e-12)")
        _legend(ax)
    else:
        ax.axis("off")
        ax.text(0.5, 0.5, "per-batch difference at equal initial weights:\n"
                "run with --trajectory-steps above 0 and both frameworks",
                ha="center", va="center", fontsize=10, color="#555555")

    n_epochs = max((len(h["epochs"]) for rs in columns.values() for h in rs), default=0)
    for ax in (axes[0, 1], axes[0, 2], axes[1, 0], axes[1, 1]):
        _epoch_ticks(ax, n_epochs)
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


def _trajectory_panel(ax, t: dict) -> None:
    """The trajectory check: Lucid's divergence from PyTorch at equal initial weights over
    the band of the one-ULP controls (log scale; exact zeros drawn at 1e-10)."""
    floor = 1e-10

    def curve(values):
        y = np.array([np.nan if v is None else v for v in values], dtype=float)
        return np.maximum(y, floor)

    x = np.arange(1, t["batches"] + 1)
    ax.fill_between(x, curve(t["band_low"]), curve(t["band_high"]), color=COLORS["control"],
                    alpha=0.25, lw=0, label=f"band of {len(t['controls'])} one-ULP controls")
    for values in t["control_curves"].values():
        ax.plot(x, curve(values), color=COLORS["control"], lw=0.7, alpha=0.8)
    ax.plot(x, curve(t["lucid"]), color=_color("lucid"), lw=1.3,
            label="Lucid vs PyTorch (same initial weights)")
    ax.axhspan(floor, t["floor"], color="#2ca02c", alpha=0.08, lw=0,
               label=f"rounding level (below {t['floor']:g}: inside)")
    if t["plateau_start"]:
        ax.axvline(t["plateau_start"], color="k", ls=":", lw=1,
                   label=f"controls level off (batch {t['plateau_start']})")
    ax.set_yscale("log")
    verdict = "follows" if t["followed"] else "does NOT follow"
    ax.set(title=f"trajectory check: Lucid {verdict} PyTorch", xlabel="batch",
           ylabel="|loss diff| / max(1, |loss|)  (0 at 1e-10)")
    _legend(ax)


def _epoch_lines(ax, primaries) -> None:
    h = next(iter(primaries.values()), None)
    if not h:
        return
    pos = np.cumsum([e["num_batches"] for e in h["epochs"]])[:-1]
    for p in pos:
        ax.axvline(p + 0.5, color="#cccccc", lw=0.6, zorder=0)


def _legend(ax) -> None:
    """A legend only where something is labelled (a run with no finished epoch has none)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def _epoch_ticks(ax, n_epochs: int) -> None:
    """Whole epochs only: every epoch up to 12, else integer ticks."""
    from matplotlib.ticker import MaxNLocator

    if 0 < n_epochs <= 12:
        ax.set_xticks(range(1, n_epochs + 1))
        ax.set_xlim(0.5, n_epochs + 0.5)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _lr_panel(ax, primaries: dict) -> None:
    """The learning rate per epoch; a constant rate is said in words (no flat line), a
    linear axis unless the rate spans more than a factor of 10."""
    rates = [e["lr"] for h in primaries.values() for e in h["epochs"] if e.get("lr") is not None]
    ax.set(title="learning rate (at the epoch's start)", xlabel="epoch", ylabel="lr")
    if not rates:
        ax.text(0.5, 0.5, "no finished epoch", ha="center", va="center",
                transform=ax.transAxes, color="#555555")
        return
    if len(set(rates)) == 1:
        ax.set_yticks([])
        ax.text(0.5, 0.5, f"constant learning rate {rates[0]:g}\n(never changes)",
                ha="center", va="center", transform=ax.transAxes, fontsize=10,
                color="#555555")
        return
    for fw, h in primaries.items():
        ep = [e["epoch"] for e in h["epochs"]]
        ax.step(ep, [e["lr"] for e in h["epochs"]], where="post", color=_color(fw),
                ls=STYLES.get(fw, "-"), label=LABELS.get(fw, fw))
    positive = [r for r in rates if r > 0]
    if len(positive) == len(rates) and max(positive) > 10 * min(positive):
        ax.set_yscale("log")
    _legend(ax)


def _train_test_panel(ax, columns: dict, metric: str, title: str) -> None:
    """Per-epoch train (solid/dashed) and test (dotted) ``metric`` of each column (each
    framework, and the control run); several seeds as thin lines, mean and band."""
    for col, rs in columns.items():
        for split, marker, ls in (("train", "o", STYLES.get(col, "-")), ("test", "s", ":")):
            key = f"{split}_{metric}"
            if len(rs) == 1:
                ep = [e["epoch"] for e in rs[0]["epochs"]]
                ax.plot(ep, [_num(e.get(key)) for e in rs[0]["epochs"]], marker=marker,
                        color=_color(col), ms=4, ls=ls, label=f"{_name(col)} {split}")
            else:
                curves = [[_num(e.get(key)) for e in h["epochs"]] for h in rs]
                if min(len(c) for c in curves):
                    x = np.arange(1, max(len(c) for c in curves) + 1)
                    _mean_band(ax, x, curves, _color(col), ls,
                               f"{_name(col)} {split} (mean ± std, n={len(rs)})", lw=1.6)
    ax.set(title=title, xlabel="epoch", ylabel="loss" if metric == "loss" else "accuracy")
    _legend(ax)


def _num(v) -> float:
    return np.nan if v is None else float(v)
