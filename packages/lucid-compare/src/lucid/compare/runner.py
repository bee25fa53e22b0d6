"""``lucid-compare run``: train an experiment in each framework, then write the report.

This process imports no framework. Every run (a ``RunSpec``: each framework's main run for
each seed, and the ``--same-init`` control) trains in a worker process of its own
(``lucid.compare.worker``), every worker with the same environment (threads and allocator
settings: ``conditions.worker_env``), so no framework is timed in a process that loaded the
other's engine. Before anything trains, one worker per framework resolves its device and
counts the parameters, and the counts are compared; with ``--same-init`` PyTorch's worker
also writes its initial state for each seed to ``OUT/init/``, from which Lucid starts and
from which the control run trains PyTorch again, moved one float32 ULP. The data is loaded
here once (a missing dataset stops the run before any worker starts) and by each worker
from the same files; every history records a hash of each batch it was fed. With
``--seeds N`` every framework runs with seeds ``seed .. seed + N - 1``, the frameworks
taking turns to go first.

The output folder is locked for the whole run (``OUT/.lucid-compare.lock``, an ``fcntl``
lock held by this process, so it dies with it): a second run into the same folder stops
at once, naming the first's PID and command line. A finished run of another config in the
folder is not replaced unless ``force`` (or continued, under ``resume``).
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import shutil
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import launch as launch_mod
from . import ranks, trajectory, verdicts
from . import report as report_mod
from . import scaling as scaling_mod
from .backends import LABELS, require
from .conditions import usable_cpus, worker_env
from .config import SEED_LIMIT, TrainConfig, config_diff, effective_configs
from .data import load_data
from .errors import (
    EXIT_DIVERGED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    CompareError,
    ComparisonRefused,
    DamagedFileError,
    UsageError,
)
from .experiments import get_experiment
from .history import History, history_path
from .worker import launch

#: fields a resumed run may change (more epochs continue the same run)
RESUMABLE_CHANGES = ("epochs",)


@dataclass
class RunOptions:
    base: TrainConfig
    frameworks: list[str] = field(default_factory=lambda: ["lucid", "torch"])
    overrides: dict = field(default_factory=dict)
    devices: dict = field(default_factory=dict)
    out: Path = Path("lucid-compare-out")
    data_dir: str | None = None
    download: bool = False
    same_init: bool = False
    seeds: int = 1
    resume: bool = False
    progress: bool = True
    force: bool = False
    divergence_tol: float = report_mod.DEFAULT_TOLERANCE
    #: batches of the trajectory check (``trajectory.py``); 0: no check
    trajectory_steps: int = 100
    command: str = field(default_factory=lambda: shlex.join(sys.argv))
    #: processes per run (data parallel: ``mlx.launch`` / ``torchrun``), 1: one process
    nproc: int = 1
    #: first loopback port of a ``--nproc`` run (0: free ones, chosen per run)
    port: int = 0
    #: with ``nproc > 1``, also train each framework in one process with ``nproc`` times
    #: the threads (``OUT/scaling/``), for the report's scaling section
    scaling: bool = False


@dataclass
class RunSpec:
    run: str
    framework: str
    cfg: TrainConfig
    role: str  # "main" or "control"
    seed_index: int
    init: str  # "own", "torch", "torch+1ulp", or a trajectory control's (trajectory.py)
    init_seed: int | None = None  # the seed of PyTorch's initial state, unless init is "own"
    label: str = ""  # what the progress lines call it (default: the framework's name)


def trajectory_config(cfg: TrainConfig, steps: int, n_train: int) -> TrainConfig:
    """A trajectory run's config: the first ``steps`` batches of one epoch (a subset of
    ``steps`` batches), evaluated on one batch of the test set."""
    subset = min(steps * cfg.batch_size, cfg.subset or n_train, n_train)
    return replace(cfg, epochs=1, subset=subset, test_subset=cfg.batch_size)


def wants_trajectory(opts: RunOptions) -> bool:
    """Whether the run includes the trajectory check (it needs both frameworks)."""
    return opts.trajectory_steps > 0 and {"lucid", "torch"} <= set(opts.frameworks)


def steps_per_epoch(cfg: TrainConfig, n_train: int) -> int:
    """Batches of an epoch of ``cfg`` over ``n_train`` training images (``subset`` applied)."""
    return -(-min(n_train, cfg.subset or n_train) // cfg.batch_size)


def trajectory_plan(opts: RunOptions, effective: dict[str, TrainConfig],
                    n_train: int) -> list[RunSpec]:
    """The trajectory check (``trajectory.py``) of the first seed: PyTorch from its initial
    weights, Lucid from the same, and one PyTorch run per one-ULP control."""
    if not wants_trajectory(opts):
        return []
    seed = effective["torch"].seed
    cfg = {fw: trajectory_config(effective[fw], opts.trajectory_steps, n_train)
           for fw in ("torch", "lucid")}
    specs = [RunSpec("trajectory_torch", "torch", cfg["torch"], "trajectory", 0, "torch", seed,
                     "PyTorch (trajectory check)"),
             RunSpec("trajectory_lucid", "lucid", cfg["lucid"], "trajectory", 0, "torch", seed,
                     "Lucid (trajectory check, PyTorch's initial weights)")]
    for name, init in trajectory.CONTROL_INITS.items():
        specs.append(RunSpec(f"trajectory_control_{name}", "torch", cfg["torch"],
                             "trajectory_control", 0, init, seed,
                             f"PyTorch (trajectory control, {init})"))
    return specs


def plan(opts: RunOptions, effective: dict[str, TrainConfig],
         n_train: int | None = None) -> list[RunSpec]:
    """The runs, in order: for seed ``k`` PyTorch first when ``k`` is even, Lucid first when
    odd; the ``--same-init`` control after the first seed's runs; the trajectory check
    (when ``n_train``, the training images, is given) last."""
    specs = []
    order = [fw for fw in ("torch", "lucid") if fw in opts.frameworks]
    for k in range(opts.seeds):
        for fw in (order if k % 2 == 0 else order[::-1]):
            cfg = replace(effective[fw], seed=effective[fw].seed + k)
            run = fw if opts.seeds == 1 else f"{fw}_seed{cfg.seed}"
            if opts.same_init and fw != "torch":
                specs.append(RunSpec(run, fw, cfg, "main", k, "torch",
                                     effective["torch"].seed + k))
            else:
                specs.append(RunSpec(run, fw, cfg, "main", k, "own"))
        if opts.same_init and k == 0:
            cfg = effective["torch"]
            specs.append(RunSpec("torch_ulp", "torch", cfg, "control", 0, "torch+1ulp",
                                 cfg.seed))
    if n_train is not None:
        specs += trajectory_plan(opts, effective, n_train)
    return specs


def print_header(opts: RunOptions, effective: dict, log) -> None:
    base = effective[opts.frameworks[0]].as_dict()
    log(f"lucid-compare: {base['experiment']} in {', '.join(LABELS[f] for f in opts.frameworks)}"
        f" -> {opts.out}")
    log("config: " + ", ".join(f"{k}={v}" for k, v in base.items() if k not in ("device",)))


def print_differences(opts: RunOptions, effective: dict, log) -> list:
    diffs = []
    if len(opts.frameworks) == 2:
        a, b = opts.frameworks
        diffs = config_diff(effective[a].as_dict(), effective[b].as_dict())
        if diffs:
            log(f"config differences ({LABELS[a]} vs {LABELS[b]}):")
            for k, va, vb in diffs:
                log(f"  {k}: {va} vs {vb}")
        else:
            log("config differences: none (both frameworks use the same effective config)")
    return diffs


def _clean_out(out: Path) -> None:
    for p in out.glob("history_*.json"):
        p.unlink()
    shutil.rmtree(out / "checkpoints", ignore_errors=True)


def _checkpoint_file(out: Path, spec: RunSpec) -> Path:
    ext = "safetensors" if spec.framework == "lucid" else "pt"
    return out / "checkpoints" / f"{spec.run}.{ext}"


def init_file(out: Path, seed: int) -> Path:
    """PyTorch's initial state for ``seed`` (``--same-init``), PyTorch's names, ``.npz``."""
    return Path(out) / "init" / f"torch_seed{seed}.npz"


def worker_envs(effective: dict[str, TrainConfig], nproc: int = 1) -> dict[str, dict]:
    """Each framework's worker environment: its threads (``--threads``, else the usable
    CPUs shared by the ``nproc`` processes of a run) and the same allocator settings for
    all."""
    return {fw: worker_env(cfg.threads or max(1, usable_cpus() // nproc))
            for fw, cfg in effective.items()}


LOCK_NAME = ".lucid-compare.lock"


def lock_out(out: Path, command: str) -> int:
    """Create ``out`` and take its lock; returns the lock's file descriptor (closing it
    releases the lock). ``UsageError`` when ``out`` is a file, cannot be written, or is
    locked by another run (named by its PID and command line)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise UsageError(f"--out {str(out)!r} cannot be written: {err.strerror or err}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _lock_holder(fd)
        os.close(fd)
        raise UsageError(
            f"--out {str(out)!r} is in use by another run ({holder}); wait for it to end or "
            "choose another --out") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "command": command}).encode() + b"\n", 0)
    return fd


