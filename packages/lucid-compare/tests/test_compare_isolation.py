"""Each framework is timed in a process of its own that loaded nothing of the other; the
report says which way its speed rows read, how images/s is defined, under which conditions
the times were taken, and which times are unreliable."""

import json
import os
import subprocess
import sys

import pytest
from conftest import TINY, read_json
from lucid.compare import report
from lucid.compare.conditions import (
    MALLOC_SETTINGS,
    assess,
    engine_modules,
    residual_load,
)
from lucid.compare.config import TrainConfig
from lucid.compare.history import History, history_path
from lucid.compare.runner import RunOptions, plan

#: the command in a fresh interpreter, which then prints its own PID and loaded frameworks
PARENT = """
import json, os, sys
from lucid.compare.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "pid": os.getpid(),
                  "frameworks": sorted(m for m in sys.modules
                                       if m.split(".")[0] in ("torch", "mlx")),
                  "engine": sorted(m for m in sys.modules if m == "lucid._engine")}))
"""


def test_each_framework_trains_in_a_clean_process_of_its_own(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", PARENT, "run", *TINY, "--same-init",
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    parent = json.loads(proc.stdout.strip().splitlines()[-1])
    assert parent["code"] == 0
    assert parent["frameworks"] == [] and parent["engine"] == []  # the parent loaded neither

    hist = {run: read_json(out / f"history_{run}.json") for run in ("torch", "lucid", "torch_ulp")}
    procs = {run: h["environment"]["process"] for run, h in hist.items()}
    pids = {p["pid"] for p in procs.values()}
    assert len(pids) == 3 and parent["pid"] not in pids  # one fresh process per run
    assert {p["parent_pid"] for p in procs.values()} == {parent["pid"]}
    for run in ("torch", "torch_ulp"):
        mods = procs[run]["modules"]
        assert not [m for m in mods if m.split(".")[0] == "mlx"], mods
        assert engine_modules(mods) == [] and "lucid._engine" not in mods, mods
        assert "lucid.compare.backends.torch_backend" in mods and procs[run]["torch_loaded"]
        assert not any("openblasp" in lib for lib in procs[run]["libraries"])
    lucid = procs["lucid"]
    assert "mlx.core" in lucid["modules"] and not lucid["torch_loaded"]
    for p in procs.values():
        assert p["threads"] == 1 and p["usable_cpus"] >= 1
        assert p["env"]["OMP_NUM_THREADS"] == p["env"]["OPENBLAS_NUM_THREADS"] == "1"
        for key, value in MALLOC_SETTINGS.items():
            assert p["env"][key] == os.environ.get(key, value)
        assert len(p["loadavg_start"]) == 3 and len(p["loadavg_end"]) == 3
        assert all(v >= 0 for v in p["loadavg_start"] + p["loadavg_end"])
        assert p["harness_load_start"] >= 0 and p["runnable_others_start"] >= 0
        assert 0 < p["wall_s"] < 300 and 0 < p["cpu_s"]
        assert p["cpu_per_wall"] == pytest.approx(p["cpu_s"] / p["wall_s"])
        assert p["run_queue_wait_s"] >= 0 and p["others_cpu_s"] >= 0
        assert p["others_cpu_per_wall"] == pytest.approx(p["others_cpu_s"] / p["wall_s"])
        assert all(os.path.basename(lib).startswith("lib") for lib in p["libraries"])
    if sys.platform.startswith("linux"):  # PyTorch's Linux wheels bring their own OpenMP
        assert any("omp" in os.path.basename(lib) for lib in procs["torch"]["libraries"])
    assert procs["torch"]["harness_load_start"] > 0  # the prepare workers ran before it
    # every worker read the same batches
    assert len({(h["epochs"][0]["batch_order_hash"], h["epochs"][0]["batch_data_hash"])
                for h in hist.values()}) == 1
    text = (out / "report.md").read_text()
    assert "Measurement conditions:" in text and "One process per framework" in text
    assert "none loaded the other framework" in text


def test_seeds_alternate_which_framework_goes_first():
    base = TrainConfig(seed=3)
    opts = RunOptions(base=base, seeds=3, same_init=True)
    specs = plan(opts, {"torch": base, "lucid": base})
    assert [(s.run, s.init, s.init_seed) for s in specs] == [
        ("torch_seed3", "own", None), ("lucid_seed3", "torch", 3),
        ("torch_ulp", "torch+1ulp", 3),
        ("lucid_seed4", "torch", 4), ("torch_seed4", "own", None),
        ("torch_seed5", "own", None), ("lucid_seed5", "torch", 5)]


# ----- reports from hand-made histories ---------------------------------------------------
def _process(fw: str, **changes) -> dict:
    rec = {"pid": 11 if fw == "torch" else 12, "parent_pid": 10, "usable_cpus": 4,
           "threads": 2, "env": {"OMP_NUM_THREADS": "2", **MALLOC_SETTINGS},
           "modules": ["lucid", "lucid.compare", "lucid.data"] if fw == "torch"
           else ["lucid", "lucid._engine", "mlx", "mlx.core"],
           "torch_loaded": fw == "torch", "libraries": ["/lib/libgomp.so.1"],
           "loadavg_start": [0.3, 0.2, 0.1], "harness_load_start": 0.0,
           "loadavg_end": [2.0, 1.0, 0.5], "runnable_others_start": 0.0, "wall_s": 10.0,
           "cpu_s": 19.0, "cpu_per_wall": 1.9, "others_cpu_s": 1.0,
           "others_cpu_per_wall": 0.1, "run_queue_wait_s": 0.2}
    rec.update(changes)
    return rec


def _history(fw: str, epochs, process) -> History:
    """A finished history: ``epochs`` as ``(train images, train seconds)``."""
    cfg = TrainConfig(epochs=len(epochs), threads=2).as_dict()
    h = History.new(fw, fw, "main", 0, cfg, {}, "own")
    h.update(param_count=1000, status="finished", peak_memory_mb=100.0,
             peak_memory_method="VmHWM (reset at the start of this run)",
             environment={"machine": {}, "framework": {"threads": 2}, "process": process},
             batch_losses=[2.0 - 0.1 * i for i in range(4 * len(epochs))])
    for i, (images, seconds) in enumerate(epochs, 1):
        h["epochs"].append({
            "epoch": i, "train_loss": 1.0, "train_acc": 0.5, "test_loss": 1.0,
            "test_acc": 0.5, "lr": 1e-3, "train_time": seconds, "eval_time": 0.5,
            "epoch_time": seconds + 0.5, "train_images": images,
            "images_per_s": images / seconds, "num_batches": 4, "batch_order_hash": "a",
            "batch_data_hash": "b", "peak_memory_mb": 100.0})
    return h


def test_images_per_s_is_all_images_over_all_training_time():
    # 100 images in 1 s, then 300 in 2 s: 400 / 3 s, not the mean of 100/s and 150/s
    h = _history("torch", [(100, 1.0), (300, 2.0)], _process("torch"))
    assert report.images_per_s(h) == pytest.approx(400 / 3)
    analysis = report.analyse([h, _history("lucid", [(400, 4.0)], _process("lucid"))])
    assert analysis["summary"]["torch"]["images_per_s"] == pytest.approx(400 / 3)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in report.summary_table(analysis)}
    assert rows["train images/s (all training images / all training time; higher is better)"] \
        .startswith("| train images/s") and "| 133 | 100 | 0.75x |" in rows[
        "train images/s (all training images / all training time; higher is better)"]
    assert "epoch time, s (train + eval, mean per epoch; lower is better)" in rows
    assert "peak memory, MiB (lower is better)" in rows
    # a history written before train_images was recorded: images/s times train time
    for e in h["epochs"]:
        del e["train_images"]
    assert report.images_per_s(h) == pytest.approx(400 / 3)


