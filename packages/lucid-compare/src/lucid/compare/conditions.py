"""The conditions a worker process measured under, and whether its times can be trusted.

Every framework is timed in a worker process of its own (``lucid.compare.worker``), all
workers with the same environment (``worker_env``: ``*_NUM_THREADS`` and ``MALLOC_*``).
``Probe`` records, in the worker, what a reader needs to judge its times:

- ``pid``, ``parent_pid``; the ``mlx``/``lucid`` modules loaded (``modules``) and whether
  ``torch`` was (``torch_loaded``); the BLAS and OpenMP libraries mapped into the process
  (``libraries``, from ``/proc/self/maps``);
- ``threads`` (the framework's own count) and the thread/allocator environment (``env``);
- the load average at the worker's start and at the end (``loadavg_start``/``_end``);
  the part of the load at the start that the harness's own earlier workers left
  (``harness_load_start``, see ``residual_load``); the runnable tasks other than the
  worker at its start (``runnable_others_start``, the median of a few reads of
  ``/proc/loadavg``);
- over the timed part: wall and CPU time (``getrusage``, the worker's own children such as
  a compiler included) and their ratio ``cpu_per_wall``; the CPU time other processes spent on the usable CPUs, from
  ``/proc/stat`` (``others_cpu_s``, and ``others_cpu_per_wall``: how many CPUs they kept
  busy on average); the time the process's threads waited for a CPU while runnable
  (``run_queue_wait_s``, from ``/proc/self/task/*/schedstat``; its own threads count, so
  this is recorded, not judged).

``assess(framework, record)`` lists the reasons to distrust a worker's times (an empty list:
none seen): the other framework loaded in the process; more threads than usable CPUs; a
1-minute load average at the start, less what the harness's own earlier workers left,
above the usable CPUs minus the worker's threads (plus ``LOAD_SLACK``); other processes
that kept more CPUs busy during training than the worker's threads left free (plus
``OTHERS_SLACK``); a CPU-to-wall ratio under ``MIN_CPU_PER_WALL``. (A framework may leave threads idle in single-threaded ops, so
the CPU-to-wall ratio alone tells contention only when it is very low.)
"""

from __future__ import annotations

import math
import os
import re
import resource
import statistics
import sys
import time

from .environment import thread_env

#: set for every worker unless already in the environment (bytes; 4 GiB): glibc's default
#: returns large blocks to the system and page-faults them in again on every step
MALLOC_SETTINGS = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "4294967296"}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "LUCID_NUM_THREADS")
#: ``lucid`` modules that load no engine: the harness, the NumPy-only data packages, and
#: what ``import lucid`` itself runs (stdlib only; MLX and OpenBLAS load on first use)
ENGINE_FREE = ("lucid.compare", "lucid.data", "lucid.datasets", "lucid._blas", "lucid._elf")
LIBRARY = re.compile(r"/lib(openblas|scipy_openblas|mkl|gomp|iomp|omp|blas|cblas|dnnl|mkldnn)"
                     r"[^/]*\.so[^/]*$")
#: CPUs other processes may keep busy, beyond those the worker leaves free, during training
OTHERS_SLACK = 0.25
#: a training process below this CPU-to-wall ratio did not get even half a CPU
MIN_CPU_PER_WALL = 0.5
#: load above the free CPUs tolerated at a worker's start (daemons, the harness itself)
LOAD_SLACK = 0.5
#: time constant of the 1-minute load average (seconds)
LOAD_TAU_S = 60.0
LABELS = {"lucid": "Lucid", "torch": "PyTorch"}


def usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def worker_env(threads: int, base=None) -> dict:
    """The environment of a worker: ``base`` (default ``os.environ``) with the thread counts
    set and ``MALLOC_SETTINGS`` added where not already set; the same for every framework."""
    env = dict(os.environ if base is None else base)
    env.update({k: str(threads) for k in THREAD_VARS})
    for key, value in MALLOC_SETTINGS.items():
        env.setdefault(key, value)
    return env


def loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def runnable_others(samples: int = 5, pause: float = 0.05) -> float | None:
    """Median over ``samples`` reads of the runnable tasks in the system, this one excluded."""
    counts = []
    for i in range(samples):
        try:
            with open("/proc/loadavg") as f:
                counts.append(int(f.read().split()[3].split("/")[0]) - 1)
        except (OSError, ValueError, IndexError):
            return None
        if i + 1 < samples:
            time.sleep(pause)
    return float(statistics.median(counts))


