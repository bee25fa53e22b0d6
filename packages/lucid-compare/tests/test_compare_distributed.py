"""``lucid-compare run --nproc 2``: data-parallel runs on the loopback (Lucid through
``mlx.launch --backend ring``, PyTorch through ``torchrun`` with gloo) train the same
model as one process with the same global batch, and a lost rank fails the run.

Each test trains the MLP for one epoch on a few hundred MNIST-sample images; the subset
leaves a last batch of odd size, which the ranks share unevenly (27 + 26 images)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import read_json
from lucid.compare.cli import main
from lucid.compare.launch import _alive, mlx_launcher

#: 8 batches of 64 and a last one of 53 (not divisible by 2)
SMALL = ["mlp-mnist", "--subset", "565", "--batch-size", "64", "--test-subset", "150",
         "--epochs", "1", "--threads", "1", "--no-progress"]

pytestmark = pytest.mark.skipif(mlx_launcher() is None,
                                reason="MLX's launcher mlx.launch is not installed")


def _run(out: Path, *args) -> dict:
    assert main(["run", *SMALL, "--out", str(out), *args]) == 0
    return {p.stem.removeprefix("history_"): read_json(p) for p in out.glob("history_*.json")}


def _lucid_params(path) -> dict:
    import lucid

    return {k: np.asarray(v.numpy()) for k, v in lucid.load(path)["model"].items()}


def _torch_params(path) -> dict:
    import torch

    return {k: v.numpy() for k, v in torch.load(path, weights_only=True)["model"].items()}


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def _check_same_training(one: dict, two: dict) -> None:
    """Two histories of the same run, in 1 and in 2 processes."""
    assert one["status"] == two["status"] == "finished"
    assert one.get("nproc", 1) == 1 and two["nproc"] == 2
    e1, e2 = one["epochs"][0], two["epochs"][0]
    # the same global batches, in the same order, all 565 images
    for key in ("batch_order_hash", "batch_data_hash", "num_batches", "train_images"):
        assert e1[key] == e2[key], key
    assert e2["train_images"] == 565 and e2["num_batches"] == 9
    np.testing.assert_allclose(two["batch_losses"], one["batch_losses"], rtol=1e-5, atol=1e-6)
    for key in ("train_loss", "test_loss"):
        assert e2[key] == pytest.approx(e1[key], rel=1e-5)
    assert e2["train_acc"] == e1["train_acc"] and e2["test_acc"] == e1["test_acc"]
    assert e2["grad_sync_time"] > 0 and e2["metric_sync_time"] > 0
    assert e2["grad_sync_time"] < e2["train_time"]


@pytest.mark.parametrize("fw", ["lucid", "torch"])
def test_two_processes_train_as_one(tmp_path, fw):
    one = _run(tmp_path / "one", "--frameworks", fw)[fw]
    two = _run(tmp_path / "two", "--frameworks", fw, "--nproc", "2")[fw]
    _check_same_training(one, two)
    ext, params = ("safetensors", _lucid_params) if fw == "lucid" else ("pt", _torch_params)
    p1 = params(tmp_path / "one" / "checkpoints" / f"{fw}.{ext}")
    p2 = params(tmp_path / "two" / "checkpoints" / f"{fw}.{ext}")
    assert _max_diff(p1, p2) < 1e-5
    # only rank 0 wrote: one history, one checkpoint
    assert sorted(p.name for p in (tmp_path / "two").glob("history_*")) == [f"history_{fw}.json"]
    assert [p.name for p in (tmp_path / "two" / "checkpoints").iterdir()] == [f"{fw}.{ext}"]


def test_lucid_equals_torch_from_the_same_init_in_two_processes(tmp_path):
    # without the trajectory check's five extra runs (each a torchrun or mlx.launch)
    runs = _run(tmp_path, "--same-init", "--nproc", "2", "--trajectory-steps", "0")
    lucid, torch = runs["lucid"], runs["torch"]
    assert lucid["init"] == "torch" and lucid["nproc"] == torch["nproc"] == 2
    assert lucid["epochs"][0]["batch_data_hash"] == torch["epochs"][0]["batch_data_hash"]
    # as test_compare_run's single-process same-init check: float32 rounding
    a, b = np.array(lucid["batch_losses"]), np.array(torch["batch_losses"])
    assert abs(a[0] - b[0]) < 1e-5
    assert np.max(np.abs(a - b) / np.maximum(1, np.abs(b))) < 1e-3
    p_lucid = _lucid_params(tmp_path / "checkpoints" / "lucid.safetensors")
    p_torch = _torch_params(tmp_path / "checkpoints" / "torch.pt")
    assert _max_diff(p_lucid, p_torch) < 1e-3


@pytest.mark.parametrize("fw", ["lucid", "torch"])
def test_a_killed_rank_fails_the_run_naming_it(tmp_path, fw):
    """SIGKILL rank 1 during training: the run ends within a bounded time with exit
    status 1 and an error naming rank 1; rank 0 does not outlive it."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "lucid.compare", "run", *SMALL, "--epochs", "200",
           "--frameworks", fw, "--nproc", "2", "--out", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 60
        pid_file = None
        while time.monotonic() < deadline and proc.poll() is None:
            found = list(tmp_path.glob("lucid-compare-*/result.json.rank1.pid"))
            history = tmp_path / "out" / f"history_{fw}.json"
            if found and history.exists() and read_json(history)["epochs"]:
                pid_file = found[0]
                break
            time.sleep(0.1)
        assert pid_file is not None, proc.communicate(timeout=30)
        rank0 = int(Path(str(pid_file).replace("rank1", "rank0")).read_text())
        killed_at = time.monotonic()
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert time.monotonic() - killed_at < 45
    assert proc.returncode == 1, err
    assert "rank 1 exited without finishing" in err, err
    assert not _alive(rank0)  # rank 0 did not outlive the run
    # what rank 0 finished is kept for --resume
    history = read_json(tmp_path / "out" / f"history_{fw}.json")
    assert history["status"] in ("failed", "interrupted") and history["epochs"]


