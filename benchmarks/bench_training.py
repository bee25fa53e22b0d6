"""Training benchmark: Lucid against PyTorch on whole training steps, with targets.

A driver over ``lucid-compare bench`` (``lucid.compare.bench``), which times one framework
per fresh process on a random batch of an experiment's shape, after warm-up, as medians
(forward, backward, optimizer step, and whole steps ending with the loss and accuracy read
back), and records each worker's peak resident memory (``ru_maxrss``). Cases:

- ResNet-18 (CIFAR stem), Adam, training step, batch 128 and batch 32;
- ResNet-18 evaluation forward under ``no_grad``, batch 128;
- LeNet-5 training step on MNIST shapes, batch 128;
- peak resident memory of the ResNet-18 batch-128 training worker, which runs
  ``2 * (warmup + steps)`` training steps (20 by default).

Both frameworks get the same thread count and the same allocator settings: glibc's default
malloc returns large blocks to the system and page-faults them again on every step, which
slows PyTorch's large temporaries, so ``MALLOC_MMAP_THRESHOLD_`` and
``MALLOC_TRIM_THRESHOLD_`` are raised (unless already set) for both workers and recorded.
Each round runs every case with the frameworks one after the other, alternating which goes
first; with ``--rounds`` above 1 the reported time is the median over rounds. The workers'
process CPU time and the load average are recorded to judge runs on a shared machine.

Usage: python benchmarks/bench_training.py [--out bench-results/bench_training.json]
       [--threads N] [--rounds R] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

# Raised so that neither framework's large temporaries are unmapped and faulted in again.
MALLOC_SETTINGS = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "4294967296"}
FRAMEWORKS = ("lucid", "torch")
# name: (experiment, batch, eval only)
CASES = {
    "resnet18_train_b128": ("resnet18-cifar10", 128, False),
    "resnet18_train_b32": ("resnet18-cifar10", 32, False),
    "resnet18_eval_b128": ("resnet18-cifar10", 128, True),
    "lenet5_train_b128": ("lenet5-mnist", 128, False),
}
# name: (case, measured figure, largest Lucid / PyTorch ratio allowed)
TARGETS = {
    "resnet18_train_b128": ("resnet18_train_b128", "step", 1.25),
    "resnet18_train_b32": ("resnet18_train_b32", "step", 1.25),
    "resnet18_eval_b128": ("resnet18_eval_b128", "forward", 1.0),
    "lenet5_train_b128": ("lenet5_train_b128", "step", 1.5),
    "resnet18_peak_memory_b128": ("resnet18_train_b128", "peak_memory_mb", 1.5),
}


def run_worker(framework: str, experiment: str, batch: int, eval_only: bool, threads: int,
               warmup: int, steps: int) -> dict:
    """One framework, one case, through ``lucid.compare.bench``; adds the worker's CPU time."""
    from lucid.compare.bench import run_bench

    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        args = argparse.Namespace(
            experiment=experiment, batch_size=batch, steps=steps, warmup=warmup,
            eval=eval_only, frameworks=[framework], threads=threads, seed=0,
            lucid_device="cpu", torch_device="cpu", out=tmp,
        )
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall0 = time.perf_counter()
        run_bench(args)
        wall = time.perf_counter() - wall0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        name = f"bench_{experiment}{'_eval' if eval_only else ''}.json"
        report = json.loads((Path(tmp) / name).read_text())
    result = report["results"][framework]
    result["worker_wall_s"] = round(wall, 2)
    result["worker_cpu_s"] = round((cpu1.ru_utime + cpu1.ru_stime)
                                   - (cpu0.ru_utime + cpu0.ru_stime), 2)
    return result


def combine(rounds: list[dict]) -> dict:
    """Median over rounds of each phase's median, the largest peak memory, all raw rounds."""
    phases = rounds[0]["median_s"].keys()
    med = {p: (statistics.median(r["median_s"][p] for r in rounds)
               if rounds[0]["median_s"][p] is not None else None) for p in phases}
    return {
        "median_s": med,
        "peak_memory_mb": max(r["peak_memory_mb"] for r in rounds),
        "rounds": rounds,
    }


