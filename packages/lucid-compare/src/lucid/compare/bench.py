"""``lucid-compare bench``: the time of a training step in each framework.

Each framework is measured in its own fresh process (``lucid.compare.worker``, as every
run of ``lucid-compare run``; this process imports no framework) with the same number of
threads (set through the frameworks'
APIs and ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``/``MKL_NUM_THREADS``) and the same
allocator settings (``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` raised to
4 GiB unless already set: glibc's default returns large blocks to the system and
page-faults them in again on every step), on one random batch of the experiment's shape,
after ``--warmup`` steps. Each worker reports medians over ``--steps`` steps:

- ``forward``, ``backward``, ``optimizer``: each phase timed alone, with a synchronisation
  (Lucid: ``mx.eval`` of the phase's results; PyTorch on CUDA: ``synchronize``) after it;
- ``step``: whole training steps timed without synchronising between phases (a lazy
  framework may overlap or fuse them), as ``train_step`` runs them in ``lucid-compare run``;
- with ``--eval``: ``forward`` only, in eval mode under ``no_grad``.

With ``--rounds R`` every framework is measured ``R`` times, in a fresh process each time,
the order of the frameworks alternating from round to round; the reported figures are the
medians over rounds (each round's own figures are kept in the JSON).

Also: images/s (batch / median step); memory: the resident memory once the model is built
(before the first step), the peak of the measured loops and the peak of the whole worker
(``ru_maxrss``, framework import included); the process CPU time of each measured loop
(``time.process_time``) and its ratio to the loop's wall time; the load average at the
start and end of the measurement; the threads and the ``MALLOC_*`` / ``*_NUM_THREADS``
environment of the workers; each worker's measurement conditions (``conditions.Probe``) and,
per round, the reasons to distrust its times (``unreliable``, from ``conditions.assess``).
Written to ``OUT/bench_<experiment>_b<batch>[_eval].json``.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from .conditions import MALLOC_SETTINGS, assess, loadavg, usable_cpus, worker_env
from .errors import EXIT_OK, UsageError
from .history import write_json_atomic

PHASES = ("forward", "backward", "optimizer", "step")
LABELS = {"lucid": "Lucid", "torch": "PyTorch"}
#: figures of a worker's result that are medians over rounds
MEMORY_KEYS = ("peak_memory_mb", "memory_after_build_mb", "loop_peak_memory_mb",
               "loop_memory_increase_mb")


def report_path(out_dir, experiment: str, batch_size: int, eval_only: bool) -> Path:
    """Where ``run_bench`` writes its JSON: one file per experiment, batch size and mode."""
    return Path(out_dir) / f"bench_{experiment}_b{batch_size}{'_eval' if eval_only else ''}.json"


def _resident_mb() -> float | None:
    """The current resident memory (``VmRSS``) in MiB, None where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return None


class _Loop:
    """Wall and process CPU time of the measured iterations of one loop."""

    def __init__(self):
        self.wall = self.cpu = 0.0
        self._w0 = self._c0 = None

    def start(self):
        self._w0, self._c0 = time.perf_counter(), time.process_time()

    def stop(self):
        if self._w0 is not None:
            self.wall = time.perf_counter() - self._w0
            self.cpu = time.process_time() - self._c0

    def result(self) -> dict:
        return {"wall_s": self.wall, "cpu_s": self.cpu,
                "cpu_per_wall": self.cpu / self.wall if self.wall > 0 else None}


