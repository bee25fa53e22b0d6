"""End to end: ``lucid-compare run`` on a tiny subset in both frameworks (each in a worker)."""


from conftest import read_json
from lucid.compare.cli import main

EPOCH_KEYS = {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "train_time",
              "eval_time", "epoch_time", "train_images", "images_per_s", "num_batches",
              "batch_order_hash", "batch_data_hash", "peak_memory_mb"}


def test_run_writes_histories_plots_and_report(tmp_path, tiny, capsys):
    out = tmp_path / "out"
    assert main(["run", *tiny, "--same-init", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "config differences: none" in printed and "parameters: Lucid 61,706" in printed

    hist = {run: read_json(out / f"history_{run}.json") for run in ("lucid", "torch", "torch_ulp")}
    for run, h in hist.items():
        assert h["status"] == "finished", run
        assert h["param_count"] == 61706
        assert len(h["epochs"]) == 1 and set(h["epochs"][0]) == EPOCH_KEYS
        assert len(h["batch_losses"]) == h["epochs"][0]["num_batches"] == 4
        assert h["config"]["batch_size"] == 32 and h["config"]["subset"] == 128
        assert h["environment"]["framework"]["threads"] == 1
        assert h["peak_memory_mb"] > 10
    assert hist["lucid"]["config"] == hist["torch"]["config"]
    assert hist["lucid"]["init"] == "torch" and hist["torch_ulp"]["init"] == "torch+1ulp"
    assert hist["torch_ulp"]["role"] == "control"
    # the same batches, in the same order, for every run
    hashes = {(h["epochs"][0]["batch_order_hash"], h["epochs"][0]["batch_data_hash"])
              for h in hist.values()}
    assert len(hashes) == 1
    # same initial weights: the first losses agree to float32 rounding
    first = [h["batch_losses"][0] for h in hist.values()]
    assert max(first) - min(first) < 1e-5

    png = out / "compare.png"
    assert png.stat().st_size > 30_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "compare.svg").read_text().lstrip().startswith("<?xml")
    report = (out / "report.md").read_text()
    for text in ("## Summary", "| final test accuracy |",
                 "| parameters | 61,706 | 61,706 | equal |",
                 "identical batches in the identical order", "## Same initial weights",
                 "control: PyTorch vs PyTorch", "| `batch_size` | `32` |",
                 "| `optimizer` | `adam` |", "`compare.png`", "`compare.svg`"):
        assert text in report, text

    # the report is re-rendered from the JSON histories alone
    for name in ("report.md", "compare.png", "compare.svg"):
        (out / name).unlink()
    for p in (out / "checkpoints").iterdir():
        p.unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "report.md").read_text() == report
    assert (out / "compare.png").stat().st_size > 30_000


def test_config_differences_are_printed_and_reported(tmp_path, tiny, capsys):
    out = tmp_path / "out"
    argv = ["run", *tiny, "--scheduler", "step", "--step-size", "5", "--gamma", "0.5",
            "--override", "torch.step_size=10", "--override", "torch.gamma=0.1",
            "--override", "lucid.seed=1", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "config differences (Lucid vs PyTorch):" in printed
    assert "  step_size: 5 vs 10" in printed and "  gamma: 0.5 vs 0.1" in printed
    report = (out / "report.md").read_text()
    assert "differ in 3 field(s)" in report
    assert "| `step_size` | `10` | `5` |" in report and "| `gamma` | `0.1` | `0.5` |" in report
    assert "StepLR(step_size=5, gamma=0.5)" in report
    assert "StepLR(step_size=10, gamma=0.1)" in report
    assert "explicit overrides: step_size=10, gamma=0.1" in report
    # another seed gives another order: the hashes prove it
    assert "The batches differ between the frameworks" in report
    lu, to = (read_json(out / f"history_{f}.json") for f in ("lucid", "torch"))
    assert lu["epochs"][0]["batch_order_hash"] != to["epochs"][0]["batch_order_hash"]
    assert to["overrides"] == {"step_size": 10, "gamma": 0.1}


def test_missing_framework_names_the_extra(tmp_path, tiny, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)
    for name in ("lucid.compare.backends.torch_backend", "lucid.compare.backends.torch_models"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert main(["run", *tiny, "--out", str(tmp_path)]) == 5
    err = capsys.readouterr().err
    assert "PyTorch is not installed" in err and "pip install 'lucid-compare[torch]'" in err


def test_missing_data_exits_3(tmp_path, tiny, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["run", *tiny, "--data-dir", str(empty), "--out", str(tmp_path / "o")]) == 3
    err = capsys.readouterr().err
    assert "MNIST was not found under" in err and "train-images-idx3-ubyte.gz" in err
