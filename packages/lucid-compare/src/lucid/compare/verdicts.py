"""The three verdict lines at the top of ``report.md`` and of the terminal summary.

- **Trajectory**: does Lucid, from PyTorch's initial weights, follow PyTorch's per-batch
  loss within the band of the one-ULP controls (``trajectory.py``)?
- **Accuracy**: the final test accuracies' difference, and whether it is inside the
  run-to-run spread (Welch's test over ``--seeds N``; one seed gives no test).
- **Speed**: Lucid's training time as a multiple of PyTorch's (each framework timed in a
  process of its own), or why the times are not reliable.
"""

from __future__ import annotations

import math

from . import trajectory


def trajectory_line(analysis: dict) -> str:
    t = analysis.get("trajectory")
    if t:
        return "Trajectory: " + trajectory.verdict(t) + "."
    div = analysis.get("divergence")
    if div:  # --same-init without the check (older histories, --trajectory-steps 0)
        fw, ctl = div["framework"], div.get("control")
        first = fw["first_exceeding"]
        text = (f"from PyTorch's initial weights Lucid's per-batch loss stays within "
                f"{div['tolerance']:g} of PyTorch's over all {fw['batches']} batches"
                if first is None else
                f"from PyTorch's initial weights Lucid's per-batch loss first differs by more "
                f"than {div['tolerance']:g} at batch {first}")
        if ctl:
            c = ctl["first_exceeding"]
            text += (f"; the one-ULP control {'never does' if c is None else f'does at batch {c}'}")
        return f"Trajectory: {text} (no band of controls: run without --trajectory-steps 0)."
    return ("Trajectory: not checked (it needs both frameworks and --trajectory-steps above 0).")


def accuracy_line(analysis: dict) -> str:
    from .report import effect_words  # report imports this module

    s = analysis["summary"]
    if "lucid" not in s or "torch" not in s:
        return "Accuracy: not compared (one framework)."
    a, b = s["lucid"].get("test_acc"), s["torch"].get("test_acc")
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return "Accuracy: not compared (a run has no finished epoch)."
    head = (f"Accuracy: Lucid's final test accuracy {a:.4f} vs PyTorch's {b:.4f} "
            f"({100 * (a - b):+.2f} points")
    seeds = analysis.get("seeds")
    row = (seeds or {}).get("metrics", {}).get("test_acc") or {}
    if row.get("effect") is not None:
        words = effect_words("test accuracy", row["welch"], row["effect"])
        return f"{head}, means over seeds); {words.split(': ', 1)[1]}."
    return (f"{head}); one seed per framework, so no test of whether that is inside "
            "run-to-run spread: `--seeds N` (N >= 2) gives one.")


def speed_line(analysis: dict) -> str:
    s = analysis["summary"]
    if "lucid" not in s or "torch" not in s:
        return "Speed: not compared (one framework)."
    a, b = s["lucid"].get("train_time"), s["torch"].get("train_time")
    if not a or not b or not (math.isfinite(a) and math.isfinite(b)):
        return "Speed: not measured (no finished epoch)."
    why = [f"{name}: {'; '.join(s[fw]['unreliable'])}"
           for fw, name in (("lucid", "Lucid"), ("torch", "PyTorch")) if s[fw]["unreliable"]]
    if why:
        return (f"Speed: not measured reliably (Lucid/PyTorch train time {a / b:.2f}x, but "
                + "; ".join(why) + ").")
    way = "faster than" if a < b else "slower than" if a > b else "as fast as"
    return (f"Speed: Lucid's training time is {a / b:.2f}x PyTorch's ({way} PyTorch; mean "
            f"train time per epoch {a:.2f} s vs {b:.2f} s, each framework in a process of its "
            "own).")


def verdict_lines(analysis: dict) -> list[str]:
    return [trajectory_line(analysis), accuracy_line(analysis), speed_line(analysis)]
