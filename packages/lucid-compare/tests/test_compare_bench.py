"""``lucid-compare bench``: each framework timed in its own process, medians and ratios."""

from conftest import read_json
from lucid.compare.bench import PHASES
from lucid.compare.cli import main


def test_bench_writes_table_and_json(tmp_path, capsys):
    argv = ["bench", "lenet5-mnist", "--steps", "2", "--warmup", "1", "--batch-size", "16",
            "--threads", "1", "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| step (median) |" in out and "Lucid/PyTorch" in out
    rep = read_json(tmp_path / "bench_lenet5-mnist.json")
    assert rep["threads"] == 1 and rep["batch_size"] == 16 and rep["eval"] is False
    assert isinstance(rep["env"], dict)
    for fw in ("lucid", "torch"):
        r = rep["results"][fw]
        assert all(r["median_s"][p] > 0 for p in PHASES)
        assert r["images_per_s"] > 0 and r["peak_memory_mb"] > 10
        assert r["param_count"] == 61706
        assert r["environment"]["framework"]["threads"] == 1
    rl, rt = rep["results"]["lucid"], rep["results"]["torch"]
    assert rep["ratios"]["step"] == rl["median_s"]["step"] / rt["median_s"]["step"]
    # each worker is its own process: PyTorch is not loaded in Lucid's
    assert "torchvision" not in rl["environment"]["framework"]


def test_bench_eval_forward_only(tmp_path):
    argv = ["bench", "mlp-mnist", "--eval", "--steps", "2", "--warmup", "1", "--batch-size",
            "8", "--threads", "1", "--frameworks", "lucid", "--out", str(tmp_path)]
    assert main(argv) == 0
    rep = read_json(tmp_path / "bench_mlp-mnist_eval.json")
    assert rep["eval"] is True and list(rep["results"]) == ["lucid"] and rep["ratios"] == {}
    med = rep["results"]["lucid"]["median_s"]
    assert med["forward"] > 0 and med["backward"] is None