def measure(framework: str, experiment: str, batch_size: int, steps: int, warmup: int,
            eval_only: bool, threads: int, seed: int, device: str) -> dict:
    """Time one framework in this process; returns medians in seconds and the environment."""
    from .backends import get_backend, seed_all
    from .environment import METHOD_RUSAGE, machine, peak_memory_mb, reset_peak_memory
    from .experiments import get_experiment

    load_start = loadavg()
    exp = get_experiment(experiment)
    cfg = replace(exp.defaults, batch_size=batch_size, threads=threads, device=device,
                  seed=seed).resolved()
    seed_all(seed, (framework,))
    b = get_backend(framework)(cfg, exp.num_classes, exp.input_shape)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch_size, *exp.input_shape)).astype(np.float32)
    y = rng.integers(0, exp.num_classes, batch_size).astype(np.int64)
    b.sync_parameters()  # a lazy framework's parameters exist from here on
    # Memory once the model is built: the whole worker's peak so far (import included) and
    # its resident memory now; then the peak is reset where the OS allows, so that the
    # measured loops' own peak can be read at the end.
    peak_before = peak_memory_mb(METHOD_RUSAGE)
    after_build = _resident_mb()
    if after_build is None:
        after_build = peak_before
    method = reset_peak_memory()
    times: dict[str, list[float]] = {p: [] for p in PHASES}
    clock = time.perf_counter
    loops: dict[str, _Loop] = {}

    if eval_only:
        b.train_mode(False)
        loop = loops["forward"] = _Loop()
        for i in range(warmup + steps):
            if i == warmup:
                loop.start()
            t0 = clock()
            with b.no_grad():
                xb, yb = b.to_device(x, y)
                logits, loss = b.forward(xb, yb)
                b.sync(logits, loss)
            if i >= warmup:
                times["forward"].append(clock() - t0)
        loop.stop()
        times["step"] = list(times["forward"])
    else:
        loop = loops["phases"] = _Loop()
        for i in range(warmup + steps):
            if i == warmup:
                loop.start()
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
        loop.stop()
        loop = loops["step"] = _Loop()
        for i in range(warmup + steps):
            if i == warmup:
                loop.start()
            t0 = clock()
            b.train_step(x, y)
            if i >= warmup:
                times["step"].append(clock() - t0)
        loop.stop()

    loop_peak = peak_memory_mb(method)
    med = {p: statistics.median(v) if v else None for p, v in times.items()}
    return {
        "framework": framework,
        "median_s": med,
        "min_s": {p: min(v) if v else None for p, v in times.items()},
        "images_per_s": batch_size / med["step"] if med["step"] else None,
        "peak_memory_mb": max(peak_before, loop_peak),
        "memory_after_build_mb": after_build,
        "loop_peak_memory_mb": loop_peak,
        "loop_memory_increase_mb": loop_peak - after_build,
        "peak_memory_method": method,
        "cpu": {name: lp.result() for name, lp in loops.items()},
        "loadavg": {"start": load_start, "end": loadavg()},
        "param_count": b.count_parameters(),
        "environment": {"machine": machine(), "framework": b.environment()},
    }


def _run_worker(fw: str, args, batch: int, threads: int, env: dict) -> dict:
    from .worker import launch

    device = (args.lucid_device or "cpu") if fw == "lucid" else (args.torch_device or "cpu")
    task = {"task": "bench", "framework": fw,
            "args": {"experiment": args.experiment, "batch_size": batch, "steps": args.steps,
                     "warmup": args.warmup, "eval_only": bool(args.eval), "threads": threads,
                     "seed": args.seed, "device": device}}
    return launch(task, env)


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def combine(rounds: list[dict], batch_size: int) -> dict:
    """One framework's rounds as one result: medians over rounds of the time medians, the
    memory figures and the CPU time; the smallest time of any round; each round's load
    average; every round's own figures under ``rounds``."""
    first = rounds[0]
    med = {p: _median(r["median_s"].get(p) for r in rounds) for p in first["median_s"]}
    cpu = {loop: {k: _median(r["cpu"][loop][k] for r in rounds) for k in first["cpu"][loop]}
           for loop in first["cpu"]}
    kept = ("median_s", "min_s", "images_per_s", *MEMORY_KEYS, "cpu", "loadavg")
    return {
        "framework": first["framework"],
        "median_s": med,
        "min_s": {p: min((r["min_s"][p] for r in rounds if r["min_s"].get(p) is not None),
                         default=None) for p in first["min_s"]},
        "images_per_s": batch_size / med["step"] if med.get("step") else None,
        **{k: _median(r.get(k) for r in rounds) for k in MEMORY_KEYS},
        "peak_memory_method": first.get("peak_memory_method"),
        "cpu": cpu,
        "loadavg": [r.get("loadavg") for r in rounds],  # one per round
        "param_count": first.get("param_count"),
        "environment": first.get("environment"),
        "rounds": [{k: r.get(k) for k in kept} for r in rounds],
    }


def round_order(frameworks, round_index: int) -> list[str]:
    """The order of the frameworks in a round: as given in even rounds, reversed in odd."""
    fws = list(frameworks)
    return fws if round_index % 2 == 0 else fws[::-1]