def test_report_marks_times_taken_under_high_load_unreliable(tmp_path):
    busy = _process("torch", loadavg_start=[7.5, 6.0, 5.0], others_cpu_per_wall=3.0)
    for h in (_history("torch", [(400, 2.0)], busy),
              _history("lucid", [(400, 4.0)], _process("lucid"))):
        h.save(history_path(tmp_path, h["run"]))
    text = report.render(tmp_path)["report"].read_text()
    table = text[text.index("## Summary"):text.index("Measurement conditions:")]
    assert "| train images/s (all training images / all training time; higher is better) | " \
           "200 (unreliable) | 100 | 0.50x (unreliable) |" in table
    assert "| timing conditions | UNRELIABLE (why: below the table) | ok |" in table
    assert "**PyTorch's times are unreliable**: 1-minute load average 7.50 at its start, on 4 " \
           "usable CPUs with 2 thread(s) of its own" in table
    assert "other processes kept 3.00 of the 4 usable CPUs busy during its training" in table
    assert "Lucid's times are unreliable" not in table
    conditions = text[text.index("Measurement conditions:"):]
    assert "PyTorch PID 11; Lucid PID 12, each started by PID 10" in conditions
    assert "Threads: PyTorch 2; Lucid 2, on 4 usable CPUs." in conditions
    assert "MALLOC_MMAP_THRESHOLD_=4294967296" in conditions
    assert "PyTorch 7.50 / 2.00" in conditions


