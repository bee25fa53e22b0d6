"""``lucid-compare bench``: each framework timed in its own process, medians and ratios."""

import os

from conftest import read_json
from lucid.compare.bench import (
    MALLOC_SETTINGS,
    PHASES,
    combine,
    report_path,
    round_order,
    run_bench,
    worker_env,
)
from lucid.compare.cli import build_parser, main
from lucid.compare.conditions import assess, engine_modules


def test_bench_writes_table_and_json(tmp_path, capsys):
    argv = ["bench", "lenet5-mnist", "--steps", "2", "--warmup", "1", "--batch-size", "16",
            "--threads", "1", "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| step, median (lower is better) |" in out and "Lucid/PyTorch" in out
    assert "| images/s (batch / median step; higher is better) |" in out
    rep = read_json(tmp_path / "bench_lenet5-mnist_b16.json")
    assert rep["threads"] == 1 and rep["batch_size"] == 16 and rep["eval"] is False
    assert isinstance(rep["env"], dict)
    assert rep["rounds"] == 1 and rep["orders"] == [["lucid", "torch"]]
    for key in MALLOC_SETTINGS:  # the same allocator settings for both workers, recorded
        assert rep["malloc"][key] == rep["env"][key]
        assert {rep["results"][fw]["environment"]["machine"]["env"][key]
                for fw in ("lucid", "torch")} == {rep["malloc"][key]}
    for fw in ("lucid", "torch"):
        r = rep["results"][fw]
        assert all(r["median_s"][p] > 0 for p in PHASES)
        assert r["images_per_s"] > 0 and r["peak_memory_mb"] > 10
        assert r["param_count"] == 61706
        assert r["environment"]["framework"]["threads"] == 1
        # memory once the model is built, without the loops; the loops' own increase
        assert 10 < r["memory_after_build_mb"] <= r["peak_memory_mb"]
        assert r["loop_peak_memory_mb"] <= r["peak_memory_mb"]
        assert r["loop_memory_increase_mb"] == (r["loop_peak_memory_mb"]
                                                - r["memory_after_build_mb"])
        for loop in ("phases", "step"):
            c = r["cpu"][loop]
            assert c["wall_s"] > 0 and c["cpu_s"] > 0
            assert c["cpu_per_wall"] == c["cpu_s"] / c["wall_s"]
        assert len(r["loadavg"]) == 1  # one per round
        assert len(r["loadavg"][0]["start"]) == 3 and len(r["loadavg"][0]["end"]) == 3
        assert len(r["rounds"]) == 1 and r["rounds"][0]["median_s"] == r["median_s"]
    rl, rt = rep["results"]["lucid"], rep["results"]["torch"]
    assert rep["ratios"]["step"] == rl["median_s"]["step"] / rt["median_s"]["step"]
    # each worker is its own process: PyTorch is not loaded in Lucid's, nor Lucid's engine
    # in PyTorch's
    assert "torchvision" not in rl["environment"]["framework"]
    procs = {fw: rep["results"][fw]["environment"]["process"] for fw in ("lucid", "torch")}
    assert len({p["pid"] for p in procs.values()} | {os.getpid()}) == 3
    assert {p["parent_pid"] for p in procs.values()} == {os.getpid()}
    assert engine_modules(procs["torch"]["modules"]) == [] and procs["torch"]["torch_loaded"]
    assert "mlx.core" in procs["lucid"]["modules"] and not procs["lucid"]["torch_loaded"]
    # per round, the reasons to distrust the times, judged from the same records
    assert rep["unreliable"] == {fw: [assess(fw, procs[fw])] for fw in ("lucid", "torch")}


def test_bench_eval_forward_only(tmp_path):
    argv = ["bench", "mlp-mnist", "--eval", "--steps", "2", "--warmup", "1", "--batch-size",
            "8", "--threads", "1", "--frameworks", "lucid", "--out", str(tmp_path)]
    assert main(argv) == 0
    rep = read_json(tmp_path / "bench_mlp-mnist_b8_eval.json")
    assert rep["eval"] is True and list(rep["results"]) == ["lucid"] and rep["ratios"] == {}
    med = rep["results"]["lucid"]["median_s"]
    assert med["forward"] > 0 and med["backward"] is None
    assert set(rep["results"]["lucid"]["cpu"]) == {"forward"}


def test_bench_rounds_alternate_and_take_medians(tmp_path, capsys):
    args = build_parser().parse_args(
        ["bench", "mlp-mnist", "--steps", "1", "--warmup", "0", "--batch-size", "4",
         "--threads", "1", "--out", str(tmp_path)])
    args.rounds = 3
    assert run_bench(args) == 0
    assert "3 round(s)" in capsys.readouterr().out
    rep = read_json(report_path(tmp_path, "mlp-mnist", 4, False))
    assert rep["rounds"] == 3
    assert rep["orders"] == [["lucid", "torch"], ["torch", "lucid"], ["lucid", "torch"]]
    for fw in ("lucid", "torch"):
        r = rep["results"][fw]
        assert len(r["rounds"]) == 3
        steps = sorted(x["median_s"]["step"] for x in r["rounds"])
        assert r["median_s"]["step"] == steps[1]


def test_bench_file_names_separate_batch_sizes_and_modes(tmp_path):
    names = {report_path(tmp_path, "resnet18-cifar10", b, e).name
             for b in (32, 128) for e in (False, True)}
    assert names == {"bench_resnet18-cifar10_b32.json", "bench_resnet18-cifar10_b128.json",
                     "bench_resnet18-cifar10_b32_eval.json",
                     "bench_resnet18-cifar10_b128_eval.json"}


def test_worker_env_sets_malloc_unless_set():
    env = worker_env(3, base={"PATH": "/bin"})
    assert {k: env[k] for k in MALLOC_SETTINGS} == {k: "4294967296" for k in MALLOC_SETTINGS}
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "3"
    env = worker_env(1, base={"MALLOC_MMAP_THRESHOLD_": "65536"})
    assert env["MALLOC_MMAP_THRESHOLD_"] == "65536"
    assert env["MALLOC_TRIM_THRESHOLD_"] == "4294967296"


def test_round_order_alternates():
    assert [round_order(["lucid", "torch"], r) for r in range(3)] == [
        ["lucid", "torch"], ["torch", "lucid"], ["lucid", "torch"]]


def test_combine_takes_medians_over_rounds():
    def res(step, peak, cpu):
        return {"framework": "lucid", "median_s": {"forward": step / 2, "step": step},
                "min_s": {"forward": step / 4, "step": step / 2},
                "peak_memory_mb": peak, "memory_after_build_mb": 50.0,
                "loop_peak_memory_mb": peak, "loop_memory_increase_mb": peak - 50.0,
                "cpu": {"step": {"wall_s": 1.0, "cpu_s": cpu, "cpu_per_wall": cpu}},
                "loadavg": {"start": [1.0, 1.0, 1.0], "end": None}, "param_count": 7}

    c = combine([res(0.3, 100.0, 2.0), res(0.1, 300.0, 1.0), res(0.2, 200.0, 4.0)], 10)
    assert c["median_s"] == {"forward": 0.1, "step": 0.2}
    assert c["min_s"] == {"forward": 0.025, "step": 0.05}
    assert c["images_per_s"] == 10 / 0.2
    assert c["peak_memory_mb"] == 200.0 and c["loop_memory_increase_mb"] == 150.0
    assert c["cpu"]["step"]["cpu_s"] == 2.0
    assert [r["median_s"]["step"] for r in c["rounds"]] == [0.3, 0.1, 0.2]
    assert len(c["loadavg"]) == 3