def ratios(results: dict) -> dict:
    """Lucid / PyTorch for every phase, images/s and memory (None where undefined)."""
    if "lucid" not in results or "torch" not in results:
        return {}
    lu, to = results["lucid"], results["torch"]
    out = {}
    for p in PHASES:
        a, b = lu["median_s"].get(p), to["median_s"].get(p)
        out[p] = a / b if a and b else None
    for key in ("images_per_s", *MEMORY_KEYS):
        a, b = lu.get(key), to.get(key)
        out[key] = a / b if a and b else None
    return out


def _cpu_loop(result: dict) -> dict | None:
    cpu = result.get("cpu") or {}
    return cpu.get("step") or cpu.get("forward")


def _load1(result: dict) -> str:
    start = (result.get("loadavg") or {}).get("start")
    return f"{start[0]:.2f}" if start else "n/a"


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
        lines.append(f"| {p}, median (lower is better) | " + " | ".join(cells) + " |" + tail)
    rows = (("images_per_s", "images/s (batch / median step; higher is better)", "{:.0f}"),
            ("peak_memory_mb", "peak memory (whole worker), MiB (lower is better)", "{:.0f}"),
            ("memory_after_build_mb", "memory after model build, MiB", "{:.0f}"),
            ("loop_memory_increase_mb", "increase in measured loops, MiB", "{:.0f}"))
    for key, title, fmt in rows:
        cells = [fmt.format(res[f][key]) if res[f].get(key) is not None else "n/a" for f in fws]
        tail = f" {rat[key]:.2f}x |" if rat and rat.get(key) else (" n/a |" if rat else "")
        lines.append(f"| {title} | " + " | ".join(cells) + " |" + tail)
    loop = "forward" if report["eval"] else "step"
    cells = []
    for f in fws:
        c = _cpu_loop(res[f])
        cells.append(f"{c['cpu_s']:.2f} s / {c['cpu_per_wall']:.2f}"
                     if c and c.get("cpu_per_wall") is not None else "n/a")
    lines.append(f"| CPU time / CPU-to-wall, {loop} loop | " + " | ".join(cells) + " |"
                 + (" |" if rat else ""))
    return lines


def run_bench(args) -> int:
    from .backends import require
    from .environment import thread_env
    from .experiments import get_experiment

    exp = get_experiment(args.experiment)
    batch = args.batch_size or exp.defaults.batch_size
    rounds = getattr(args, "rounds", None) or 1
    for fw in args.frameworks:
        require(fw)
    if rounds < 1:
        raise UsageError(f"bench: --rounds must be at least 1, got {rounds}")
    threads = args.threads or usable_cpus()
    env = worker_env(threads)
    mode = "forward only (eval, no_grad)" if args.eval else "training step"
    print(f"bench {args.experiment}: {mode}, batch {batch}, {args.warmup} warm-up + "
          f"{args.steps} measured steps, {threads} thread(s), {rounds} round(s), "
          "each framework in its own process")
    raw: dict[str, list[dict]] = {fw: [] for fw in args.frameworks}
    orders = []
    for r in range(rounds):
        order = round_order(args.frameworks, r)
        orders.append(order)
        for fw in order:
            raw[fw].append(_run_worker(fw, args, batch, threads, env))
    results = {fw: combine(raw[fw], batch) for fw in args.frameworks}
    report = {
        "experiment": args.experiment, "batch_size": batch, "steps": args.steps,
        "warmup": args.warmup, "eval": bool(args.eval), "threads": threads,
        "rounds": rounds, "orders": orders,
        "malloc": {k: env[k] for k in MALLOC_SETTINGS},
        "env": {**thread_env(), **{k: v for k, v in env.items()
                                   if k.startswith("MALLOC_") or k.endswith("_NUM_THREADS")}},
        "results": results, "ratios": ratios(results),
        "unreliable": {fw: [assess(fw, r["environment"].get("process")) for r in raw[fw]]
                       for fw in args.frameworks},
    }
    print("\n".join(table(report)))
    loads = "; ".join(f"{LABELS[fw]} " + ", ".join(_load1(r) for r in results[fw]["rounds"])
                      for fw in results)
    print(f"threads: {threads}; worker environment: {report['env']}")
    print(f"1-min load average at each worker's start: {loads}")
    for fw, rounds_ in report["unreliable"].items():
        for i, why in enumerate(rounds_, 1):
            if why:
                print(f"{LABELS[fw]}, round {i}: times unreliable: {'; '.join(why)}")
    out = report_path(args.out, args.experiment, batch, args.eval)
    write_json_atomic(out, report)
    print(f"written: {out}")
    return EXIT_OK