def test_assess_reasons():
    clean = _process("torch")
    assert assess("torch", clean) == []
    assert assess("lucid", _process("lucid")) == []
    # a history from the one-process harness has no process record
    assert "not measured in a process of its own" in assess("torch", None)[0]
    dirty = _process("torch", modules=["lucid", "lucid._engine", "mlx", "mlx.core"])
    assert assess("torch", dirty) == [
        "its process had Lucid's engine loaded (lucid._engine, mlx, mlx.core)"]
    assert "had PyTorch loaded" in assess("lucid", _process("lucid", torch_loaded=True))[0]
    assert assess("torch", _process("torch", threads=8)) == ["8 threads on 4 usable CPUs"]
    # load at the start: 2 free CPUs (4 - 2 threads) + 0.5 of slack are allowed ...
    assert assess("torch", _process("torch", loadavg_start=[2.4, 0, 0])) == []
    assert "load average 2.60" in assess("torch", _process("torch", loadavg_start=[2.6, 0, 0]))[0]
    # ... after taking off what the harness's own earlier workers left
    assert assess("torch", _process("torch", loadavg_start=[3.0, 0, 0],
                                    harness_load_start=1.0)) == []
    # other processes' CPU during training: 2 free CPUs + 0.25 allowed
    assert assess("torch", _process("torch", others_cpu_per_wall=2.2)) == []
    assert assess("torch", _process("torch", others_cpu_per_wall=2.3)) == [
        "other processes kept 2.30 of the 4 usable CPUs busy during its training, with 2 "
        "thread(s) of its own"]
    # a --nproc run: its other ranks' threads are its own, not other processes'
    two = {"threads": 1, "nproc": 2}
    assert assess("torch", _process("torch", others_cpu_per_wall=3.2, **two)) == []
    assert assess("torch", _process("torch", others_cpu_per_wall=3.3, **two)) == [
        "other processes kept 3.30 of the 4 usable CPUs busy during its training, with 1 "
        "thread(s) of its own in each of its 2 processes"]
    assert assess("torch", _process("torch", loadavg_start=[2.4, 0, 0], **two)) == []
    assert "load average 2.60" in assess("torch", _process("torch", loadavg_start=[2.6, 0, 0],
                                                           **two))[0]
    starved = _process("torch", cpu_s=4.0, cpu_per_wall=0.4)
    assert assess("torch", starved) == ["CPU-to-wall ratio 0.40: it got less than half a CPU"]


def test_residual_load_of_finished_workers():
    # a worker that kept 2 CPUs busy for 60 s raised the load by 2 (1 - 1/e); a minute
    # after it ended, that has decayed by another factor 1/e
    worker = {"ended": 1000.0, "wall_s": 60.0, "cpu_s": 120.0}
    assert residual_load([worker], now=1000.0) == pytest.approx(2 * (1 - 1 / 2.718281828))
    assert residual_load([worker], now=1060.0) == pytest.approx(
        2 * (1 - 1 / 2.718281828) / 2.718281828)
    assert residual_load([worker, worker], now=1000.0) == pytest.approx(
        2 * residual_load([worker], now=1000.0))
    assert residual_load([]) == 0


def test_lucid_runtime_is_prepared_before_timed_runs(monkeypatch):
    """The native kernels are built in the prepare step (no compile inside a timed epoch):
    Lucid's prepare_runtime asks lucid.native_info, which builds them when none are cached."""
    import lucid
    from lucid.compare.backends import get_backend

    calls = []
    monkeypatch.setattr(lucid, "native_info",
                        lambda: calls.append(1) or {"built_now": True, "path": "/c/k"})
    assert get_backend("lucid").prepare_runtime() == "Lucid: native CPU kernels compiled into /c/k"
    monkeypatch.setattr(lucid, "native_info", lambda: {"built_now": False, "path": "/c/k"})
    assert get_backend("lucid").prepare_runtime() is None
    assert calls == [1]


def test_prepare_task_readies_the_runtime_first(monkeypatch):
    from lucid.compare import backends, worker
    from lucid.compare.conditions import Probe

    order = []

    class Stub:
        def __init__(self, *args):
            order.append("build")

        @staticmethod
        def prepare_runtime():
            order.append("prepare_runtime")
            return "ready"

        @staticmethod
        def resolve_device(name):
            order.append("resolve_device")
            return "cpu"

        def count_parameters(self):
            return 7

    monkeypatch.setattr(backends, "get_backend", lambda fw: Stub)
    monkeypatch.setattr(backends, "seed_all", lambda *a: None)
    task = {"framework": "lucid", "device": "cpu", "init_files": {},
            "config": {"experiment": "lenet5-mnist"}}
    assert worker.prepare(task, Probe(())) == {"device": "cpu", "param_count": 7}
    assert order[0] == "prepare_runtime" and "build" in order
