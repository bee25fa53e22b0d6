"""``report.md`` (and the figures), drawn from the ``history_*.json`` files alone.

``analyse(histories)`` computes every figure the report shows; ``render(out_dir)`` reads the
histories, refuses to compare runs whose parameter counts differ (unless ``force``), draws
``compare.png``/``.svg`` and writes ``report.md`` atomically. ``lucid-compare report
OUT_DIR`` calls ``render`` on a finished (or interrupted) run.

With ``--seeds N`` every summary cell is the mean ± sample std over the seeds followed by
each seed's value, and the Seeds section gives Welch's test with the 95% confidence
interval of the difference and the smallest detectable difference (``stats.effect_size``),
in words. With ``--same-init`` the control run has its own summary columns.
"""

from __future__ import annotations

import math
import os
import re
import uuid
from pathlib import Path

import numpy as np

from . import conditions, plots, trajectory, verdicts
from .config import config_diff, describe_optimizer, describe_scheduler
from .errors import CompareError, ComparisonRefused
from .history import load_histories
from .scaling import scaling_section
from .stats import detrended_std, effect_size, mean_std, noise_window, welch_t_test

LABELS = {"torch": "PyTorch", "lucid": "Lucid", "control": "control"}
#: the control run's column: PyTorch again, from PyTorch's initial weights nudged one ULP
CONTROL = "control"
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


def partial_batches(h) -> dict[int, int]:
    """``{0-based batch index: images}`` of each finished epoch's partial last batch
    (training images not a multiple of the batch size)."""
    bs = int((h.get("config") or {}).get("batch_size") or 0)
    out, start = {}, 0
    for e in h["epochs"]:
        nb = int(e.get("num_batches") or 0)
        rest = int(_epoch_images(e)) % bs if bs else 0
        if nb and rest:
            out[start + nb - 1] = rest
        start += nb
    return out


def _nanmax(values) -> float | None:
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.max()) if v.size else None


