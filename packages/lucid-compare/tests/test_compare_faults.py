"""Faults and fairness checks of ``lucid-compare run``: refused comparisons, Ctrl-C and
``--resume``, NaN losses, several seeds."""

import math
import os
import subprocess
import sys

import pytest
from conftest import read_json
from lucid.compare.cli import main


def test_parameter_count_mismatch_is_refused(tmp_path, tiny, capsys):
    out = tmp_path / "out"
    argv = ["run", "mlp-mnist", *tiny, "--override", "lucid.hidden=64,32", "--out", str(out)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "different parameter counts (Lucid 52,650, PyTorch 235,146)" in err
    assert "--force" in err
    assert not list(out.glob("history_*.json"))
    assert main([*argv, "--force"]) == 0
    assert "| parameters | 235,146 | 52,650 | DIFFERENT |" in (out / "report.md").read_text()
    assert main(["report", str(out)]) == 1
    assert "refusing to compare" in capsys.readouterr().err
    assert main(["report", str(out), "--force"]) == 0


#: imported by every Python process started with ``PYTHONPATH`` on its folder: in the process
#: that loads Lucid's backend (Lucid's worker), the N-th training step presses Ctrl-C, that
#: is, sends SIGINT to the whole process group (the command and its worker), or to the
#: command alone (which must pass it on)
CTRL_C_HOOK = """
import importlib.abc, importlib.util, os, signal, sys, time

TARGET = "lucid.compare.backends.lucid_backend"
AT = int(os.environ["LUCID_COMPARE_TEST_CTRL_C_AT"])
ONLY_PARENT = os.environ.get("LUCID_COMPARE_TEST_CTRL_C_TO") == "parent"


class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            cls, step, calls = module.LucidBackend, module.LucidBackend.train_step, [0]

            def train_step(self, x, y):
                calls[0] += 1
                if calls[0] == AT:
                    if ONLY_PARENT:
                        os.kill(os.getppid(), signal.SIGINT)
                    else:
                        os.killpg(0, signal.SIGINT)
                    time.sleep(60)
                return step(self, x, y)

            cls.train_step = train_step

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, Finder())
"""


def run_with_ctrl_c(argv, at: int, tmp_path, to: str = "group") -> subprocess.CompletedProcess:
    """``python -m lucid.compare *argv`` in a session of its own, Ctrl-C at Lucid's step ``at``
    sent to the process group (``to="group"``) or to the command alone (``"parent"``)."""
    hook = tmp_path / "ctrl_c_hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(CTRL_C_HOOK)
    env = {**os.environ, "LUCID_COMPARE_TEST_CTRL_C_AT": str(at),
           "LUCID_COMPARE_TEST_CTRL_C_TO": to,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "lucid.compare", *argv], env=env,
                          capture_output=True, text=True, timeout=600, start_new_session=True)


def test_interrupt_then_resume_continues_the_same_run(tmp_path, tiny, capsys):
    argv = ["run", *tiny, "--epochs", "2"]
    ref = tmp_path / "ref"
    assert main([*argv, "--out", str(ref)]) == 0
    expected = read_json(ref / "history_lucid.json")

    # Ctrl-C at the second batch of Lucid's second epoch (the 6th step of 4 per epoch)
    out = tmp_path / "out"
    proc = run_with_ctrl_c([*argv, "--out", str(out)], 6, tmp_path)
    assert proc.returncode == 130, proc.stderr
    assert "interrupted: the histories on disk are valid" in proc.stdout
    h = read_json(out / "history_lucid.json")
    assert h["status"] == "interrupted" and "--resume" in h["message"]
    assert len(h["epochs"]) == 1 and len(h["batch_losses"]) == 5
    assert read_json(out / "history_torch.json")["status"] == "finished"
    assert (out / "report.md").exists()  # a report of what was recorded

    capsys.readouterr()
    assert main([*argv, "--out", str(out), "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "[PyTorch] already done" in printed and "[Lucid] resuming after epoch 1" in printed
    h = read_json(out / "history_lucid.json")
    assert h["status"] == "finished" and [e["epoch"] for e in h["epochs"]] == [1, 2]
    assert h["batch_losses"] == pytest.approx(expected["batch_losses"], rel=1e-6)
    for got, want in zip(h["epochs"], expected["epochs"], strict=True):
        assert got["batch_data_hash"] == want["batch_data_hash"]
        assert got["test_loss"] == pytest.approx(want["test_loss"], rel=1e-6)

    # resuming with another config is refused
    assert main([*argv, "--out", str(out), "--resume", "--lr", "0.1"]) == 2
    assert "was run with another config (lr: saved 0.001, now 0.1)" in capsys.readouterr().err


def test_ctrl_c_to_the_command_alone_reaches_the_worker(tmp_path, tiny):
    out = tmp_path / "out"
    argv = ["run", *tiny, "--frameworks", "lucid", "--out", str(out)]
    proc = run_with_ctrl_c(argv, 2, tmp_path, to="parent")
    assert proc.returncode == 130, proc.stderr
    h = read_json(out / "history_lucid.json")
    assert h["status"] == "interrupted" and len(h["batch_losses"]) == 1 and not h["epochs"]


def test_a_device_the_machine_lacks_is_a_usage_error(tmp_path, tiny, capsys):
    if sys.platform == "darwin":
        pytest.skip("MPS may exist on macOS; this checks a device that cannot")
    assert main(["run", *tiny, "--torch-device", "mps", "--out", str(tmp_path)]) == 2
    assert "--torch-device mps: PyTorch's MPS backend is not available here" in \
        capsys.readouterr().err


def test_nan_loss_stops_the_run_and_the_report_is_still_written(tmp_path, tiny):
    out = tmp_path / "out"
    assert main(["run", "mlp-mnist", *tiny, "--lr", "1e6", "--out", str(out)]) == 4
    for fw in ("lucid", "torch"):
        h = read_json(out / f"history_{fw}.json")
        assert h["status"] == "diverged" and "loss became nan" in h["message"]
        assert h["batch_losses"][-1] is None and not h["epochs"]
        assert all(v is None or math.isfinite(v) for v in h["batch_losses"])
    report = (out / "report.md").read_text()
    assert "**Lucid: diverged**" in report and "**PyTorch: diverged**" in report


def test_seeds_give_mean_std_and_welch(tmp_path, tiny):
    out = tmp_path / "out"
    assert main(["run", *tiny, "--subset", "64", "--seeds", "2", "--out", str(out)]) == 0
    for fw in ("lucid", "torch"):
        seeds = [read_json(out / f"history_{fw}_seed{s}.json")["config"]["seed"] for s in (0, 1)]
        assert seeds == [0, 1]
    report = (out / "report.md").read_text()
    assert "## Seeds" in report and "Runs per framework: PyTorch 2, Lucid 2" in report
    assert "Welch's t-test" in report and "| test_acc |" in report
