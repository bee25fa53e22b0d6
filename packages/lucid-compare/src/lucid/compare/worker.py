"""One framework's work in a process of its own: ``python -m lucid.compare.worker TASK.json``.

The process that runs ``lucid-compare run`` or ``bench`` imports no framework: for every
piece of work it writes a task (JSON), starts a worker with ``launch`` and reads back the
worker's result (JSON). The tasks:

- ``prepare``: resolve the framework's device, build its model once, count the
  parameters; for PyTorch with ``--same-init``, also write the initial state of each
  seed (``.npz``, PyTorch's names) that the Lucid runs and the control run start from;
- ``train``: one run of ``lucid-compare run`` (a ``runner.RunSpec``): build, initialise
  (own seed, or a PyTorch initial state, optionally moved one ULP as a control's name says:
  ``trajectory.perturbation``), join the other ranks under ``--nproc``, continue from a
  checkpoint under ``--resume``, train with ``trainer.fit``; the history is written after
  every epoch;
- ``bench``: ``bench.measure``.

Every worker records its measurement conditions (``conditions.Probe``). The worker's
stdout reaches the parent's ``log`` line by line; its stderr (progress bars, tracebacks) is
the parent's. Ctrl-C reaches the worker and the parent: the worker marks its history
interrupted and exits with 130; the parent waits for it (forwarding SIGINT in case only
the parent got it) and raises ``KeyboardInterrupt``.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path

import numpy as np

from . import launch as ranks_launch
from .conditions import Probe
from .errors import EXIT_INTERRUPTED, EXIT_OK, CompareError, DamagedFileError, UsageError
from .history import write_json_atomic
from .ranks import env_rank

MODULE = "lucid.compare.worker"
LABELS = {"lucid": "Lucid", "torch": "PyTorch"}
#: seconds the parent waits for an interrupted worker to write its history
STOP_TIMEOUT = 60
#: this process's finished workers (their load lingers in the load average for minutes)
_finished: list[dict] = []


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# ----- the parent's side ------------------------------------------------------------------
def launch(task: dict, env: dict, log=print):
    """Run ``task`` in a fresh worker with environment ``env``; returns the task's value.
    With ``task["nproc"] > 1`` the worker runs as that many ranks under the framework's
    launcher (``launch.py``), and rank 0's value is returned.

    Raises the worker's ``CompareError`` (same message and exit status),
    ``KeyboardInterrupt`` when the worker was interrupted, or ``CompareError`` when it
    failed otherwise (its traceback is on stderr), naming the rank that failed first."""
    label = LABELS[task["framework"]]
    nproc = int(task.get("nproc", 1))
    with tempfile.TemporaryDirectory(prefix="lucid-compare-") as tmp:
        task_file, result_file = Path(tmp) / "task.json", Path(tmp) / "result.json"
        recent = [p for p in _finished if time.time() - p["ended"] < 5 * 60]
        write_json_atomic(task_file, {**task, "result": str(result_file),
                                      "previous_workers": recent})
        args = [MODULE, str(task_file)]
        if nproc > 1:
            cmd = ranks_launch.command(task["framework"], nproc, task["port"], args)
        else:
            cmd = [sys.executable, "-u", "-m", *args]
        wall0, cpu0 = time.perf_counter(), _children_cpu_s()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True,
                                errors="replace",
                                stdin=subprocess.DEVNULL if nproc > 1 else None)
        watch = ranks_launch.RankWatch(proc, result_file, nproc) if nproc > 1 else None
        try:
            with watch or contextlib.nullcontext():
                for line in proc.stdout:
                    log(line.rstrip("\n"))
                code = proc.wait()
            _finished.append({"ended": time.time(), "wall_s": time.perf_counter() - wall0,
                              "cpu_s": _children_cpu_s() - cpu0})
        except KeyboardInterrupt:
            if watch is None:
                _stop(proc, log)
            else:  # the ranks got Ctrl-C too: let them write; launchers may hang on it
                watch.wait(STOP_TIMEOUT)
            raise
        if watch is not None:
            return _ranks_value(label, nproc, watch, code)
        result = json.loads(result_file.read_text()) if result_file.exists() else {}
    if code in (EXIT_INTERRUPTED, -signal.SIGINT):  # -SIGINT: before its handler was set
        raise KeyboardInterrupt
    if code == EXIT_OK and result.get("ok"):
        return result["value"]
    if "error" in result:
        err = CompareError(result["error"])
        err.exit_code = result["exit_code"]
        raise err
    raise CompareError(f"the {label} worker failed (exit status {code}); its error is above")


def _ranks_value(label: str, nproc: int, watch, code: int):
    """Rank 0's value when every rank finished; else the error naming the failed rank."""
    results = watch.results()
    text = ranks_launch.failure(label, nproc, results, watch.lost, code, watch.killed)
    if text is None:
        return results[0]["value"]
    codes = {r["exit_code"] for r in results.values() if r and not r.get("ok")}
    if EXIT_INTERRUPTED in codes:
        raise KeyboardInterrupt
    err = CompareError(text)
    own = [c for c in codes if c != CompareError.exit_code]  # a rank's own UsageError, ...
    if own and not watch.lost:
        err.exit_code = min(own)
    raise err


