"""``report.md`` (and the figures), drawn from the ``history_*.json`` files alone.

``analyse(histories)`` computes every figure the report shows; ``render(out_dir)`` reads the
histories, refuses to compare runs whose parameter counts differ (unless ``force``), draws
``compare.png``/``.svg`` and writes ``report.md`` atomically. ``lucid-compare report
OUT_DIR`` calls ``render`` on a finished (or interrupted) run.
"""

from __future__ import annotations

import math
import os
import uuid
from pathlib import Path

import numpy as np

from . import conditions, plots
from .config import config_diff, describe_optimizer, describe_scheduler
from .errors import CompareError, ComparisonRefused
from .history import load_histories
from .stats import detrended_std, mean_std, noise_window, welch_t_test

LABELS = {"torch": "PyTorch", "lucid": "Lucid"}
DEFAULT_TOLERANCE = 1e-3
SEED_METRICS = ("test_acc", "test_loss", "train_acc", "train_loss")


def _label(fw: str) -> str:
    return LABELS.get(fw, fw)


def _final(h, key):
    return h["epochs"][-1][key] if h["epochs"] else None


def _mean_epoch(h, key):
    vals = [e[key] for e in h["epochs"] if e.get(key) is not None]
    return float(np.mean(vals)) if vals else None


def _losses(h) -> list:
    return [math.nan if v is None else v for v in h["batch_losses"]]