@pytest.mark.parametrize("args, message", [
    (["--nproc", "65"], "--nproc 65 is larger than the batch size 64"),
    (["--nproc", "0"], "--nproc: 0 is not valid"),
    (["--nproc", "2", "--subset", "1"], "larger than the 1 training images"),
    (["--nproc", "4", "--subset", "66"], "the last batch holds 2 image(s)"),
    (["--scaling"], "--scaling compares a --nproc run"),
])
def test_bad_nproc_is_a_usage_error_before_any_work(tmp_path, capsys, args, message):
    assert main(["run", *SMALL, "--out", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not list((tmp_path / "out").glob("history_*"))


def test_a_port_in_use_is_a_usage_error(tmp_path, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["run", *SMALL, "--out", str(tmp_path / "out"), "--nproc", "2",
                     "--frameworks", "lucid", "--port", str(port)]) == 2
    assert f"port {port} on 127.0.0.1 is in use" in capsys.readouterr().err


def test_resume_continues_a_two_process_run(tmp_path):
    """One epoch in 2 processes, then --resume to 2 epochs: the same run as 2 epochs in
    one process."""
    one = _run(tmp_path / "one", "--frameworks", "lucid", "--epochs", "2")["lucid"]
    _run(tmp_path / "two", "--frameworks", "lucid", "--nproc", "2")
    two = _run(tmp_path / "two", "--frameworks", "lucid", "--nproc", "2", "--epochs", "2",
               "--resume")["lucid"]
    assert [e["epoch"] for e in two["epochs"]] == [1, 2] and two["status"] == "finished"
    np.testing.assert_allclose(two["batch_losses"], one["batch_losses"], rtol=1e-5, atol=1e-6)
    assert two["epochs"][1]["batch_data_hash"] == one["epochs"][1]["batch_data_hash"]


def test_scaling_runs_the_one_process_baseline_and_reports_it(tmp_path):
    from lucid.compare.history import load_histories
    from lucid.compare.scaling import scaling_section

    main_run = _run(tmp_path, "--frameworks", "lucid", "--nproc", "2", "--scaling")["lucid"]
    base = read_json(tmp_path / "scaling" / "history_lucid.json")
    assert base["nproc"] == 1 and base["status"] == "finished"
    assert base["environment"]["framework"]["threads"] == 2  # 2 ranks x 1 thread
    rec = main_run["scaling_baseline"]
    assert rec["threads"] == 2 and rec["batches_compared"] == 9
    assert rec["max_batch_loss_diff"] < 1e-5
    assert [e["epoch_time"] for e in rec["epochs"]] == [e["epoch_time"] for e in base["epochs"]]

    lines = scaling_section(load_histories(tmp_path))
    text = "\n".join(lines)
    assert lines[0] == "## Scaling (2 processes)"
    for row in ("| processes x threads each | 2 x 1 |", "| 1 process: processes x threads | 1 x 2 |",
                "| communication share of training |", "| speed-up (2 processes vs 1) |"):
        assert row in text, row
    share = next(r for r in lines if r.startswith("| communication share"))
    assert 0 < float(share.split("|")[2].strip().removesuffix(" %")) < 100


def test_scaling_section_is_empty_for_one_process_and_says_when_no_baseline():
    from lucid.compare.scaling import scaling_section

    epoch = {"epoch": 1, "train_time": 2.0, "epoch_time": 2.5, "images_per_s": 100.0,
             "grad_sync_time": 0.5, "metric_sync_time": 0.1}
    h = {"framework": "torch", "role": "main", "seed_index": 0, "nproc": 2,
         "environment": {"framework": {"threads": 1}}, "epochs": [epoch]}
    assert scaling_section([{**h, "nproc": 1}]) == []
    text = "\n".join(scaling_section({"primary": {"torch": h}}))
    assert "| communication share of training | 25.0 % |" in text
    assert "| gradient all-reduce per epoch | 0.500 s |" in text
    assert "No 1-process baseline here" in text
    h["scaling_baseline"] = {"threads": 2, "epochs": [{"epoch_time": 4.0, "train_time": 3.5}],
                             "max_batch_loss_diff": 2e-7}
    text = "\n".join(scaling_section([h]))
    assert "| speed-up (2 processes vs 1) | 1.60x |" in text
    assert "| efficiency (speed-up / processes) | 0.80 |" in text
    assert "| largest batch-loss difference from 1 process | 2.0e-07 |" in text


def test_ctrl_c_interrupts_every_rank_and_resume_continues(tmp_path):
    """SIGINT to the whole process group (Ctrl-C in a terminal) during a 2-process run:
    exit 130, rank 0's history marked interrupted, and --resume finishes it."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "lucid.compare", "run", *SMALL, "--epochs", "200",
           "--frameworks", "lucid", "--nproc", "2", "--out", str(out)]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            history = out / "history_lucid.json"
            if history.exists() and read_json(history)["epochs"]:
                break
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    history = read_json(out / "history_lucid.json")
    assert history["status"] == "interrupted", history["message"]
    done = len(history["epochs"])
    assert done >= 1
    resumed = _run(out, "--frameworks", "lucid", "--nproc", "2", "--epochs", str(done + 1),
                   "--resume")["lucid"]
    assert resumed["status"] == "finished" and len(resumed["epochs"]) == done + 1
    # the finished epochs are kept as they were; the unfinished one is trained again
    assert resumed["batch_losses"][:9 * done] == history["batch_losses"][:9 * done]


@pytest.mark.parametrize("fw, missing, message", [
    ("lucid", "mlx_launcher", "--nproc needs MLX's launcher `mlx.launch`"),
    ("torch", "_torchrun_available", "--nproc needs PyTorch's launcher"),
])
def test_a_missing_launcher_is_a_usage_error(tmp_path, capsys, monkeypatch, fw, missing,
                                             message):
    from lucid.compare import launch

    monkeypatch.setattr(launch, missing, lambda: None)
    assert main(["run", *SMALL, "--out", str(tmp_path / "out"), "--nproc", "2",
                 "--frameworks", fw]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before the output folder is touched