def _lock_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 65536, 0).decode())
        return f"PID {int(info['pid'])}: {info['command']}"
    except (ValueError, KeyError, TypeError, OSError):
        return "its PID is not recorded yet"


def unlock_out(fd: int) -> None:
    """Release the lock of ``lock_out`` (the file stays, empty)."""
    try:
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def check_overwrite(opts: RunOptions, specs: list[RunSpec]) -> None:
    """Refuse (``UsageError``) to replace a finished run in ``opts.out`` whose config differs
    from this run's, naming the differing keys, unless ``force`` or ``resume``."""
    if opts.force or opts.resume:
        return
    planned = {s.run: s for s in specs}
    found = []
    for path in sorted(Path(opts.out).glob("history_*.json")):
        try:
            old = History.load(path)
            status, run, config = old["status"], old["run"], dict(old["config"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a finished run: replaced like any leftover
        if str(old.get("role", "")).startswith("trajectory"):
            continue  # the trajectory check is run again (or resumed) with the run
        if status not in ("finished", "diverged"):
            continue
        spec = planned.get(run)
        if spec is None:
            found.append(f"{run}: not part of this run (frameworks, seeds or same_init)")
            continue
        diffs = [(k, a, b) for k, a, b in config_diff(config, spec.cfg.as_dict())
                 if k != "device"]
        if old.get("init") != spec.init:
            diffs.append(("same_init", old.get("init") != "own", spec.init != "own"))
        if diffs:
            found.append(f"{run}: " + ", ".join(f"{k} saved {a}, now {b}" for k, a, b in diffs))
    if found:
        raise UsageError(
            f"--out {str(opts.out)!r} holds a finished run of another config ("
            + "; ".join(found) + "); pass --force to replace it, --resume to continue it "
            "(more epochs), or choose another --out")


def execute(opts: RunOptions, log=print) -> int:
    """Run everything ``opts`` asks for, holding the lock of ``opts.out``; returns the exit
    status."""
    if opts.same_init and not {"lucid", "torch"} <= set(opts.frameworks):
        raise UsageError("--same-init needs both frameworks (--frameworks lucid,torch)")
    if opts.seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {opts.seeds}")
    if opts.nproc < 1:
        raise UsageError(f"--nproc must be >= 1, got {opts.nproc}")
    if opts.scaling and opts.nproc < 2:
        raise UsageError("--scaling compares a --nproc run with one process: give --nproc 2 "
                         "or more")
    launch_mod.check_launchers(opts.frameworks, opts.nproc)
    if opts.nproc > 1 and opts.port:
        launch_mod.check_ports(opts.port, max(launch_mod.ports_needed(fw, opts.nproc)
                                              for fw in opts.frameworks))
    get_experiment(opts.base.experiment)
    for fw in opts.frameworks:
        require(fw)  # a missing framework fails here, before any work
    asked = {fw: opts.devices.get(fw) or ("auto" if fw == "torch" else "cpu")
             for fw in opts.frameworks}
    overrides = {fw: {**opts.overrides.get(fw, {}), "device": asked[fw]}
                 for fw in opts.frameworks}
    effective = effective_configs(opts.base, opts.frameworks, overrides)
    last = max(cfg.seed for cfg in effective.values()) + opts.seeds - 1
    if last >= SEED_LIMIT:
        raise UsageError(f"--seed + --seeds - 1 = {last}: seeds must be < {SEED_LIMIT}")
    lock = lock_out(Path(opts.out), opts.command)
    try:
        check_overwrite(opts, plan(opts, effective))
        return _execute(opts, asked, effective, log)
    finally:
        unlock_out(lock)


def _execute(opts: RunOptions, asked: dict, effective: dict, log) -> int:
    print_header(opts, effective, log)

    data = load_data(opts.base.dataset, opts.data_dir, opts.download, progress=opts.progress)
    n_images = len(data.x_train)
    del data  # each worker loads the same files
    n_train = {fw: min(n_images, effective[fw].subset or n_images) for fw in opts.frameworks}
    steps = {fw: steps_per_epoch(effective[fw], n_images) for fw in opts.frameworks}
    for fw in opts.frameworks:
        why = ranks.check_split(n_train[fw], effective[fw].batch_size, opts.nproc)
        if why:
            raise UsageError(why)

    out = Path(opts.out)
    envs = worker_envs(effective, opts.nproc)
    prepared = {}
    for fw in opts.frameworks:
        seeds = range(effective[fw].seed, effective[fw].seed + opts.seeds)
        exported = ([] if fw != "torch" else seeds if opts.same_init
                    else seeds[:1] if wants_trajectory(opts) else [])
        task = {"task": "prepare", "framework": fw, "device": asked[fw],
                "config": effective[fw].as_dict(),
                "init_files": {s: str(init_file(out, s)) for s in exported}}
        prepared[fw] = launch(task, envs[fw], log)
    effective = {fw: replace(cfg, device=prepared[fw]["device"]) for fw, cfg in effective.items()}
    print_differences(opts, effective, log)
    counts = {fw: prepared[fw]["param_count"] for fw in opts.frameworks}
    log("parameters: " + ", ".join(f"{LABELS[fw]} {c:,}" for fw, c in counts.items()))
    if len(set(counts.values())) > 1 and not opts.force:
        listed = ", ".join(f"{LABELS[fw]} {c:,}" for fw, c in counts.items())
        raise ComparisonRefused(
            f"refusing to compare models with different parameter counts ({listed}); fix the "
            "model or the overrides, or pass --force to compare anyway")
    if len(set(counts.values())) > 1 and wants_trajectory(opts):
        log("trajectory check: skipped (the models differ, so Lucid cannot start from "
            "PyTorch's initial weights)")
        opts = replace(opts, trajectory_steps=0)

    out.mkdir(parents=True, exist_ok=True)
    if not opts.resume:
        _clean_out(out)
        shutil.rmtree(out / scaling_mod.FOLDER, ignore_errors=True)
    (out / "checkpoints").mkdir(exist_ok=True)

    status = EXIT_OK
    try:
        for spec in plan(opts, effective, n_images):
            run_opts = opts
            if spec.role.startswith("trajectory"):  # short runs: one process each
                run_opts = replace(opts, nproc=1, port=0)
            n = steps_per_epoch(spec.cfg, n_images)
            if _run_one(spec, run_opts, n, counts, envs, log) == "diverged":
                status = EXIT_DIVERGED
        if opts.scaling:
            _run_baselines(opts, effective, steps, counts, log)
    except KeyboardInterrupt:
        log("interrupted: the histories on disk are valid; --resume continues from the last "
            "finished epoch")
        _safe_report(out, opts, log)
        return EXIT_INTERRUPTED
    result = report_mod.render(out, force=opts.force, tolerance=opts.divergence_tol)
    log(f"report: {result['report']}; figures: {', '.join(result['figures'])}")
    log("\n".join(report_mod.summary_table(result["analysis"])))
    log("")
    log("\n".join(verdicts.verdict_lines(result["analysis"])))
    return status


def _safe_report(out: Path, opts: RunOptions, log) -> None:
    try:
        result = report_mod.render(out, force=opts.force, tolerance=opts.divergence_tol)
        log(f"report of what was recorded: {result['report']}")
    except (CompareError, ValueError, OSError) as err:
        log(f"no report written: {err}")


def _run_baselines(opts: RunOptions, effective: dict, steps: dict, counts: dict,
                   log) -> None:
    """``--scaling``: each framework's first-seed main run again in one process with
    ``nproc`` times the threads of each rank, into ``OUT/scaling/``; its per-epoch times
    are copied into the main history (``scaling_baseline``) for the report."""
    base = replace(opts, out=Path(opts.out) / scaling_mod.FOLDER, nproc=1, port=0)
    (base.out / "checkpoints").mkdir(parents=True, exist_ok=True)
    threads = {fw: (cfg.threads or max(1, usable_cpus() // opts.nproc)) * opts.nproc
               for fw, cfg in effective.items()}
    envs = {fw: worker_env(n) for fw, n in threads.items()}
    for spec in plan(opts, effective):
        if spec.role != "main" or spec.seed_index != 0:
            continue
        spec = replace(spec, cfg=replace(spec.cfg, threads=threads[spec.framework]))
        _run_one(spec, base, steps[spec.framework], counts, envs, log,
                 init_dir=Path(opts.out), label_suffix=" (1 process, scaling baseline)")
        main_path = history_path(opts.out, spec.run)
        history = History.load(main_path)
        history["scaling_baseline"] = scaling_mod.baseline_record(
            History.load(history_path(base.out, spec.run)), history)
        history.save(main_path)


def _run_one(spec: RunSpec, opts: RunOptions, steps: int, counts: dict, envs: dict,
             log, init_dir: Path | None = None, label_suffix: str = "") -> str:
    """Train ``spec`` in a worker (unless ``--resume`` finds it done); returns its status.
    ``init_dir``: where ``init/`` lies (default ``opts.out``)."""
    cfg = spec.cfg
    path = history_path(opts.out, spec.run)
    ckpt = _checkpoint_file(Path(opts.out), spec)
    label = spec.label or (
        LABELS[spec.framework] + ("" if spec.role == "main" else " (+1 ULP control)"))
    label += label_suffix
    if opts.seeds > 1 and spec.role == "main":
        label += f" seed {cfg.seed}"

    resume = False
    if opts.resume and path.exists():
        try:
            history = _resumable(History.load(path), spec, ckpt, log)
            done = history is not None and history.completed_epochs >= cfg.epochs and (
                history["status"] in ("finished", "diverged"))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            what = f"missing key {err}" if isinstance(err, KeyError) else str(err)
            raise DamagedFileError(f"--resume: {path} is damaged ({what}); drop --resume to "
                                   "start again") from None
        if done:
            log(f"[{label}] already done ({history['status']}, {history.completed_epochs} "
                "epochs): skipped")
            return history["status"]
        resume = history is not None and history.completed_epochs > 0

    task = {
        "task": "train", "framework": spec.framework, "run": spec.run, "role": spec.role,
        "seed_index": spec.seed_index, "init": spec.init,
        "init_file": None if spec.init_seed is None else str(
            init_file(init_dir or opts.out, spec.init_seed)),
        "config": cfg.as_dict(), "overrides": opts.overrides.get(spec.framework, {}),
        "data_dir": opts.data_dir, "steps": steps, "param_count": counts[spec.framework],
        "divergence_tol": opts.divergence_tol, "history": str(path), "checkpoint": str(ckpt),
        "resume": resume, "progress": opts.progress, "label": label, "nproc": opts.nproc,
    }
    if opts.nproc > 1:
        task["port"] = opts.port or launch_mod.free_ports(
            launch_mod.ports_needed(spec.framework, opts.nproc))
    return launch(task, envs[spec.framework], log)["status"]


def _resumable(old: History, spec: RunSpec, ckpt: Path, log) -> History | None:
    """The saved history to continue, after checking it belongs to the same run."""
    new = spec.cfg.as_dict()
    diffs = [d for d in config_diff(old["config"], new) if d[0] not in RESUMABLE_CHANGES
             and d[0] != "device"]
    if diffs:
        listed = "; ".join(f"{k}: saved {a}, now {b}" for k, a, b in diffs)
        raise UsageError(f"--resume: {spec.run} was run with another config ({listed}); use "
                         "another --out, or drop --resume to start again")
    if old.get("init") != spec.init:
        raise UsageError(f"--resume: {spec.run} was initialised '{old.get('init')}', now "
                         f"'{spec.init}' (--same-init changed); drop --resume to start again")
    if old.completed_epochs > 0 and not ckpt.exists():
        log(f"[{spec.run}] no checkpoint at {ckpt}: starting this run again")
        return None
    return old
