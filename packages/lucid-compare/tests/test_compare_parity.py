"""``lucid-compare parity``: PyTorch's weights in Lucid, one batch, differences in tolerance."""

import numpy as np
import pytest
from conftest import read_json
from lucid.compare.cli import main


@pytest.mark.parametrize("experiment, n_params", [("lenet5-mnist", 10), ("resnet18-cifar10", 62)])
def test_parity_within_tolerances(experiment, n_params, tmp_path, capsys):
    path = tmp_path / "parity.json"
    assert main(["parity", experiment, "--json", str(path)]) == 0
    res = read_json(path)
    assert res["passed"] is True
    assert res["logits_max_abs_diff"] <= 1e-4
    assert res["max_grad_rel"] <= 1e-3
    assert len(res["grads"]) == n_params and not res["missing_grads"]
    assert res["loss"]["abs_diff"] < 1e-5
    assert res["buffers_max_abs_diff"] < 1e-4  # BatchNorm running statistics
    out = capsys.readouterr().out
    assert "logits   max |diff|" in out and "PASS" in out
    assert "fc3.weight" in out if experiment == "lenet5-mnist" else "layer4.1.conv2.weight" in out


def test_parity_detects_a_wrong_weight(monkeypatch, capsys):
    from lucid.compare.backends.lucid_backend import LucidBackend

    original = LucidBackend.import_state

    def off_by_a_little(self, state):
        state = dict(state)
        state["fc2.weight"] = np.asarray(state["fc2.weight"]) * np.float32(1.001)
        original(self, state)

    monkeypatch.setattr(LucidBackend, "import_state", off_by_a_little)
    assert main(["parity", "lenet5-mnist"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out.splitlines()[-1]