def loss_divergence(a: list, b: list, tolerance: float) -> dict:
    """Per-batch ``|a - b| / max(1, |b|)`` and the first (1-based) batch above ``tolerance``."""
    n = min(len(a), len(b))
    x = np.asarray(a[:n], dtype=np.float64)
    y = np.asarray(b[:n], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        diff = np.abs(x - y) / np.maximum(1.0, np.abs(y))
    bad = np.flatnonzero(~(diff <= tolerance))  # NaN counts as exceeding
    return {
        "diff": [None if not np.isfinite(v) else float(v) for v in diff],
        "first_exceeding": int(bad[0]) + 1 if bad.size else None,
        "batches": n,
        "first_diff": float(diff[0]) if n else None,
        "max_diff": float(np.nanmax(diff)) if n and np.isfinite(diff).any() else None,
    }


def analyse(histories, tolerance: float | None = None) -> dict:
    """Everything the report and the figure need, from the histories alone."""
    mains = [h for h in histories if h.get("role", "main") == "main"]
    if not mains:
        raise CompareError("no main run among the histories: nothing to report")
    by_fw: dict[str, list] = {}
    for h in mains:
        by_fw.setdefault(h["framework"], []).append(h)
    for runs in by_fw.values():
        runs.sort(key=lambda h: h.get("seed_index", 0))
    primary = {fw: runs[0] for fw, runs in by_fw.items()}
    n_batches = max((len(h["batch_losses"]) for h in primary.values()), default=0)
    a = {
        "experiment": mains[0].get("experiment"),
        "frameworks": list(primary),
        "primary": primary,
        "runs": by_fw,
        "smoothing_window": max(1, min(25, n_batches // 10 or 1)) | 1,  # odd: centred
        "param_counts": {fw: h.get("param_count") for fw, h in primary.items()},
    }
    a["summary"] = {fw: _summary(h) for fw, h in primary.items()}
    a["diffs"] = []
    if len(primary) == 2:
        (fa, ha), (fb, hb) = primary.items()
        a["diffs"] = config_diff(ha["config"], hb["config"])
        a["diff_frameworks"] = (fa, fb)
        a["batch_order"] = _batch_order(ha, hb)
    a["divergence"] = _divergence(primary, histories, tolerance)
    a["seeds"] = _seed_stats(by_fw)
    return a


def _epoch_images(e) -> float:
    """Training images of an epoch (older histories: images/s times train time)."""
    if e.get("train_images") is not None:
        return e["train_images"]
    return round(e["images_per_s"] * e["train_time"])


def images_per_s(h) -> float | None:
    """Training images of all finished epochs over their training time, together."""
    epochs = [e for e in h["epochs"] if e.get("train_time")]
    seconds = sum(e["train_time"] for e in epochs)
    return sum(_epoch_images(e) for e in epochs) / seconds if seconds > 0 else None


def _summary(h) -> dict:
    losses = [v for v in _losses(h) if math.isfinite(v)]
    process = (h.get("environment") or {}).get("process")
    return {
        "train_loss": _final(h, "train_loss"),
        "test_loss": _final(h, "test_loss"),
        "train_acc": _final(h, "train_acc"),
        "test_acc": _final(h, "test_acc"),
        "noise": detrended_std(losses) if losses else None,
        "noise_window": noise_window(len(losses)),
        "epoch_time": _mean_epoch(h, "epoch_time"),
        "train_time": _mean_epoch(h, "train_time"),
        "images_per_s": images_per_s(h),
        "peak_memory_mb": h.get("peak_memory_mb"),
        "unreliable": conditions.assess(h["framework"], process),
        "param_count": h.get("param_count"),
        "epochs": f"{len(h['epochs'])}/{h['config']['epochs']}",
        "status": h.get("status"),
    }


def _batch_order(ha, hb) -> dict:
    rows, equal_order, equal_data = [], True, True
    for ea, eb in zip(ha["epochs"], hb["epochs"], strict=False):
        eo = ea["batch_order_hash"] == eb["batch_order_hash"]
        ed = ea["batch_data_hash"] == eb["batch_data_hash"]
        equal_order &= eo
        equal_data &= ed
        rows.append((ea["epoch"], ea["batch_order_hash"], eb["batch_order_hash"],
                     ea["batch_data_hash"], eb["batch_data_hash"], eo and ed))
    return {"rows": rows, "equal_order": equal_order and bool(rows),
            "equal_data": equal_data and bool(rows), "epochs": len(rows)}


def _divergence(primary, histories, tolerance) -> dict | None:
    lucid, torch = primary.get("lucid"), primary.get("torch")
    if not lucid or not torch or not str(lucid.get("init", "")).startswith("torch"):
        return None
    tol = tolerance if tolerance is not None else (
        lucid.get("divergence_tolerance") or DEFAULT_TOLERANCE)
    out = {"tolerance": tol,
           "framework": loss_divergence(_losses(lucid), _losses(torch), tol), "control": None}
    control = next((h for h in histories if h.get("role") == "control"
                    and h.get("seed_index", 0) == torch.get("seed_index", 0)), None)
    if control:
        out["control"] = loss_divergence(_losses(control), _losses(torch), tol)
    return out


def _seed_stats(by_fw) -> dict | None:
    if all(len(runs) < 2 for runs in by_fw.values()):
        return None
    stats = {"n": {fw: len(runs) for fw, runs in by_fw.items()}, "metrics": {}}
    for metric in SEED_METRICS:
        vals = {fw: [_final(h, metric) for h in runs if h["epochs"]] for fw, runs in by_fw.items()}
        row = {fw: mean_std(v) for fw, v in vals.items()}
        if "lucid" in vals and "torch" in vals:
            row["welch"] = welch_t_test(vals["lucid"], vals["torch"])
        stats["metrics"][metric] = row
    return stats


def check_param_counts(analysis: dict, force: bool) -> None:
    counts = {fw: c for fw, c in analysis["param_counts"].items() if c is not None}
    if len(set(counts.values())) > 1 and not force:
        listed = ", ".join(f"{_label(fw)} {c:,}" for fw, c in counts.items())
        raise ComparisonRefused(
            f"refusing to compare models with different parameter counts ({listed}); "
            "fix the model or overrides, or pass --force to compare anyway"
        )


# ----- markdown -----------------------------------------------------------------------------
def _fmt(v, spec=".4f") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if isinstance(v, str):
        return v
    return format(v, spec)


def _ratio(a, b) -> str:
    if a is None or b is None or not b or not math.isfinite(a) or not math.isfinite(b):
        return "n/a"
    return f"{a / b:.2f}x"


def _delta(a, b, spec=".4f") -> str:
    if a is None or b is None or not math.isfinite(a) or not math.isfinite(b):
        return "n/a"
    return format(a - b, "+" + spec)


#: the rows that are times (marked when the conditions make them unreliable)
TIMED = ("epoch_time", "train_time", "images_per_s")


def _timing_cell(reasons: list[str]) -> str:
    return "UNRELIABLE (why: below the table)" if reasons else "ok"


def summary_table(analysis: dict) -> list[str]:
    fws = analysis["frameworks"]
    s = analysis["summary"]
    two = "lucid" in s and "torch" in s
    head = "| metric | " + " | ".join(_label(f) for f in fws) + " |"
    if two:
        head += " Lucid vs PyTorch |"
    lines = [head, "|---" * (len(fws) + 1 + two) + "|"]
    rows = [
        ("final train loss", "train_loss", ".4f", "delta"),
        ("final test loss", "test_loss", ".4f", "delta"),
        ("final train accuracy", "train_acc", ".4f", "delta"),
        ("final test accuracy", "test_acc", ".4f", "delta"),
        ("batch-loss noise (std of detrended batch loss)", "noise", ".4f", "ratio"),
        ("epoch time, s (train + eval, mean per epoch; lower is better)", "epoch_time", ".2f",
         "ratio"),
        ("train time, s (mean per epoch; lower is better)", "train_time", ".2f", "ratio"),
        ("train images/s (all training images / all training time; higher is better)",
         "images_per_s", ".0f", "ratio"),
        ("timing conditions", "unreliable", "", None),
        ("peak memory, MiB (lower is better)", "peak_memory_mb", ".0f", "ratio"),
        ("parameters", "param_count", ",d", "equal"),
        ("epochs done", "epochs", "", None),
        ("status", "status", "", None),
    ]
    for title, key, spec, kind in rows:
        if key == "unreliable":
            cells = [_timing_cell(s[f][key]) for f in fws]
        else:
            cells = [_fmt(s[f][key], spec) if spec else str(s[f][key]) for f in fws]
        if key in TIMED:
            cells = [c + (" (unreliable)" if s[f]["unreliable"] else "")
                     for c, f in zip(cells, fws)]
        line = f"| {title} | " + " | ".join(cells) + " |"
        if two:
            a, b = s["lucid"][key], s["torch"][key]
            if kind == "delta":
                extra = _delta(a, b, spec)
            elif kind == "ratio":
                extra = _ratio(a, b)
            elif kind == "equal":
                extra = "equal" if a == b else "DIFFERENT"
            else:
                extra = ""
            if key in TIMED and (s["lucid"]["unreliable"] or s["torch"]["unreliable"]):
                extra += " (unreliable)"
            line += f" {extra} |"
        lines.append(line)
    return lines


def _timing_notes(analysis: dict) -> list[str]:
    """Below the table: which times are unreliable and why, then the conditions."""
    lines = []
    for fw, summary in analysis["summary"].items():
        if summary["unreliable"]:
            lines += ["", f"**{_label(fw)}'s times are unreliable**: "
                      + "; ".join(summary["unreliable"]) + ". Measure again on an idle machine "
                      "(or with fewer `--threads`)."]
    records = {fw: (h.get("environment") or {}).get("process")
               for fw, h in analysis["primary"].items()}
    return lines + ["", "Measurement conditions:", ""] + conditions.describe(records)


def _config_section(analysis: dict) -> list[str]:
    primary = analysis["primary"]
    first = next(iter(primary.values()))
    cfg = first["config"]
    lines = ["## Configuration", ""]
    if analysis["diffs"]:
        fa, fb = analysis["diff_frameworks"]
        lines += [f"**The effective configs differ in {len(analysis['diffs'])} field(s):**", "",
                  f"| field | {_label(fa)} | {_label(fb)} |", "|---|---|---|"]
        lines += [f"| `{k}` | `{va}` | `{vb}` |" for k, va, vb in analysis["diffs"]]
        lines += [""]
        for fw, h in primary.items():
            lines.append(f"- {_label(fw)}: optimizer {describe_optimizer(h['config'])}, "
                         f"scheduler {describe_scheduler(h['config'])}")
            if h.get("overrides"):
                ov = ", ".join(f"{k}={v}" for k, v in h["overrides"].items())
                lines.append(f"  (explicit overrides: {ov})")
    elif len(primary) == 2:
        lines.append("The two effective configs are identical (no per-framework overrides).")
    if not analysis["diffs"]:
        lines += ["", f"Optimizer: {describe_optimizer(cfg)}; scheduler: "
                  f"{describe_scheduler(cfg)}."]
    lines += ["", "| field | value |", "|---|---|"]
    diff_keys = {k for k, _, _ in analysis["diffs"]}
    for k, v in cfg.items():
        shown = f"`{v}`" if k not in diff_keys else "differs (above)"
        lines.append(f"| `{k}` | {shown} |")
    return lines


def _batch_section(analysis: dict) -> list[str]:
    bo = analysis.get("batch_order")
    if not bo:
        return []
    lines = ["## Batches", ""]
    if bo["epochs"] == 0:
        return lines + ["No finished epoch to compare.", ""]
    if bo["equal_order"] and bo["equal_data"]:
        lines.append(f"Both frameworks were fed **identical batches in the identical order** in "
                     f"all {bo['epochs']} finished epoch(s): the hashes of every epoch's batch "
                     f"indices and of the bytes of every batch fed agree.")
    else:
        lines.append("**The batches differ between the frameworks** (see the hashes below); "
                     "their effective configs change the data order or content.")
    lines += ["", "| epoch | order hash PyTorch | order hash Lucid | data hash PyTorch | "
              "data hash Lucid | equal |", "|---|---|---|---|---|---|"]
    fa, fb = analysis["diff_frameworks"]
    for ep, oa, ob, da, db, eq in bo["rows"]:
        if fa != "torch":  # show PyTorch first
            oa, ob, da, db = ob, oa, db, da
        lines.append(f"| {ep} | `{oa}` | `{ob}` | `{da}` | `{db}` | {'yes' if eq else 'NO'} |")
    return lines + [""]


def _divergence_section(analysis: dict) -> list[str]:
    div = analysis.get("divergence")
    if not div:
        return []
    tol, fw, ctl = div["tolerance"], div["framework"], div.get("control")

    def first(d):
        if d is None:
            return "n/a (no control run)"
        return (f"batch {d['first_exceeding']}" if d["first_exceeding"]
                else f"never (all {d['batches']} batches within)")

    lines = [
        "## Same initial weights", "",
        "Lucid started from PyTorch's initial weights (`--same-init`). Tolerance: "
        f"|loss difference| / max(1, |PyTorch loss|) > {tol:g}.", "",
        "| pair | first batch above tolerance | difference at batch 1 | largest difference |",
        "|---|---|---|---|",
        f"| Lucid vs PyTorch | {first(fw)} | {_fmt(fw['first_diff'], '.2e')} | "
        f"{_fmt(fw['max_diff'], '.2e')} |",
    ]
    if ctl:
        lines.append(f"| control: PyTorch vs PyTorch with every initial weight one float32 ULP "
                     f"up | {first(ctl)} | {_fmt(ctl['first_diff'], '.2e')} | "
                     f"{_fmt(ctl['max_diff'], '.2e')} |")
        lines += ["", "The control shows how fast float32 training amplifies a difference of one "
                  "rounding step: where Lucid departs from PyTorch no earlier than the control "
                  "does, the departure is the chaos of training, not a framework error."]
    return lines + [""]


def _seed_section(analysis: dict) -> list[str]:
    st = analysis.get("seeds")
    if not st:
        return []
    fws = [f for f in analysis["frameworks"]]
    ns = ", ".join(f"{_label(f)} {st['n'][f]}" for f in fws)
    lines = ["## Seeds", "", f"Runs per framework: {ns}. Mean ± sample std of the final "
             "values; Welch's t-test (two-sided) of Lucid's mean against PyTorch's.", "",
             "| metric | " + " | ".join(_label(f) for f in fws) + " | t | df | p |",
             "|---" * (len(fws) + 4) + "|"]
    for metric, row in st["metrics"].items():
        cells = [f"{_fmt(row[f][0])} ± {_fmt(row[f][1])}" for f in fws]
        w = row.get("welch")
        tail = (f"{_fmt(w.t, '.3f')} | {_fmt(w.df, '.2f')} | {_fmt(w.p, '.4f')}" if w
                else "n/a | n/a | n/a")
        lines.append(f"| {metric} | " + " | ".join(cells) + f" | {tail} |")
    return lines + [""]


def _environment_section(analysis: dict) -> list[str]:
    lines = ["## Environment", ""]
    for fw, h in analysis["primary"].items():
        env = h.get("environment", {})
        fwenv = env.get("framework", {})
        mach = env.get("machine", {})
        lines.append(f"- {_label(fw)} {fwenv.get('version', '?')} on {fwenv.get('device', '?')}, "
                     f"{fwenv.get('threads', '?')} threads; Python {mach.get('python', '?')}, "
                     f"NumPy {mach.get('numpy', '?')}, {mach.get('cpu_count', '?')} CPUs; "
                     f"thread/malloc env {mach.get('env') or '{}'}")
        if fw == "lucid" and fwenv.get("blas"):
            lines.append(f"  - MLX {fwenv.get('mlx', '?')}, BLAS: {fwenv['blas'].get('status')} "
                         f"{fwenv['blas'].get('config') or ''}".rstrip())
    first = next(iter(analysis["primary"].values()))
    method = first.get("peak_memory_method")
    if method and (first.get("environment") or {}).get("process"):
        lines.append(f"- Peak memory: {method}, in each framework's own process (framework "
                     "import included).")
    elif method:
        lines.append(f"- Peak memory: {method}. These runs trained the frameworks one after "
                     "the other in one process, so each figure includes every library loaded "
                     "in it.")
    data = next(iter(analysis["primary"].values())).get("data") or {}
    if data:
        lines.append(f"- Data: {data.get('source')}, train {data.get('train')}, test "
                     f"{data.get('test')}, train transform {data.get('train_transform')}, "
                     f"augmentation {data.get('augmentation')}")
    return lines + [""]


def markdown(analysis: dict, figures: list[str]) -> str:
    fws = analysis["frameworks"]
    lines = [f"# {analysis['experiment']}: " + " vs ".join(_label(f) for f in fws), ""]
    for fw, h in analysis["primary"].items():
        if h.get("status") != "finished":
            lines.append(f"> **{_label(fw)}: {h.get('status')}** - {h.get('message') or ''}")
    lines += ["", "## Summary", ""] + summary_table(analysis)
    noise_w = next(iter(analysis["summary"].values()))["noise_window"]
    lines += ["", f"Batch-loss noise: std of (batch loss - its centred moving average over "
              f"{noise_w} batches). Times are wall-clock; the ratio column divides Lucid's "
              "figure by PyTorch's (losses and accuracies: the difference)."]
    lines += _timing_notes(analysis) + [""]
    lines += _config_section(analysis) + [""]
    lines += _batch_section(analysis)
    lines += _divergence_section(analysis)
    lines += _seed_section(analysis)
    lines += ["## Figures", ""] + [f"- `{name}`" for name in figures] + [""]
    lines += _environment_section(analysis)
    lines += ["Drawn from the `history_*.json` files alone; `lucid-compare report <dir>` "
              "re-renders this page and the figures.", ""]
    return "\n".join(lines)


def render(out_dir, force: bool = False, tolerance: float | None = None) -> dict:
    """Read the histories in ``out_dir``, write ``compare.png``, ``compare.svg`` and
    ``report.md``; returns ``{"report": path, "figures": [...], "analysis": ...}``."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise CompareError(f"report: no such folder {str(out_dir)!r}")
    histories = load_histories(out_dir)
    if not histories:
        raise CompareError(f"report: no history_*.json in {out_dir}")
    analysis = analyse(histories, tolerance)
    check_param_counts(analysis, force)
    figures = plots.draw(analysis, out_dir)
    text = markdown(analysis, figures)
    path = out_dir / "report.md"
    tmp = path.with_name(f".report.md.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return {"report": path, "figures": figures, "analysis": analysis}
