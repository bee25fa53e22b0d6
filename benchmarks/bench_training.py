"""Training benchmark: Lucid against PyTorch on whole training steps, with targets.

A driver over ``lucid-compare bench`` (``lucid.compare.bench.run_bench``), which times each
framework in a fresh process on a random batch of an experiment's shape, after warm-up,
as medians (forward, backward, optimizer step, and whole steps ending with the loss and
accuracy read back), with the same thread count and the same allocator settings for both
(``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` raised unless already set), and
records each worker's memory (after the model is built, and the peak), the process CPU
time of its measured loops and the load average. With ``--rounds`` above 1 every case is
run that many times, alternating which framework goes first, and the medians over rounds
are reported. Cases:

- ResNet-18 (CIFAR stem), Adam, training step, batch 128 and batch 32;
- ResNet-18 evaluation forward under ``no_grad``, batch 128;
- LeNet-5 training step on MNIST shapes, batch 128, with 10x the warm-up and measured
  steps (a step takes about 10 ms);
- peak resident memory of the ResNet-18 batch-128 training worker, which runs
  ``2 * (warmup + steps)`` training steps (20 by default).

Usage: python benchmarks/bench_training.py [--out bench-results/bench_training.json]
       [--threads N] [--rounds R] [--cases a,b] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

FRAMEWORKS = ("lucid", "torch")
# name: (experiment, batch, eval only, steps factor): a LeNet-5 step takes about 10 ms, so
# its warm-up and measured steps are 10x the others' (8 steps were 80 ms, and one
# interruption on a shared machine moved the median)
CASES = {
    "resnet18_train_b128": ("resnet18-cifar10", 128, False, 1),
    "resnet18_train_b32": ("resnet18-cifar10", 32, False, 1),
    "resnet18_eval_b128": ("resnet18-cifar10", 128, True, 1),
    "lenet5_train_b128": ("lenet5-mnist", 128, False, 10),
}
# name: (case, measured figure, largest Lucid / PyTorch ratio allowed): at or ahead of
# PyTorch on the same CPU
TARGETS = {
    "resnet18_train_b128": ("resnet18_train_b128", "step", 1.0),
    "resnet18_train_b32": ("resnet18_train_b32", "step", 1.0),
    "resnet18_eval_b128": ("resnet18_eval_b128", "forward", 1.0),
    "lenet5_train_b128": ("lenet5_train_b128", "step", 1.0),
    "resnet18_peak_memory_b128": ("resnet18_train_b128", "peak_memory_mb", 1.0),
}


def run_case(experiment: str, batch: int, eval_only: bool, threads: int, warmup: int,
             steps: int, rounds: int) -> dict:
    """Both frameworks, one case, ``rounds`` rounds, through ``lucid.compare.bench``."""
    from lucid.compare.bench import report_path, run_bench

    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        args = argparse.Namespace(
            experiment=experiment, batch_size=batch, steps=steps, warmup=warmup,
            eval=eval_only, frameworks=list(FRAMEWORKS), threads=threads, seed=0,
            lucid_device="cpu", torch_device="cpu", rounds=rounds, out=tmp,
        )
        run_bench(args)
        return json.loads(report_path(tmp, experiment, batch, eval_only).read_text())


def main() -> int:
    p = common.parser(__doc__.splitlines()[0], "bench-results/bench_training.json")
    p.add_argument("--rounds", type=int, default=1, help="runs of every case (default 1)")
    p.add_argument("--cases", default=",".join(CASES),
                   help=f"comma-separated subset of: {', '.join(CASES)}")
    a = p.parse_args()
    threads = a.threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                            else os.cpu_count() or 1)
    warmup, steps = (1, 2) if a.quick else (2, 8)
    cases = [c.strip() for c in a.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        p.error(f"unknown case(s) {unknown}; valid: {', '.join(CASES)}")
    if a.rounds < 1:
        p.error("--rounds must be at least 1")

    results, table, malloc = {}, [], {}
    for case in cases:
        experiment, batch, eval_only, factor = CASES[case]
        rep = run_case(experiment, batch, eval_only, threads, warmup * factor, steps * factor,
                       a.rounds)
        malloc = rep["malloc"]
        lu, to = rep["results"]["lucid"], rep["results"]["torch"]
        results[case] = {"experiment": experiment, "batch_size": batch, "eval": eval_only,
                         "warmup": warmup * factor, "steps": steps * factor,
                         "orders": rep["orders"], "lucid": lu, "torch": to,
                         "ratios": rep["ratios"]}
        rat = rep["ratios"]
        for ph in ("forward",) if eval_only else ("forward", "backward", "optimizer", "step"):
            table.append((f"{case} {ph}", lu["median_s"][ph] * 1e3, to["median_s"][ph] * 1e3,
                          rat[ph], "ms"))
        if not eval_only:
            for key, label in (("peak_memory_mb", "peak memory"),
                               ("memory_after_build_mb", "memory after build"),
                               ("loop_memory_increase_mb", "loop memory increase")):
                table.append((f"{case} {label}", lu[key], to[key], rat.get(key), "MiB"))

    targets = {}
    for name, (case, figure, limit) in TARGETS.items():
        if case in results:
            value = results[case]["ratios"].get(figure)
            targets[name] = {"figure": figure, "ratio": value, "limit": limit,
                             "met": value is not None and value <= limit}

    path = ("MLX ops (LUCID_NATIVE=0)" if os.environ.get("LUCID_NATIVE", "") == "0"
            else "native kernels where built")
    print(f"\nLucid ({path}) vs PyTorch, {threads} thread(s), {a.rounds} round(s), "
          f"{warmup} warm-up + {steps} measured steps"
          + "".join(f" ({CASES[c][3]}x for {c})" for c in cases if CASES[c][3] != 1)
          + ", malloc: "
          + ", ".join(f"{k}={v}" for k, v in malloc.items()))
    print(f"{'':40s} {'Lucid':>10s} {'PyTorch':>10s} {'ratio':>7s}")
    for label, lu_v, to_v, rat, unit in table:
        print(f"{label:40s} {lu_v:8.1f}{unit:>3s} {to_v:8.1f}{unit:>3s} "
              f"{rat if rat is not None else float('nan'):7.2f}")
    print("targets (Lucid / PyTorch):")
    for name, t in targets.items():
        shown = f"{t['ratio']:.2f}" if t["ratio"] is not None else "n/a"
        print(f"  {name:30s} {shown} <= {t['limit']:.2f}: {'met' if t['met'] else 'NOT met'}")

    env = common.environment(("numpy", "torch", "lucid"))
    out = common.write_json(a.out, {
        "benchmark": "training", "lucid_path": path, "threads": threads, "rounds": a.rounds,
        "warmup": warmup,
        "steps": steps, "malloc": malloc, "environment": env, "results": results,
        "targets": targets,
    })
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
