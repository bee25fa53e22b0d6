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
    signs = res["lucid_relu_signs"]
    assert signs["calls_matched"] and signs["relu_calls"] == (0 if n_params == 10 else 17)
    assert signs["max_grad_rel"] <= 1e-3  # PyTorch with Lucid's ReLU signs
    # above the tolerance only where some ReLU input sits within rounding of zero
    assert res["max_grad_rel"] <= 1e-3 or (
        signs["calls_with_flips"] > 0 and signs["largest_flip_rel"] <= 1e-5)
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


def test_parity_with_lucid_signs_still_catches_a_wrong_gradient(monkeypatch, capsys):
    from lucid.compare.backends.lucid_backend import LucidBackend

    original = LucidBackend.gradients

    def one_off(self):
        grads = original(self)
        grads["1.weight"] = grads["1.weight"] * np.float32(1.01)
        return grads

    monkeypatch.setattr(LucidBackend, "gradients", one_off)
    assert main(["parity", "mlp-mnist"]) == 1
    out = capsys.readouterr().out
    assert "no sign differs" in out and "FAIL" in out.splitlines()[-1]


def test_torch_relus_with_lucid_signs_record_the_flips():
    torch = pytest.importorskip("torch")
    from lucid.compare.relu_signs import torch_relus_with_signs

    model = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.ReLU())
    x = torch.tensor([[-2.0, -0.25, 0.5, 4.0]])
    first = np.array([[False, True, True, True]])  # -0.25 taken as positive
    second = np.array([[False, True, True, False]])  # 4.0 taken as negative
    with torch_relus_with_signs(model, [first, second]) as record:
        out = model(x)
    assert record.used == 2
    assert record.flipped == [0.25 / 4.0, 1.0]
    assert record.largest_flip == 1.0
    assert out.tolist() == [[0.0, -0.25, 0.5, 0.0]]
    assert model(x).tolist() == [[0.0, 0.0, 0.5, 4.0]]  # plain ReLUs again afterwards
    with pytest.raises(IndexError, match="more ReLUs"), torch_relus_with_signs(model, [first]):
        model(x)


def test_parity_reports_relu_calls_that_do_not_match(monkeypatch, tmp_path, capsys):
    from lucid.compare import relu_signs

    monkeypatch.setattr(relu_signs, "lucid_relu_signs", lambda model, xb: [])
    path = tmp_path / "parity.json"
    assert main(["parity", "mlp-mnist", "--json", str(path)]) == 0  # the plain check passes
    signs = read_json(path)["lucid_relu_signs"]
    assert signs["relu_calls"] == 0 and signs["calls_matched"] is False
    assert "NOT matched" in capsys.readouterr().out
