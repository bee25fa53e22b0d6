"""The output folder: locked while a run uses it, and a finished run of another config is
not replaced without --force; damaged saved files under --resume and report exit 3."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lucid.compare.cli import main
from lucid.compare.errors import EXIT_DATA, EXIT_USAGE
from lucid.compare.runner import LOCK_NAME, lock_out, unlock_out

#: one framework, 128 images: a run of a few seconds
QUICK = ["run", "--subset", "128", "--test-subset", "100", "--batch-size", "64", "--epochs",
         "1", "--threads", "1", "--no-progress", "--frameworks", "torch"]

#: the first run, in a process of its own, blocked (with the lock held) in its data loading
#: until a line arrives on its stdin; then it trains for real
BLOCKED_RUN = """
import sys
from lucid.compare import cli, runner
real = runner.load_data
def blocked(*a, **k):
    print("waiting", flush=True)
    sys.stdin.readline()
    return real(*a, **k)
runner.load_data = blocked
raise SystemExit(cli.main(sys.argv[1:]))
"""


def _lock_pid(out: Path):
    try:
        return json.loads((out / LOCK_NAME).read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None


def _wait_for(predicate, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_second_run_into_a_folder_in_use_is_refused_and_names_the_first(tmp_path, capsys):
    out = tmp_path / "out"
    first = subprocess.Popen([sys.executable, "-c", BLOCKED_RUN, *QUICK, "--seed", "1",
                              "--out", str(out)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(lambda: _lock_pid(out) == first.pid), "the first run took no lock"
        assert main([*QUICK, "--seed", "2", "--lr", "0.002", "--out", str(out)]) == EXIT_USAGE
        err = capsys.readouterr().err
        assert "in use by another run" in err and f"PID {first.pid}" in err
        assert "--seed 1" in err  # the first run's command line
        assert "Traceback" not in err
        stdout, stderr = first.communicate("go\n", timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, stderr
    history = json.loads((out / "history_torch.json").read_text())
    assert history["status"] == "finished" and history["config"]["seed"] == 1
    assert _lock_pid(out) is None  # released: the file stays, empty


def test_a_killed_runs_lock_does_not_block(tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from lucid.compare.runner import lock_out; "
         "lock_out(sys.argv[1], 'holder'); print('locked', flush=True); time.sleep(120)",
         str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(Exception, match=f"PID {holder.pid}: holder"):
            lock_out(out, "second")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert _lock_pid(out) == holder.pid  # stale content, no holder
    fd = lock_out(out, "third")
    assert _lock_pid(out) == os.getpid()
    unlock_out(fd)


def test_out_that_is_a_file_or_read_only_is_a_usage_error(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main([*QUICK, "--out", str(afile)]) == EXIT_USAGE
    assert "is a file" in capsys.readouterr().err
    if os.geteuid() == 0:
        return  # root writes into read-only folders: nothing to refuse
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert main([*QUICK, "--out", str(ro / "sub")]) == EXIT_USAGE
        assert "cannot be written" in capsys.readouterr().err
    finally:
        ro.chmod(0o700)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished one-framework run (seed 1) to copy."""
    out = tmp_path_factory.mktemp("finished") / "out"
    assert main([*QUICK, "--seed", "1", "--out", str(out)]) == 0
    return out


def _copy(finished, tmp_path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    return out


def test_a_finished_run_of_another_config_is_kept_unless_forced(finished, tmp_path, capsys):
    out = _copy(finished, tmp_path)
    before = (out / "history_torch.json").read_text()
    assert main([*QUICK, "--seed", "2", "--lr", "0.002", "--out", str(out)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "finished run of another config" in err
    assert "lr saved 0.001, now 0.002" in err and "seed saved 1, now 2" in err
    assert "--force" in err and "--resume" in err
    assert (out / "history_torch.json").read_text() == before
    # more epochs of the same config: refused without --resume, continued with it
    assert main([*QUICK, "--seed", "1", "--epochs", "2", "--out", str(out)]) == EXIT_USAGE
    assert "epochs saved 1, now 2" in capsys.readouterr().err
    assert main([*QUICK, "--seed", "1", "--epochs", "2", "--resume", "--out", str(out)]) == 0
    assert len(json.loads((out / "history_torch.json").read_text())["epochs"]) == 2
    assert main([*QUICK, "--seed", "2", "--force", "--out", str(out)]) == 0
    assert json.loads((out / "history_torch.json").read_text())["config"]["seed"] == 2


def test_resume_with_a_damaged_checkpoint_or_history_exits_3(finished, tmp_path, capsys):
    out = _copy(finished, tmp_path)
    (out / "checkpoints" / "torch.pt").write_bytes(b"\x00 not a checkpoint" * 10)
    assert main([*QUICK, "--seed", "1", "--epochs", "2", "--resume", "--out", str(out)]) \
        == EXIT_DATA
    err = capsys.readouterr().err
    assert "cannot read" in err and "torch.pt" in err and "Traceback" not in err
    (out / "history_torch.json").write_text("{not json")
    assert main([*QUICK, "--seed", "1", "--epochs", "2", "--resume", "--out", str(out)]) \
        == EXIT_DATA
    err = capsys.readouterr().err
    assert "history_torch.json is damaged" in err and "Traceback" not in err


def test_report_on_a_history_missing_a_key_exits_3(finished, tmp_path, capsys):
    out = _copy(finished, tmp_path)
    path = out / "history_torch.json"
    history = json.loads(path.read_text())
    del history["epochs"]
    path.write_text(json.dumps(history))
    assert main(["report", str(out)]) == EXIT_DATA
    err = capsys.readouterr().err
    assert "damaged" in err and "'epochs'" in err and "Traceback" not in err
    assert main(["report", str(tmp_path / "missing")]) == EXIT_USAGE
