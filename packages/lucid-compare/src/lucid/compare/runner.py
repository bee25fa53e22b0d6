"""``lucid-compare run``: train an experiment in each framework, then write the report.

The frameworks run one after the other in this process (PyTorch first), each from its
effective config, each on batches from the same loader design. Before anything trains,
every model is built once and the parameter counts compared. With ``--same-init`` Lucid
starts from PyTorch's initial weights and a control run trains PyTorch again from those
weights moved one float32 ULP. With ``--seeds N`` every framework runs with seeds
``seed .. seed + N - 1``.
"""

from __future__ import annotations

import gc
import random
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import report as report_mod
from .backends import LABELS, backend_module, get_backend
from .config import TrainConfig, config_diff, effective_configs
from .data import load_data
from .environment import machine, reset_peak_memory
from .errors import (
    EXIT_DIVERGED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    CompareError,
    ComparisonRefused,
    UsageError,
)
from .experiments import get_experiment
from .history import History, history_path
from .trainer import fit

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


@dataclass
class RunSpec:
    run: str
    framework: str
    cfg: TrainConfig
    role: str  # "main" or "control"
    seed_index: int
    init: str  # "own", "torch", "torch+1ulp"


def seed_all(seed: int, frameworks) -> None:
    """Seed Python, NumPy and every framework in use, together."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    for fw in frameworks:
        backend_module(fw).seed(seed)


def resolve_devices(opts: RunOptions) -> dict[str, str]:
    out = {}
    for fw in opts.frameworks:
        asked = opts.devices.get(fw) or ("auto" if fw == "torch" else "cpu")
        module = backend_module(fw)
        try:
            out[fw] = module.resolve_device(asked)
        except Exception as err:  # ValueError, lucid.DeviceError: a device this machine lacks
            raise UsageError(f"--{fw}-device {asked}: {err}") from None
    return out


def plan(opts: RunOptions, effective: dict[str, TrainConfig]) -> list[RunSpec]:
    specs = []
    order = [fw for fw in ("torch", "lucid") if fw in opts.frameworks]
    for k in range(opts.seeds):
        for fw in order:
            cfg = replace(effective[fw], seed=effective[fw].seed + k)
            run = fw if opts.seeds == 1 else f"{fw}_seed{cfg.seed}"
            init = "torch" if opts.same_init and fw != "torch" else "own"
            specs.append(RunSpec(run, fw, cfg, "main", k, init))
        if opts.same_init and k == 0:
            cfg = effective["torch"]
            specs.append(RunSpec("torch_ulp", "torch", cfg, "control", 0, "torch+1ulp"))
    return specs


def print_header(opts: RunOptions, effective: dict, log) -> list:
    base = effective[opts.frameworks[0]].as_dict()
    log(f"lucid-compare: {base['experiment']} in {', '.join(LABELS[f] for f in opts.frameworks)}"
        f" -> {opts.out}")
    log("config: " + ", ".join(f"{k}={v}" for k, v in base.items() if k not in ("device",)))
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


def execute(opts: RunOptions, log=print) -> int:
    """Run everything ``opts`` asks for; returns the exit status."""
    if opts.same_init and not {"lucid", "torch"} <= set(opts.frameworks):
        raise UsageError("--same-init needs both frameworks (--frameworks lucid,torch)")
    if opts.seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {opts.seeds}")
    exp = get_experiment(opts.base.experiment)
    for fw in opts.frameworks:
        backend_module(fw)  # a missing framework fails here, before any work
    devices = resolve_devices(opts)
    overrides = {fw: {**opts.overrides.get(fw, {}), "device": devices[fw]}
                 for fw in opts.frameworks}
    effective = effective_configs(opts.base, opts.frameworks, overrides)
    print_header(opts, effective, log)

    data = load_data(opts.base.dataset, opts.data_dir, opts.download, progress=opts.progress)
    n_train = {fw: min(len(data.x_train), effective[fw].subset or len(data.x_train))
               for fw in opts.frameworks}
    steps = {fw: -(-n_train[fw] // effective[fw].batch_size) for fw in opts.frameworks}

    counts = {}
    for fw in opts.frameworks:
        seed_all(effective[fw].seed, opts.frameworks)
        backend = get_backend(fw)(effective[fw], exp.num_classes, exp.input_shape, steps[fw])
        counts[fw] = backend.count_parameters()
        del backend
    log("parameters: " + ", ".join(f"{LABELS[fw]} {c:,}" for fw, c in counts.items()))
    if len(set(counts.values())) > 1 and not opts.force:
        listed = ", ".join(f"{LABELS[fw]} {c:,}" for fw, c in counts.items())
        raise ComparisonRefused(
            f"refusing to compare models with different parameter counts ({listed}); fix the "
            "model or the overrides, or pass --force to compare anyway")

    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    if not opts.resume:
        _clean_out(out)
    (out / "checkpoints").mkdir(exist_ok=True)

    status = EXIT_OK
    torch_init: dict[int, dict] = {}
    try:
        for spec in plan(opts, effective):
            h = _run_one(spec, opts, exp, data, steps[spec.framework], counts, torch_init,
                         effective, log)
            if h["status"] == "diverged":
                status = EXIT_DIVERGED
            gc.collect()
    except KeyboardInterrupt:
        log("interrupted: the histories on disk are valid; --resume continues from the last "
            "finished epoch")
        _safe_report(out, opts, log)
        return EXIT_INTERRUPTED
    result = report_mod.render(out, force=opts.force, tolerance=opts.divergence_tol)
    log(f"report: {result['report']}; figures: {', '.join(result['figures'])}")
    log("\n".join(report_mod.summary_table(result["analysis"])))
    return status


def _safe_report(out: Path, opts: RunOptions, log) -> None:
    try:
        result = report_mod.render(out, force=opts.force, tolerance=opts.divergence_tol)
        log(f"report of what was recorded: {result['report']}")
    except (CompareError, ValueError, OSError) as err:
        log(f"no report written: {err}")


def _initial_torch_state(spec: RunSpec, effective, exp, steps, torch_init, frameworks) -> dict:
    k = spec.seed_index
    if k not in torch_init:
        cfg = replace(effective["torch"], seed=effective["torch"].seed + k)
        seed_all(cfg.seed, frameworks)
        backend = get_backend("torch")(cfg, exp.num_classes, exp.input_shape, steps)
        torch_init[k] = backend.export_state()
        del backend
    return torch_init[k]


def _run_one(spec, opts, exp, data, steps, counts, torch_init, effective, log) -> History:
    cfg = spec.cfg
    path = history_path(opts.out, spec.run)
    ckpt = _checkpoint_file(Path(opts.out), spec)
    label = LABELS[spec.framework] + ("" if spec.role == "main" else " (+1 ULP control)")
    if opts.seeds > 1 and spec.role == "main":
        label += f" seed {cfg.seed}"

    history = None
    if opts.resume and path.exists():
        history = _resumable(History.load(path), spec, ckpt, log)
        if history is not None and history.completed_epochs >= cfg.epochs and (
                history["status"] in ("finished", "diverged")):
            log(f"[{label}] already done ({history['status']}, {history.completed_epochs} "
                "epochs): skipped")
            return history

    if spec.init != "own":
        init_state = _initial_torch_state(spec, effective, exp, steps, torch_init,
                                          opts.frameworks)
    seed_all(cfg.seed, opts.frameworks)
    backend = get_backend(spec.framework)(cfg, exp.num_classes, exp.input_shape, steps)
    if spec.init != "own":
        backend.import_state(init_state)
        if spec.init.endswith("ulp"):
            backend.perturb_ulp()

    if history is not None and history.completed_epochs > 0:
        meta = backend.load_checkpoint(ckpt)
        if int(meta.get("epoch", -1)) != history.completed_epochs:
            raise CompareError(
                f"--resume: {ckpt} holds epoch {meta.get('epoch')} but {path} records "
                f"{history.completed_epochs} finished epochs; start again without --resume")
        history.truncate_to_finished_epochs()
        history["status"], history["message"] = "running", None
        history["config"] = cfg.as_dict()
        log(f"[{label}] resuming after epoch {history.completed_epochs}")
    else:
        history = History.new(spec.run, spec.framework, spec.role, spec.seed_index,
                              cfg.as_dict(), opts.overrides.get(spec.framework, {}), spec.init)
    history["param_count"] = counts[spec.framework]
    history["divergence_tolerance"] = opts.divergence_tol
    history["environment"] = {"machine": machine(), "framework": backend.environment()}
    history["data"] = data.describe()
    history["peak_memory_method"] = reset_peak_memory()
    history.save(path)
    return fit(backend, cfg, data, history, history_file=path, checkpoint_file=ckpt,
               progress=opts.progress, label=label, log=log)


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
