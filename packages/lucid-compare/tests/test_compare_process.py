"""The console script and ``python -m lucid.compare`` as separate processes: exit statuses."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("lucid-compare")


def run(*args, cwd=None):
    return subprocess.run(list(args), capture_output=True, text=True, cwd=cwd, timeout=300)


def test_console_script_unknown_experiment_exits_2(tmp_path):
    proc = run(str(SCRIPT), "run", "alexnet-imagenet", cwd=tmp_path)
    assert proc.returncode == 2
    assert "invalid choice: 'alexnet-imagenet'" in proc.stderr
    assert "'lenet5-mnist', 'mlp-mnist', 'resnet18-cifar10'" in proc.stderr
    assert not (tmp_path / "lucid-compare-out").exists()


def test_module_missing_cifar_exits_3(tmp_path):
    empty = tmp_path / "nodata"
    empty.mkdir()
    proc = run(sys.executable, "-m", "lucid.compare", "run", "resnet18-cifar10", "--data-dir",
               str(empty), "--no-progress", "--out", str(tmp_path / "out"))
    assert proc.returncode == 3, proc.stderr
    assert "CIFAR-10 was not found under" in proc.stderr
    assert "cifar-10-python.tar.gz" in proc.stderr
