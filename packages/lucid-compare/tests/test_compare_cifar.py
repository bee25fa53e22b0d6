"""``resnet18-cifar10`` on the real CIFAR-10 subset beside the repository (skipped without it)."""

import tarfile

import pytest
from conftest import SHARED_DATA, read_json
from lucid.compare.cli import main

ARCHIVE = SHARED_DATA / "cifar-10-mini-python.tar.gz"


@pytest.mark.skipif(not ARCHIVE.exists(), reason=f"no CIFAR-10 subset at {ARCHIVE}")
def test_resnet18_cifar10_tiny_run(tmp_path):
    with tarfile.open(ARCHIVE) as tar:
        tar.extractall(tmp_path / "data", filter="data")
    out = tmp_path / "out"
    argv = ["run", "resnet18-cifar10", "--data-dir", str(tmp_path / "data"), "--subset", "16",
            "--test-subset", "16", "--batch-size", "8", "--epochs", "1", "--threads", "1",
            "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    lu, to = (read_json(out / f"history_{f}.json") for f in ("lucid", "torch"))
    for h in (lu, to):
        assert h["status"] == "finished" and h["param_count"] == 11_173_962
        assert h["data"]["train"] == [5000, 3, 32, 32] and h["data"]["test"] == [2000, 3, 32, 32]
        assert "RandomCrop" in h["data"]["augmentation"]
        assert h["config"]["augment"] is True and h["config"]["weight_decay"] == 5e-4
    # the same augmented batches reached both frameworks
    assert lu["epochs"][0]["batch_data_hash"] == to["epochs"][0]["batch_data_hash"]
    assert (out / "checkpoints" / "lucid.safetensors").exists()
    assert (out / "checkpoints" / "torch.pt").exists()