def _stop(proc: subprocess.Popen, log) -> None:
    """Let an interrupted worker finish writing its history, then make sure it is gone."""
    try:
        proc.send_signal(signal.SIGINT)  # ignored by a worker that got Ctrl-C already
        out, _ = proc.communicate(timeout=STOP_TIMEOUT)
        for line in (out or "").splitlines():
            log(line)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        proc.kill()
        proc.wait()


# ----- the worker's side ------------------------------------------------------------------
def _interrupt_once(signum, frame):
    """First SIGINT: ``KeyboardInterrupt``; later ones are ignored, so that the history of
    an interrupted run is written in full."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def log(text: str) -> None:
    print(text, flush=True)


def save_state(path, state: dict) -> None:
    """A state (PyTorch's names -> NumPy arrays) as ``.npz``, written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **{k: np.asarray(v) for k, v in state.items()})
    os.replace(tmp, path)


def load_state(path) -> dict:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def prepare(task: dict, probe: Probe) -> dict:
    from .backends import get_backend, seed_all
    from .config import TrainConfig
    from .experiments import get_experiment

    fw = task["framework"]
    ready = get_backend(fw).prepare_runtime()  # before any timed run
    if ready:
        log(ready)
    try:
        device = get_backend(fw).resolve_device(task["device"])
    except Exception as err:  # ValueError, lucid.DeviceError: a device this machine lacks
        raise UsageError(f"--{fw}-device {task['device']}: {err}") from None
    cfg = replace(TrainConfig.from_dict(task["config"]), device=device)
    exp = get_experiment(cfg.experiment)

    def build(seed):
        seed_all(seed, (fw,))
        return get_backend(fw)(replace(cfg, seed=seed), exp.num_classes, exp.input_shape)

    count = build(cfg.seed).count_parameters()
    for seed, path in task.get("init_files", {}).items():
        save_state(path, build(int(seed)).export_state())
    return {"device": device, "param_count": count}


def train(task: dict, probe: Probe) -> dict:
    from . import trajectory
    from .backends import get_backend, seed_all
    from .config import TrainConfig
    from .data import load_data
    from .environment import machine, reset_peak_memory
    from .experiments import get_experiment
    from .history import History
    from .trainer import fit

    fw, label = task["framework"], task["label"]
    cfg = TrainConfig.from_dict(task["config"])
    exp = get_experiment(cfg.experiment)
    data = load_data(cfg.dataset, task.get("data_dir"), download=False, progress=False)
    path, ckpt = Path(task["history"]), Path(task["checkpoint"])
    seed_all(cfg.seed, (fw,))
    backend = get_backend(fw)(cfg, exp.num_classes, exp.input_shape, task["steps"])
    if task.get("init_file"):
        backend.import_state(load_state(task["init_file"]))
        nudge = trajectory.perturbation(task["init"])
        if nudge:
            backend.perturb_ulp(*nudge)
    nproc = int(task.get("nproc", 1))
    if nproc > 1:  # join the other ranks; the model starts from rank 0's state
        backend.init_distributed(nproc)
    lead = backend.rank == 0  # only rank 0 writes the history and the checkpoints

    if task.get("resume"):  # the parent checked the saved history belongs to this run
        history = History.load(path)
        try:
            meta = backend.load_checkpoint(ckpt)
            saved_epoch = int(meta.get("epoch", -1))
        except CompareError:
            raise
        except Exception as err:  # noqa: BLE001 - any damage: CheckpointError, OSError, ...
            raise DamagedFileError(f"--resume: cannot read {ckpt} ({type(err).__name__}: "
                                   f"{err}); start again without --resume") from None
        if saved_epoch != history.completed_epochs:
            raise CompareError(
                f"--resume: {ckpt} holds epoch {meta.get('epoch')} but {path} records "
                f"{history.completed_epochs} finished epochs; start again without --resume")
        history.truncate_to_finished_epochs()
        history["status"], history["message"] = "running", None
        history["config"] = cfg.as_dict()
        if lead:
            log(f"[{label}] resuming after epoch {history.completed_epochs}")
    else:
        history = History.new(task["run"], fw, task["role"], task["seed_index"],
                              cfg.as_dict(), task["overrides"], task["init"])
    fw_env = backend.environment()
    history["param_count"] = task["param_count"]
    history["divergence_tolerance"] = task["divergence_tol"]
    history["nproc"] = nproc
    history["environment"] = {"machine": machine(), "framework": fw_env,
                              "process": {**probe.record(fw_env.get("threads")),
                                          "nproc": nproc}}
    history["data"] = data.describe()
    history["peak_memory_method"] = reset_peak_memory()
    if lead:
        history.save(path)
    else:  # the other ranks keep their history in memory only
        path = ckpt = None
    probe.begin()
    try:
        fit(backend, cfg, data, history, history_file=path, checkpoint_file=ckpt,
            progress=task["progress"] and lead, label=label, log=log if lead else _quiet)
    except BaseException as err:
        # Ctrl-C reaches mlx.launch's ranks, which may first see a peer leave (a failed
        # collective); torchrun's only through its SIGTERM (Stopped). Either way the run
        # was interrupted, and --resume continues it
        if (_interrupted or isinstance(err, Stopped)) and history["status"] != "finished":
            history["status"] = "interrupted"
            history["message"] = (f"interrupted during epoch {history.completed_epochs + 1}; "
                                  "--resume continues from the last finished epoch")
        raise
    finally:
        # nproc: rank 0's record; the other ranks' CPU time counts as other processes'
        history["environment"]["process"] = {**probe.record(fw_env.get("threads")),
                                             "nproc": nproc}
        if lead:
            history.save(path)
    return {"status": history["status"]}


def _quiet(text: str) -> None:
    """The log of ranks other than 0: their lines would repeat rank 0's."""


def bench(task: dict, probe: Probe) -> dict:
    from .bench import measure

    probe.begin()
    res = measure(task["framework"], **task["args"])
    res["environment"]["process"] = probe.record(res["environment"]["framework"].get("threads"))
    return res


TASKS = {"prepare": prepare, "train": train, "bench": bench}


#: whether this rank got SIGINT (Ctrl-C reaches every rank of a --nproc run)
_interrupted = False


def _rank_interrupt(signum, frame):
    global _interrupted
    _interrupted = True
    _interrupt_once(signum, frame)


class Stopped(CompareError):
    """A rank's launcher stopped it (SIGTERM), after another rank ended."""


def _stopped(signum, frame):
    """First SIGTERM of a rank: ``Stopped``; later ones are ignored, so that its result
    (and rank 0's history) is written in full."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Stopped("stopped by its launcher after another rank ended")


def main(argv=None) -> int:
    signal.signal(signal.SIGINT, _interrupt_once)
    argv = sys.argv[1:] if argv is None else argv
    task = json.loads(Path(argv[0]).read_text())
    result_file, ranked = task["result"], int(task.get("nproc", 1)) > 1
    if ranked:  # one rank of several: its own result and PID files
        rank = env_rank()
        result_file = ranks_launch.result_path(task["result"], rank)
        ranks_launch.pid_path(task["result"], rank).write_text(str(os.getpid()))
        signal.signal(signal.SIGTERM, _stopped)
        signal.signal(signal.SIGINT, _rank_interrupt)
    probe = Probe(task.get("previous_workers", ()))
    try:
        result = {"ok": True, "exit_code": EXIT_OK, "value": TASKS[task["task"]](task, probe)}
    except CompareError as err:  # the parent raises it again, with the same exit status
        result = {"ok": False, "exit_code": err.exit_code, "error": str(err)}
    except KeyboardInterrupt:
        result = {"ok": False, "exit_code": EXIT_INTERRUPTED, "error": "interrupted"}
    except Exception as err:  # a rank records why it failed: the parent names the first lost
        if not ranked:
            raise
        # a launcher stopping the ranks must not cut the traceback, and so the result, short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        traceback.print_exc()
        result = {"ok": False, "exit_code": CompareError.exit_code,
                  "error": f"{type(err).__name__}: {err}"}
    if ranked:  # a launcher stopping the ranks must not cut the result short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if _interrupted and not result["ok"]:
            result = {"ok": False, "exit_code": EXIT_INTERRUPTED, "error": "interrupted"}
    write_json_atomic(result_file, result)
    return result["exit_code"]


if __name__ == "__main__":
    raise SystemExit(main())