def loss_divergence(a: list, b: list, tolerance: float, partial: dict | None = None) -> dict:
    """Per-batch ``|a - b| / max(1, |b|)`` and the first (1-based) batch above ``tolerance``.

    ``max_diff`` leaves out the batches in ``partial`` (0-based index: images; a partial last
    batch averages its loss over fewer images, so its difference is larger);
    ``partial_max_diff`` is their own largest difference.
    """
    n = min(len(a), len(b))
    x = np.asarray(a[:n], dtype=np.float64)
    y = np.asarray(b[:n], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        diff = np.abs(x - y) / np.maximum(1.0, np.abs(y))
    bad = np.flatnonzero(~(diff <= tolerance))  # NaN counts as exceeding
    part = sorted(i for i in (partial or {}) if i < n)
    full = np.delete(diff, part)
    return {
        "diff": [None if not np.isfinite(v) else float(v) for v in diff],
        "first_exceeding": int(bad[0]) + 1 if bad.size else None,
        "batches": n,
        "first_diff": float(diff[0]) if n else None,
        "max_diff": _nanmax(full),
        "partial": {i + 1: (partial or {})[i] for i in part},
        "partial_max_diff": _nanmax(diff[part]) if part else None,
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
    controls = sorted((h for h in histories if h.get("role") == CONTROL),
                      key=lambda h: h.get("seed_index", 0))
    columns = dict(by_fw)
    if controls:
        columns[CONTROL] = controls
    n_batches = max((len(h["batch_losses"]) for runs in columns.values() for h in runs),
                    default=0)
    a = {
        "experiment": mains[0].get("experiment"),
        "frameworks": list(primary),
        "primary": primary,
        "runs": by_fw,
        "columns": columns,
        # one window for the smoothed curve and the noise figure: they describe one thing
        "smoothing_window": noise_window(n_batches),
        "param_counts": {fw: h.get("param_count") for fw, h in primary.items()},
    }
    a["summary"] = {col: _aggregate([_summary(h, a["smoothing_window"]) for h in runs])
                    for col, runs in columns.items()}
    a["diffs"] = []
    if len(primary) == 2:
        (fa, ha), (fb, hb) = primary.items()
        a["diffs"] = config_diff(ha["config"], hb["config"])
        a["diff_frameworks"] = (fa, fb)
        a["batch_order"] = _batch_order(ha, hb)
    a["divergence"] = _divergence(primary, histories, tolerance)
    a["trajectory"] = _trajectory(histories)
    a["seeds"] = _seed_stats(by_fw)
    return a


def _trajectory(histories) -> dict | None:
    """The trajectory check (``trajectory.check``) when its runs are among the histories."""
    runs = {h["framework"]: h for h in histories if h.get("role") == "trajectory"}
    controls = {h["run"].removeprefix("trajectory_control_"): _losses(h) for h in histories
                if h.get("role") == "trajectory_control"}
    if not {"lucid", "torch"} <= set(runs) or not controls:
        return None
    return trajectory.check(_losses(runs["lucid"]), _losses(runs["torch"]), controls)


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


#: summary keys that are numbers (averaged over seeds); the others are shown as they are
NUMERIC = ("train_loss", "test_loss", "train_acc", "test_acc", "noise", "epoch_time",
           "train_time", "images_per_s", "peak_memory_mb")


def _aggregate(summaries: list[dict]) -> dict:
    """One column of the summary from the runs of one framework (one per seed): the mean of
    each number, with ``spread[key] = (sample std, [every run's value])`` over several runs."""
    out = dict(summaries[0])
    out["n"] = len(summaries)
    out["spread"] = {}
    for key in NUMERIC:
        vals = [s[key] for s in summaries]
        if len(summaries) > 1:
            ok = [v for v in vals if v is not None and math.isfinite(v)]
            mean, std = mean_std(ok) if ok else (None, None)
            out[key] = mean
            out["spread"][key] = (std, vals)
    for key in ("param_count", "epochs", "status"):
        vals = list(dict.fromkeys(s[key] for s in summaries))
        out[key] = vals[0] if len(vals) == 1 else " / ".join(
            _fmt(v, ",d") if isinstance(v, int) else str(v) for v in vals)
    reasons = [r for s in summaries for r in s["unreliable"]]
    out["unreliable"] = list(dict.fromkeys(reasons))
    return out


def _summary(h, window: int) -> dict:
    """One run's row values; the noise detrends over ``window`` batches."""
    losses = [v for v in _losses(h) if math.isfinite(v)]
    process = (h.get("environment") or {}).get("process")
    return {
        "train_loss": _final(h, "train_loss"),
        "test_loss": _final(h, "test_loss"),
        "train_acc": _final(h, "train_acc"),
        "test_acc": _final(h, "test_acc"),
        "noise": detrended_std(losses, window) if losses else None,
        "noise_window": window,
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
           "framework": loss_divergence(_losses(lucid), _losses(torch), tol,
                                     partial_batches(torch)),
           "control": None}
    control = next((h for h in histories if h.get("role") == "control"
                    and h.get("seed_index", 0) == torch.get("seed_index", 0)), None)
    if control:
        out["control"] = loss_divergence(_losses(control), _losses(torch), tol,
                                         partial_batches(torch))
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
            row["effect"] = effect_size(vals["lucid"], vals["torch"])
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


def _column_label(col: str, summary: dict) -> str:
    label = "control (PyTorch, +1 ULP init)" if col == CONTROL else _label(col)
    return label + (f" (mean ± std of n={summary['n']} seeds; each seed)"
                    if summary["n"] > 1 else "")


def _cell(summary: dict, key: str, spec: str) -> str:
    """A number, or over several seeds ``mean ± std (seed 0, seed 1, ...)``."""
    if key == "unreliable":
        return _timing_cell(summary[key])
    if not spec:
        return str(summary[key])
    text = _fmt(summary[key], spec)
    if key in summary["spread"]:
        std, vals = summary["spread"][key]
        text += f" ± {_fmt(std, spec)} (" + ", ".join(_fmt(v, spec) for v in vals) + ")"
    if key in TIMED and summary["unreliable"]:
        text += " (unreliable)"
    return text


def _versus(a: dict, b: dict, key: str, spec: str, kind: str | None) -> str:
    """``a`` against ``b``: difference (of the means), ratio, or equal/DIFFERENT."""
    x, y = a[key], b[key]
    if kind == "delta":
        extra = _delta(x, y, spec)
    elif kind == "ratio":
        extra = _ratio(x, y)
    elif kind == "equal":
        extra = "equal" if x == y else "DIFFERENT"
    else:
        extra = ""
    if key in TIMED and (a["unreliable"] or b["unreliable"]):
        extra += " (unreliable)"
    return extra


def summary_table(analysis: dict) -> list[str]:
    """The summary: one column per framework (mean ± std and every seed's value when there
    are several seeds), Lucid against PyTorch, and with ``--same-init`` the control run and
    the control against PyTorch."""
    fws = analysis["frameworks"]
    s = analysis["summary"]
    two = "lucid" in s and "torch" in s
    ctl = CONTROL in s and "torch" in s
    head = "| metric | " + " | ".join(_column_label(f, s[f]) for f in fws) + " |"
    if two:
        head += " Lucid vs PyTorch |"
    if ctl:
        head += f" {_column_label(CONTROL, s[CONTROL])} | control vs PyTorch |"
    lines = [head, "|---" * (len(fws) + 1 + two + 2 * ctl) + "|"]
    rows = [
        ("final train loss", "train_loss", ".4f", "delta"),
        ("final test loss", "test_loss", ".4f", "delta"),
        ("final train accuracy", "train_acc", ".4f", "delta"),
        ("final test accuracy", "test_acc", ".4f", "delta"),
        (f"batch-loss noise (std of batch loss - its centred mean of "
         f"{analysis['smoothing_window']} batches)", "noise", ".4f", "ratio"),
        ("epoch time, s (train + eval, mean per epoch; lower is better)", "epoch_time", ".2f",
         "ratio"),
        ("train time, s (mean per epoch; lower is better)", "train_time", ".2f", "ratio"),
        ("train images/s (all training images / all training time; higher is better)",
         "images_per_s", ".0f", "ratio"),
        ("timing conditions", "unreliable", "", None),
        ("peak memory, MiB (lower is better)", "peak_memory_mb",
         ".0f", "ratio"),
        ("parameters", "param_count", ",d", "equal"),
        ("epochs done", "epochs", "", None),
        ("status", "status", "", None),
    ]
    for title, key, spec, kind in rows:
        cells = [_cell(s[f], key, spec) for f in fws]
        line = f"| {title} | " + " | ".join(cells) + " |"
        if two:
            line += f" {_versus(s['lucid'], s['torch'], key, spec, kind)} |"
        if ctl:
            line += (f" {_cell(s[CONTROL], key, spec)} |"
                     f" {_versus(s[CONTROL], s['torch'], key, spec, kind)} |")
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
        "| pair | first batch above tolerance | difference at batch 1 | largest difference "
        "(full batches) | largest at a partial last batch |",
        "|---|---|---|---|---|",
        f"| Lucid vs PyTorch | {first(fw)} | {_fmt(fw['first_diff'], '.2e')} | "
        f"{_fmt(fw['max_diff'], '.2e')} | {_partial_cell(fw)} |",
    ]
    if ctl:
        lines.append(f"| control: PyTorch vs PyTorch with every initial weight one float32 ULP "
                     f"up | {first(ctl)} | {_fmt(ctl['first_diff'], '.2e')} | "
                     f"{_fmt(ctl['max_diff'], '.2e')} | {_partial_cell(ctl)} |")
    if fw.get("partial"):
        listed = ", ".join(f"batch {b} ({n} images)" for b, n in fw["partial"].items())
        lines += ["", f"Partial last batches ({listed}) average their loss over fewer images, "
                  "so one image moves it more: they are left out of the largest difference and "
                  "shown in their own column."]
        lines += ["", "The control shows how fast float32 training amplifies a difference of one "
                  "rounding step: where Lucid departs from PyTorch no earlier than the control "
                  "does, the departure is the chaos of training, not a framework error."]
    return lines + [""]


def _trajectory_section(analysis: dict) -> list[str]:
    t = analysis.get("trajectory")
    if not t:
        return []
    names = ", ".join(f"`{c}` ({trajectory.CONTROL_INITS.get(c, c)})" for c in t["controls"])
    lines = [
        "## Trajectory check", "",
        f"PyTorch, Lucid from PyTorch's initial weights, and {len(t['controls'])} controls "
        f"(PyTorch from the same weights moved one float32 ULP: {names}) trained on the same "
        f"{t['batches']} batches. Divergence of a run: |loss - PyTorch's loss| / max(1, "
        "|PyTorch's loss|) per batch. A batch of Lucid's is inside the band when its "
        f"divergence is at most {t['margin']:g} x the highest control's, or below "
        f"{t['floor']:g}; a phase is followed when {100 * t['share_needed']:.0f}% of its "
        "batches are inside.", "",
        "| phase | batches | inside the band | followed |", "|---|---|---|---|",
    ]
    for name in ("growth", "plateau"):
        p = t[name]
        if p:
            lines.append(f"| {name} | {p['first']}-{p['last']} | {p['inside']}/{p['batches']} "
                         f"({100 * p['share']:.0f}%) | {'yes' if p['followed'] else 'NO'} |")
    level = t["plateau_level"]
    lines += ["", (f"The controls level off at about {level:.2e} from batch "
                   f"{t['plateau_start']}: the growth phase is where a framework difference "
                   f"can show, so the check speaks for the first {t['speaks_for']} steps."
                   if t["plateau"] else
                   f"The controls do not level off within {t['batches']} batches (their "
                   f"median divergence over the last half is {_fmt(level, '.2e')}): the whole "
                   f"run is the growth phase, and the check speaks for all {t['batches']} "
                   "steps."),
              "", trajectory.verdict(t) + ".", ""]
    return lines


def _amount(metric: str, v: float) -> str:
    """A difference in the metric's units: accuracies in percentage points."""
    if "acc" in metric:
        pts = 100.0 * v
        return (f"{pts:.1f}" if abs(pts) >= 1 else f"{pts:.2g}") + " points"
    return f"{v:.2g}"


def effect_words(metric: str, w, e) -> str:
    """The Welch test and effect size of one metric in words."""
    if e is None or not math.isfinite(e.detectable) or not math.isfinite(w.p):
        return f"{metric}: no test (fewer than two finished runs per framework, or no spread)"
    seeds = (f"{e.n_a} seeds" if e.n_a == e.n_b
             else f"{e.n_b} PyTorch and {e.n_a} Lucid seeds")
    ci = (f"95% CI of Lucid - PyTorch {_signed(metric, e.ci_low)} to "
          f"{_signed(metric, e.ci_high)}")
    if w.p < 0.05:
        way = "higher" if e.diff > 0 else "lower"
        return (f"{metric}: Lucid's mean is {way} by {_amount(metric, abs(e.diff))} "
                f"(p = {w.p:.3g}; {ci}), a difference {seeds} can detect")
    return (f"{metric}: no detectable difference (p = {w.p:.2f}; {ci}); with {seeds} a gap "
            f"below {_amount(metric, e.detectable)} cannot be ruled out (the smallest difference "
            "detected with power 0.8 at alpha 0.05, two-sided)")


def _signed(metric: str, v: float) -> str:
    text = _amount(metric, v)
    return text if text.startswith("-") else "+" + text


def _partial_cell(d: dict) -> str:
    return _fmt(d.get("partial_max_diff"), ".2e") if d.get("partial") else "none"


def _seed_section(analysis: dict) -> list[str]:
    st = analysis.get("seeds")
    if not st:
        return []
    fws = [f for f in analysis["frameworks"]]
    ns = ", ".join(f"{_label(f)} {st['n'][f]}" for f in fws)
    lines = ["## Seeds", "", f"Runs per framework: {ns}. Mean ± sample std of the final "
             "values; Welch's t-test (two-sided) of Lucid's mean against PyTorch's, the 95% "
             "confidence interval of the difference of the means (Welch-Satterthwaite df, "
             "Student's t quantile), and the smallest difference these seeds detect with "
             "power 0.8 at alpha 0.05 ((t_0.975 + t_0.8) x standard error).", "",
             "| metric | " + " | ".join(_label(f) for f in fws)
             + " | t | df | p | Lucid - PyTorch | 95% CI | detectable (power 0.8) |",
             "|---" * (len(fws) + 7) + "|"]
    words = []
    for metric, row in st["metrics"].items():
        cells = [f"{_fmt(row[f][0])} ± {_fmt(row[f][1])}" for f in fws]
        w, e = row.get("welch"), row.get("effect")
        tail = (f"{_fmt(w.t, '.3f')} | {_fmt(w.df, '.2f')} | {_fmt(w.p, '.4f')}" if w
                else "n/a | n/a | n/a")
        if e:
            tail += (f" | {_fmt(e.diff, '+.4f')} | [{_fmt(e.ci_low, '+.4f')}, "
                     f"{_fmt(e.ci_high, '+.4f')}] | {_fmt(e.detectable, '.4f')}")
            words.append(f"- {effect_words(metric, w, e)}.")
        else:
            tail += " | n/a | n/a | n/a"
        lines.append(f"| {metric} | " + " | ".join(cells) + f" | {tail} |")
    return lines + [""] + words + [""]


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
    lines += _memory_lines(analysis)
    data = next(iter(analysis["primary"].values())).get("data") or {}
    if data:
        cfg = next(iter(analysis["primary"].values()))["config"]
        lines.append(f"- Data: {data.get('source')}, train "
                     f"{_used(data.get('train'), cfg.get('subset'))}, test "
                     f"{_used(data.get('test'), cfg.get('test_subset'))}, train transform "
                     f"{_short_floats(data.get('train_transform'))}, augmentation "
                     f"{_short_floats(data.get('augmentation'))}")
    return lines + [""]


def _used(shape, subset) -> str:
    """The array shape a run trained on: ``[512, 3, 32, 32] (subset of 50000)``."""
    if not shape:
        return str(shape)
    if subset and subset < shape[0]:
        return f"{[subset, *shape[1:]]} (first {subset} of {shape[0]})"
    return str(list(shape))


_LONG_FLOAT = re.compile(r"-?\d+\.\d{5,}(?:[eE][-+]?\d+)?")


def _short_floats(text):
    """Floats with more than 4 decimals rounded to 4 significant digits (0.4914, not
    0.49140000343322754)."""
    if not isinstance(text, str):
        return text
    return _LONG_FLOAT.sub(lambda m: format(float(m.group()), ".4g"), text)


def _run_name(h) -> str:
    name = "control (PyTorch, +1 ULP init)" if h.get("role") == CONTROL else _label(h["framework"])
    return name + (f" seed {h['seed_index']}" if h.get("seed_index") else "")


def _memory_lines(analysis: dict) -> list[str]:
    """How each run's peak memory was measured: the method, and in which process."""
    lines = ["- Peak memory, per run:"]
    for runs in analysis["columns"].values():
        for h in runs:
            method = h.get("peak_memory_method") or "method not recorded"
            proc = (h.get("environment") or {}).get("process")
            where = (f"in its own worker process (PID {proc.get('pid', '?')})" if proc else
                     "in a process shared with the other runs, so it includes every library "
                     "and run loaded there before it")
            lines.append(f"  - {_run_name(h)}: {_fmt(h.get('peak_memory_mb'), ',.0f')} MiB, "
                         f"{method}, {where}")
    return lines


def markdown(analysis: dict, figures: list[str]) -> str:
    fws = analysis["frameworks"]
    lines = [f"# {analysis['experiment']}: " + " vs ".join(_label(f) for f in fws), ""]
    for fw, h in analysis["primary"].items():
        if h.get("status") != "finished":
            lines.append(f"> **{_label(fw)}: {h.get('status')}** - {h.get('message') or ''}")
    lines += ([""] if lines[-1] else []) + ["## Verdict", ""]
    lines += [f"- {v}" for v in verdicts.verdict_lines(analysis)]
    lines += ["", "## Summary", ""] + summary_table(analysis)
    noise_w = analysis["smoothing_window"]
    lines += ["", f"Batch-loss noise: std of (batch loss - its centred moving average over "
              f"{noise_w} batches), the window of the smoothed curve in the picture. "
              "Times are wall-clock; the ratio column divides Lucid's "
              "figure by PyTorch's (losses and accuracies: the difference; over several seeds, of "
              "the means)."]
    lines += _timing_notes(analysis) + [""]
    lines += _config_section(analysis) + [""]
    lines += _batch_section(analysis)
    lines += _trajectory_section(analysis)
    lines += _divergence_section(analysis)
    lines += _seed_section(analysis)
    lines += scaling_section(analysis)
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
