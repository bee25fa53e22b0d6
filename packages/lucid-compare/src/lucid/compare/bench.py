"""``lucid-compare bench``: the time of a training step in each framework.

Each framework is measured in its own fresh process (``python -m lucid.compare.bench
--worker FRAMEWORK ...``) with the same number of threads (set through the frameworks'
APIs and ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``), on one random batch of the
experiment's shape, after ``--warmup`` steps. Reported figures are medians over
``--steps`` steps:

- ``forward``, ``backward``, ``optimizer``: each phase timed alone, with a synchronisation
  (Lucid: ``mx.eval`` of the phase's results; PyTorch on CUDA: ``synchronize``) after it;
- ``step``: whole training steps timed without synchronising between phases (a lazy
  framework may overlap or fuse them), as ``train_step`` runs them in ``lucid-compare run``;
- with ``--eval``: ``forward`` only, in eval mode under ``no_grad``.

Also: images/s (batch / median step), the worker's peak resident memory (``ru_maxrss`` of
its own process), its threads and the ``MALLOC_*`` / ``*_NUM_THREADS`` environment.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from .errors import EXIT_OK, CompareError, FrameworkMissingError
from .history import write_json_atomic

PHASES = ("forward", "backward", "optimizer", "step")
LABELS = {"lucid": "Lucid", "torch": "PyTorch"}


def measure(framework: str, experiment: str, batch_size: int, steps: int, warmup: int,
            eval_only: bool, threads: int, seed: int, device: str) -> dict:
    """Time one framework in this process; returns medians in seconds and the environment."""
    from .backends import get_backend
    from .environment import machine
    from .experiments import get_experiment
    from .runner import seed_all

    exp = get_experiment(experiment)
    cfg = replace(exp.defaults, batch_size=batch_size, threads=threads, device=device,
                  seed=seed).resolved()
    seed_all(seed, (framework,))
    b = get_backend(framework)(cfg, exp.num_classes, exp.input_shape)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch_size, *exp.input_shape)).astype(np.float32)
    y = rng.integers(0, exp.num_classes, batch_size).astype(np.int64)
    times: dict[str, list[float]] = {p: [] for p in PHASES}
    clock = time.perf_counter

    if eval_only:
        b.train_mode(False)
        for i in range(warmup + steps):
            t0 = clock()
            with b.no_grad():
                xb, yb = b.to_device(x, y)
                logits, loss = b.forward(xb, yb)
                b.sync(logits, loss)
            if i >= warmup:
                times["forward"].append(clock() - t0)
        times["step"] = list(times["forward"])
    else:
        for i in range(warmup + steps):
            t0 = clock()
            xb, yb = b.to_device(x, y)
            b.zero_grad()
            logits, loss = b.forward(xb, yb)
            b.sync(logits, loss)
            t1 = clock()
            b.backward(loss)
            b.sync_gradients()
            t2 = clock()
            b.optimizer_step()
            b.sync_parameters()
            t3 = clock()
            if i >= warmup:
                times["forward"].append(t1 - t0)
                times["backward"].append(t2 - t1)
                times["optimizer"].append(t3 - t2)
        for i in range(warmup + steps):
            t0 = clock()
            b.train_step(x, y)
            if i >= warmup:
                times["step"].append(clock() - t0)

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = rss / 2**20 if sys.platform == "darwin" else rss / 1024
    med = {p: statistics.median(v) if v else None for p, v in times.items()}
    return {
        "framework": framework,
        "median_s": med,
        "min_s": {p: min(v) if v else None for p, v in times.items()},
        "images_per_s": batch_size / med["step"] if med["step"] else None,
        "peak_memory_mb": peak_mb,
        "param_count": b.count_parameters(),
        "environment": {"machine": machine(), "framework": b.environment()},
    }


def _worker_main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m lucid.compare.bench")
    p.add_argument("--worker", required=True, choices=tuple(LABELS))
    p.add_argument("--experiment", required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--warmup", type=int, required=True)
    p.add_argument("--eval", action="store_true")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json-out", required=True)
    a = p.parse_args(argv)
    try:
        res = measure(a.worker, a.experiment, a.batch_size, a.steps, a.warmup, a.eval,
                      a.threads, a.seed, a.device)
    except CompareError as err:
        print(f"bench worker: {err}", file=sys.stderr)
        return err.exit_code
    write_json_atomic(a.json_out, res)
    return EXIT_OK


def _run_worker(fw: str, args, batch: int, threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    device = (args.lucid_device or "cpu") if fw == "lucid" else (args.torch_device or "cpu")
    with tempfile.TemporaryDirectory(prefix="lucid-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "lucid.compare.bench", "--worker", fw,
               "--experiment", args.experiment, "--batch-size", str(batch),
               "--steps", str(args.steps), "--warmup", str(args.warmup),
               "--threads", str(threads), "--seed", str(args.seed), "--device", device,
               "--json-out", str(out)]
        if args.eval:
            cmd.append("--eval")
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            if proc.returncode == FrameworkMissingError.exit_code:
                raise FrameworkMissingError("\n".join(tail))
            raise CompareError(f"bench: the {LABELS[fw]} worker failed (exit {proc.returncode}):"
                               "\n" + "\n".join(tail))
        return json.loads(out.read_text())


def ratios(results: dict) -> dict:
    """Lucid / PyTorch for every phase, images/s and peak memory (None where undefined)."""
    if "lucid" not in results or "torch" not in results:
        return {}
    lu, to = results["lucid"], results["torch"]
    out = {}
    for p in PHASES:
        a, b = lu["median_s"].get(p), to["median_s"].get(p)
        out[p] = a / b if a and b else None
    for key in ("images_per_s", "peak_memory_mb"):
        a, b = lu.get(key), to.get(key)
        out[key] = a / b if a and b else None
    return out


def table(report: dict) -> list[str]:
    res, rat = report["results"], report["ratios"]
    fws = list(res)
    head = "| | " + " | ".join(LABELS[f] for f in fws) + (" | Lucid/PyTorch |" if rat else " |")
    lines = [head, "|---" * (len(fws) + 1 + bool(rat)) + "|"]
    phases = ("forward",) if report["eval"] else PHASES
    for p in phases:
        cells = [f"{res[f]['median_s'][p] * 1e3:.1f} ms" if res[f]['median_s'].get(p) else "n/a"
                 for f in fws]
        tail = f" {rat[p]:.2f}x |" if rat and rat.get(p) else (" n/a |" if rat else "")
        lines.append(f"| {p} (median) | " + " | ".join(cells) + " |" + tail)
    for key, title, fmt in (("images_per_s", "images/s", "{:.0f}"),
                            ("peak_memory_mb", "peak memory, MiB", "{:.0f}")):
        cells = [fmt.format(res[f][key]) if res[f].get(key) else "n/a" for f in fws]
        tail = f" {rat[key]:.2f}x |" if rat and rat.get(key) else (" n/a |" if rat else "")
        lines.append(f"| {title} | " + " | ".join(cells) + " |" + tail)
    return lines


def run_bench(args) -> int:
    from .environment import thread_env
    from .experiments import get_experiment

    exp = get_experiment(args.experiment)
    batch = args.batch_size or exp.defaults.batch_size
    threads = args.threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                               else os.cpu_count() or 1)
    mode = "forward only (eval, no_grad)" if args.eval else "training step"
    print(f"bench {args.experiment}: {mode}, batch {batch}, {args.warmup} warm-up + "
          f"{args.steps} measured steps, {threads} thread(s), each framework in its own process")
    results = {}
    for fw in args.frameworks:
        results[fw] = _run_worker(fw, args, batch, threads)
    report = {
        "experiment": args.experiment, "batch_size": batch, "steps": args.steps,
        "warmup": args.warmup, "eval": bool(args.eval), "threads": threads,
        "env": thread_env(), "results": results, "ratios": ratios(results),
    }
    print("\n".join(table(report)))
    print(f"threads: {threads}; environment: {report['env'] or '{}'}")
    out = Path(args.out) / f"bench_{args.experiment}{'_eval' if args.eval else ''}.json"
    write_json_atomic(out, report)
    print(f"written: {out}")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(_worker_main())