def ratio(lucid_value, torch_value):
    return round(lucid_value / torch_value, 3) if lucid_value and torch_value else None


def main() -> int:
    p = common.parser(__doc__.splitlines()[0], "bench-results/bench_training.json")
    p.add_argument("--rounds", type=int, default=1, help="runs of every case (default 1)")
    p.add_argument("--cases", default=",".join(CASES),
                   help=f"comma-separated subset of: {', '.join(CASES)}")
    a = p.parse_args()
    for key, value in MALLOC_SETTINGS.items():
        os.environ.setdefault(key, value)  # inherited by both frameworks' workers
    threads = a.threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                            else os.cpu_count() or 1)
    warmup, steps = (1, 2) if a.quick else (2, 8)
    cases = [c.strip() for c in a.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        p.error(f"unknown case(s) {unknown}; valid: {', '.join(CASES)}")

    raw: dict[str, dict[str, list]] = {c: {fw: [] for fw in FRAMEWORKS} for c in cases}
    for r in range(a.rounds):
        for i, case in enumerate(cases):
            experiment, batch, eval_only = CASES[case]
            order = FRAMEWORKS if (r + i) % 2 == 0 else FRAMEWORKS[::-1]
            for fw in order:
                load = os.getloadavg()[0]
                res = run_worker(fw, experiment, batch, eval_only, threads, warmup, steps)
                res["loadavg_before"] = round(load, 2)
                raw[case][fw].append(res)

    results, table = {}, []
    for case in cases:
        combined = {fw: combine(raw[case][fw]) for fw in FRAMEWORKS}
        lu, to = combined["lucid"], combined["torch"]
        ratios = {ph: ratio(lu["median_s"][ph], to["median_s"][ph]) for ph in lu["median_s"]}
        ratios["peak_memory_mb"] = ratio(lu["peak_memory_mb"], to["peak_memory_mb"])
        experiment, batch, eval_only = CASES[case]
        results[case] = {"experiment": experiment, "batch_size": batch, "eval": eval_only,
                         **combined, "ratios": ratios}
        for ph in ("forward",) if eval_only else ("forward", "backward", "optimizer", "step"):
            table.append((f"{case} {ph}", lu["median_s"][ph] * 1e3, to["median_s"][ph] * 1e3,
                          ratios[ph], "ms"))
        if not eval_only:
            table.append((f"{case} peak memory", lu["peak_memory_mb"], to["peak_memory_mb"],
                          ratios["peak_memory_mb"], "MiB"))

    targets = {}
    for name, (case, figure, limit) in TARGETS.items():
        if case in results:
            value = results[case]["ratios"][figure]
            targets[name] = {"figure": figure, "ratio": value, "limit": limit,
                             "met": value is not None and value <= limit}

    print(f"\nLucid vs PyTorch, {threads} thread(s), {a.rounds} round(s), "
          f"{warmup} warm-up + {steps} measured steps, malloc: "
          + ", ".join(f"{k}={os.environ[k]}" for k in MALLOC_SETTINGS))
    print(f"{'':34s} {'Lucid':>10s} {'PyTorch':>10s} {'ratio':>7s}")
    for label, lu_v, to_v, rat, unit in table:
        print(f"{label:34s} {lu_v:8.1f}{unit:>3s} {to_v:8.1f}{unit:>3s} "
              f"{rat if rat is not None else float('nan'):7.2f}")
    print("targets (Lucid / PyTorch):")
    for name, t in targets.items():
        print(f"  {name:30s} {t['ratio']:.2f} <= {t['limit']:.2f}: "
              f"{'met' if t['met'] else 'NOT met'}")

    env = common.environment(("numpy", "torch", "lucid"))
    out = common.write_json(a.out, {
        "benchmark": "training", "threads": threads, "rounds": a.rounds, "warmup": warmup,
        "steps": steps, "environment": env, "results": results, "targets": targets,
    })
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