def residual_load(previous, now: float | None = None) -> float:
    """What finished workers still add to the 1-minute load average at ``now``.

    ``previous``: ``{"ended": time.time() at its end, "wall_s", "cpu_s"}`` per worker. One
    that kept ``c = cpu_s / wall_s`` CPUs busy for ``d`` seconds raised the load by
    ``c (1 - exp(-d / 60))``, which decays as ``exp(-t / 60)`` once it ended."""
    now = time.time() if now is None else now
    return sum(p["cpu_s"] / p["wall_s"] * (1 - math.exp(-p["wall_s"] / LOAD_TAU_S))
               * math.exp(-max(0.0, now - p["ended"]) / LOAD_TAU_S)
               for p in previous or () if p.get("wall_s"))


def busy_cpu_s() -> float | None:
    """CPU seconds all processes spent on the usable CPUs since boot (``/proc/stat``: all but
    idle and I/O wait, steal included)."""
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    total = 0
    try:
        with open("/proc/stat") as f:
            for line in f:
                name, *ticks = line.split()
                if not name.startswith("cpu") or name == "cpu":
                    continue
                if cpus is None or int(name[3:]) in cpus:
                    t = [int(v) for v in ticks[:8]]  # user nice system idle iowait irq softirq steal
                    total += sum(t) - t[3] - t[4]
    except (OSError, ValueError, IndexError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


def run_queue_wait_s() -> float | None:
    """Seconds this process's live threads spent runnable but waiting for a CPU."""
    total, found = 0, False
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return None
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                total += int(f.read().split()[1])
                found = True
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9 if found else None


def mapped_libraries() -> list[str]:
    """Paths of the BLAS and OpenMP libraries mapped into this process."""
    try:
        with open("/proc/self/maps") as f:
            fields = [line.split(None, 5) for line in f]
    except OSError:
        return []
    return sorted({f[5].strip() for f in fields if len(f) == 6 and LIBRARY.search(f[5].strip())})


def engine_modules(modules) -> list[str]:
    """The modules among ``modules`` that belong to Lucid's engine (MLX included)."""
    def free(m):
        return m == "lucid" or any(m == p or m.startswith(p + ".") for p in ENGINE_FREE)
    return [m for m in modules if m == "mlx" or m.startswith("mlx.")
            or (m.startswith("lucid.") and not free(m))]


def _cpu_s() -> float:
    """CPU time of this process and of its finished children (a compiler it ran, say)."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


class Probe:
    """Measurement conditions of one worker; create it first thing in the worker."""

    def __init__(self, previous_workers=()):
        self.pid, self.parent_pid = os.getpid(), os.getppid()
        self.loadavg_start = loadavg()
        self.harness_load_start = round(residual_load(previous_workers), 2)
        self.runnable_others_start = runnable_others()
        self._timed = None

    def begin(self) -> None:
        """Start of the timed part."""
        self._timed = (time.perf_counter(), _cpu_s(), run_queue_wait_s(), busy_cpu_s())

    def record(self, threads) -> dict:
        """Everything measured so far (call at the end of the timed part)."""
        out = {
            "pid": self.pid,
            "parent_pid": self.parent_pid,
            "usable_cpus": usable_cpus(),
            "threads": threads,
            "env": thread_env(),
            "modules": sorted(m for m in sys.modules if m.startswith(("mlx", "lucid"))),
            "torch_loaded": "torch" in sys.modules,
            "libraries": mapped_libraries(),
            "loadavg_start": self.loadavg_start,
            "harness_load_start": self.harness_load_start,
            "loadavg_end": loadavg(),
            "runnable_others_start": self.runnable_others_start,
            "wall_s": None, "cpu_s": None, "cpu_per_wall": None, "others_cpu_s": None,
            "others_cpu_per_wall": None, "run_queue_wait_s": None,
        }
        if self._timed is None:
            return out
        w0, c0, q0, b0 = self._timed
        wall, cpu, q1, b1 = (time.perf_counter() - w0, _cpu_s() - c0, run_queue_wait_s(),
                             busy_cpu_s())
        out.update(wall_s=wall, cpu_s=cpu, cpu_per_wall=cpu / wall if wall > 0 else None)
        if q0 is not None and q1 is not None:
            out["run_queue_wait_s"] = q1 - q0
        if b0 is not None and b1 is not None:
            others = max(0.0, b1 - b0 - cpu)
            out.update(others_cpu_s=others, others_cpu_per_wall=others / wall if wall > 0 else None)
        return out


def foreign_modules(framework: str, record: dict) -> list[str]:
    """The other framework's modules in ``framework``'s worker (PyTorch's: Lucid's engine)."""
    if framework == "torch":
        return engine_modules(record.get("modules") or [])
    return ["torch"] if record.get("torch_loaded") else []


def assess(framework: str, record: dict | None) -> list[str]:
    """Why ``framework``'s times from a worker with ``record`` may be wrong (in words)."""
    if not record:
        return ["not measured in a process of its own (no process record in the history)"]
    reasons = []
    foreign = foreign_modules(framework, record)
    if foreign:
        other = "Lucid's engine" if framework == "torch" else "PyTorch"
        shown = ", ".join(foreign[:4]) + (", ..." if len(foreign) > 4 else "")
        reasons.append(f"its process had {other} loaded ({shown})")
    cpus, threads = record.get("usable_cpus") or 1, record.get("threads") or 1
    if threads > cpus:
        reasons.append(f"{threads} threads on {cpus} usable CPUs")
    # a --nproc run's other ranks are its own, not other processes
    nproc = record.get("nproc") or 1
    mine = threads * nproc
    own_words = f"{threads} thread(s) of its own" + (
        f" in each of its {nproc} processes" if nproc > 1 else "")
    load = (record.get("loadavg_start") or [None])[0]
    if load is not None:
        own = record.get("harness_load_start") or 0.0
        if load - own > cpus - min(mine, cpus) + LOAD_SLACK:
            left = f" ({own:.2f} of it left by the harness's earlier workers)" if own else ""
            reasons.append(f"1-minute load average {load:.2f} at its start{left}, on {cpus} "
                           f"usable CPUs with {own_words}")
    others = record.get("others_cpu_per_wall")
    if others is not None and others - (nproc - 1) * threads > cpus - min(mine, cpus) + (
            OTHERS_SLACK):
        reasons.append(f"other processes kept {others:.2f} of the {cpus} usable CPUs busy "
                       f"during its training, with {own_words}")
    ratio = record.get("cpu_per_wall")
    if ratio is not None and ratio < MIN_CPU_PER_WALL:
        reasons.append(f"CPU-to-wall ratio {ratio:.2f}: it got less than half a CPU")
    return reasons


def _fmt(v, spec=".2f") -> str:
    return "n/a" if v is None else format(v, spec)


def describe(records: dict) -> list[str]:
    """The measurement conditions of each framework's worker (``{framework: record}``), in
    words, for the report: processes, threads, allocator settings, load, CPU use."""
    have = {fw: r for fw, r in records.items() if r}
    missing = [LABELS.get(fw, fw) for fw, r in records.items() if not r]
    lines = []
    if missing:
        lines.append(f"- {', '.join(missing)}: no record of the process; these times come from "
                     "a harness that trained the frameworks one after the other in one process.")
    if not have:
        return lines

    def each(fn) -> str:
        return "; ".join(f"{LABELS.get(fw, fw)} {fn(r)}" for fw, r in have.items())

    parent = {r.get("parent_pid") for r in have.values()}
    lines.append("- One process per framework: " + each(lambda r: f"PID {r.get('pid')}")
                 + (f", each started by PID {parent.pop()}" if len(parent) == 1 else "")
                 + ("; none loaded the other framework." if not any(
                     foreign_modules(fw, r) for fw, r in have.items()) else
                    "; the other framework was loaded in: " + ", ".join(
                     LABELS.get(fw, fw) for fw, r in have.items() if foreign_modules(fw, r))
                    + "."))
    lines.append("- Threads: " + each(lambda r: f"{r.get('threads')}")
                 + f", on {next(iter(have.values())).get('usable_cpus')} usable CPUs.")
    envs = {fw: r.get("env") or {} for fw, r in have.items()}
    settings = ", ".join(f"{k}={v}" for k, v in next(iter(envs.values())).items()) or "none"
    same = len({tuple(sorted(e.items())) for e in envs.values()}) == 1
    lines.append("- Allocator and thread environment: " + (
        f"{settings} (the same for every framework)." if same else
        each(lambda r: ", ".join(f"{k}={v}" for k, v in (r.get("env") or {}).items()) or "none")
        + "."))
    lines.append("- Load: 1-minute load average at the worker's start / end: " + each(
        lambda r: f"{_fmt((r.get('loadavg_start') or [None])[0])} / "
                  f"{_fmt((r.get('loadavg_end') or [None])[0])}")
        + "; of the start's, left by the harness's earlier workers: " + each(
        lambda r: _fmt(r.get("harness_load_start")))
        + "; other runnable tasks at its start: " + each(
        lambda r: _fmt(r.get("runnable_others_start"), "g")) + ".")
    lines.append("- During training: CPU time / wall time " + each(
        lambda r: _fmt(r.get("cpu_per_wall"))) + "; CPUs kept busy by other processes "
        + each(lambda r: _fmt(r.get("others_cpu_per_wall"))) + "; time its threads waited "
        "for a CPU " + each(lambda r: f"{_fmt(r.get('run_queue_wait_s'))} s") + ".")
    libs = each(lambda r: ", ".join(os.path.basename(p) for p in r.get("libraries") or [])
                or "none found")
    lines.append(f"- BLAS and OpenMP libraries mapped: {libs}.")
    return lines
