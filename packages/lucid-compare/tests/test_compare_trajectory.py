"""The trajectory check (band of one-ULP controls, phases, verdict) and the verdict lines."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import read_json
from lucid.compare import report, trajectory, verdicts
from lucid.compare.cli import main

REF = 0.5  # a reference loss below 1: divergence = |loss - 0.5| exactly as written


def _losses(divs):
    return [REF + d for d in divs]


# ----- the band, by hand ----------------------------------------------------------------------
def test_band_membership_by_hand():
    up = [1e-7, 2e-7, 1e-4, 1e-3]
    down = [3e-7, 1e-7, 2e-4, 4e-3]
    lucid = [2e-6, 5e-6, 3e-3, 5e-2]
    # batch 1: 2e-6 <= 10 * 3e-7 = 3e-6 -> inside
    # batch 2: 5e-6 >  10 * 2e-7 = 2e-6, and above the 1e-6 floor -> outside
    # batch 3: 3e-3 <= 10 * 2e-4 = 2e-3? no -> outside
    # batch 4: 5e-2 > 4e-2 -> outside
    t = trajectory.check(_losses(lucid), [REF] * 4, {"up": _losses(up), "down": _losses(down)})
    hi = [max(a, b) for a, b in zip(up, down, strict=True)]
    lo = [min(a, b) for a, b in zip(up, down, strict=True)]
    np.testing.assert_allclose(t["band_high"], hi, rtol=1e-6)
    np.testing.assert_allclose(t["band_low"], lo, rtol=1e-6)
    assert t["first_outside"] == 2
    assert t["growth"]["inside"] == 1 and t["growth"]["batches"] == 4
    assert not t["followed"]


def test_floor_and_closer_than_every_control_are_inside():
    controls = {"up": _losses([0.0, 1e-3, 1e-2]), "down": _losses([0.0, 2e-3, 1e-2])}
    # batch 1: 9e-7 against a band of 0: inside only through the floor (1e-6)
    t = trajectory.check(_losses([9e-7, 0.0, 1e-9]), [REF] * 3, controls)
    assert t["first_outside"] is None and t["followed"]
    t = trajectory.check(_losses([2e-6, 0.0, 1e-9]), [REF] * 3, controls)
    assert t["first_outside"] == 1


def test_phases_growth_then_plateau_by_hand():
    c1 = [1e-7, 1e-5, 1e-3, 1e-2, 1e-2, 1e-2, 1e-2, 1e-2]
    c2 = [2e-7, 2e-5, 2e-3, 8e-3, 1.2e-2, 1e-2, 9e-3, 1.1e-2]
    c3 = [1e-7, 1e-5, 4e-3, 1e-2, 1e-2, 1.1e-2, 1e-2, 1e-2]
    # last half (batches 5-8) of all three: median 1e-2 = plateau level L; the controls'
    # median per batch first reaches L / 2 at batch 4; third and fourth quarter: 1e-2 each
    ph = trajectory.phases([trajectory.divergence(_losses(c), [REF] * 8) for c in (c1, c2, c3)])
    assert ph["plateau_level"] == pytest.approx(1e-2, rel=1e-6)
    assert ph["plateau_start"] == 4 and ph["levelled"]
    lucid = [1e-7, 5e-5, 1e-2, 5e-2, 5e-1, 1e-2, 1e-2, 1e-2]
    # growth 1-3: 5e-5 <= 10 * 2e-5; 1e-2 <= 10 * 4e-3 -> 3/3; plateau 4-8: batch 5
    # (0.5 > 10 * 1.2e-2) outside -> 4/5 = 80% < 90%
    t = trajectory.check(_losses(lucid), [REF] * 8,
                         {"a": _losses(c1), "b": _losses(c2), "c": _losses(c3)})
    assert (t["growth"]["first"], t["growth"]["last"], t["growth"]["inside"]) == (1, 3, 3)
    assert (t["plateau"]["first"], t["plateau"]["last"], t["plateau"]["inside"]) == (4, 8, 4)
    assert t["growth"]["followed"] and not t["plateau"]["followed"] and not t["followed"]
    assert t["speaks_for"] == 3 and t["first_outside"] == 5
    assert "does NOT follow" in trajectory.verdict(t)
    assert "speaks for the first 3 steps" in trajectory.verdict(t)


def test_controls_at_rounding_level_never_level_off():
    tiny = [1e-8, 0.0, 3e-8, 1e-8, 0.0, 2e-8, 1e-8, 1e-8]
    t = trajectory.check(_losses(tiny), [REF] * 8, {"a": _losses(tiny), "b": _losses(tiny[::-1])})
    assert t["plateau"] is None and t["plateau_start"] is None
    assert t["growth"]["batches"] == 8 and t["speaks_for"] == 8 and t["followed"]
    assert "do not level off" in trajectory.verdict(t)


def test_perturbation_names_round_trip():
    for name, nudge in trajectory.CONTROLS.items():
        assert trajectory.perturbation(trajectory.CONTROL_INITS[name]) == nudge
    assert trajectory.perturbation("own") is None and trajectory.perturbation("torch") is None


@pytest.mark.parametrize("direction,weights", [("up", "all"), ("down", "all"), ("up", "even")])
def test_perturb_ulp_moves_one_ulp(direction, weights):
    pytest.importorskip("torch", reason="PyTorch is an optional dependency of lucid-compare")
    from lucid.compare.backends import get_backend
    from lucid.compare.cli import full_dataset
    from lucid.compare.experiments import get_experiment

    exp = get_experiment("mlp-mnist")
    backend = get_backend("torch")(full_dataset(exp, False), exp.num_classes, exp.input_shape, 1)
    before = backend.export_state()
    backend.perturb_ulp(direction, weights)
    after = backend.export_state()
    target = np.float32(np.inf if direction == "up" else -np.inf)
    for k in backend.parameter_names():
        a, b = before[k].reshape(-1), after[k].reshape(-1)
        moved = np.nextafter(a, target)
        if weights == "all":
            np.testing.assert_array_equal(b, moved)
        else:
            np.testing.assert_array_equal(b[0::2], moved[0::2])
            np.testing.assert_array_equal(b[1::2], a[1::2])


# ----- the verdict lines -----------------------------------------------------------------------
def _summary(acc, train_time, unreliable=()):
    return {"test_acc": acc, "train_time": train_time, "unreliable": list(unreliable)}


def test_accuracy_line_one_seed_points_to_seeds():
    a = {"summary": {"lucid": _summary(0.93, 1.0), "torch": _summary(0.92, 2.0)}, "seeds": None}
    line = verdicts.accuracy_line(a)
    assert "0.9300 vs PyTorch's 0.9200 (+1.00 points)" in line and "--seeds N" in line


def test_speed_line_ratio_and_unreliable_reason():
    a = {"summary": {"lucid": _summary(0.9, 1.5), "torch": _summary(0.9, 2.0)}}
    assert "0.75x PyTorch's (faster than PyTorch" in verdicts.speed_line(a)
    a["summary"]["torch"]["unreliable"] = ["load average 3.0"]
    line = verdicts.speed_line(a)
    assert line.startswith("Speed: not measured reliably") and "load average 3.0" in line


# ----- a run, and reports rendered from its histories ---------------------------------------------
@pytest.fixture(scope="module")
def trajectory_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("trajectory") / "out"
    argv = ["run", "mlp-mnist", "--subset", "256", "--test-subset", "64", "--batch-size", "32",
            "--epochs", "1", "--threads", "1", "--no-progress", "--trajectory-steps", "6",
            "--out", str(out)]
    return out, main(argv)


def test_default_run_has_the_trajectory_check_and_three_verdicts(trajectory_run, capsys):
    out, code = trajectory_run
    assert code == 0
    runs = {p.name for p in out.glob("history_trajectory_*.json")}
    assert runs == {f"history_trajectory_{r}.json" for r in
                    ("torch", "lucid", "control_up", "control_down", "control_even")}
    ref = read_json(out / "history_trajectory_torch.json")
    assert len(ref["batch_losses"]) == 6 and ref["config"]["subset"] == 6 * 32
    text = (out / "report.md").read_text()
    verdict = text.split("## Verdict", 1)[1].split("## Summary", 1)[0]
    lines = [ln for ln in verdict.splitlines() if ln.startswith("- ")]
    assert [ln.split(":")[0] for ln in lines] == ["- Trajectory", "- Accuracy", "- Speed"]
    assert "Lucid follows PyTorch" in lines[0]
    assert "## Trajectory check" in text
    # the lines come first on the page, before the summary table
    assert text.index("## Verdict") < text.index("## Summary")


def test_a_lucid_that_leaves_the_band_is_reported(trajectory_run, tmp_path):
    out, _ = trajectory_run
    bad = tmp_path / "bad"
    bad.mkdir()
    for p in out.glob("history_*.json"):
        (bad / p.name).write_bytes(p.read_bytes())
    h = json.loads((bad / "history_trajectory_lucid.json").read_text())
    h["batch_losses"][3] += 0.05  # batch 4: 0.05 / max(1, loss) above 10x every control
    (bad / "history_trajectory_lucid.json").write_text(json.dumps(h))
    result = report.render(bad)
    t = result["analysis"]["trajectory"]
    assert t["first_outside"] == 4 and not t["followed"]
    ref = read_json(out / "history_trajectory_torch.json")["batch_losses"]
    assert t["lucid"][3] == pytest.approx(abs(h["batch_losses"][3] - ref[3])
                                          / max(1.0, abs(ref[3])), rel=1e-9)
    text = (bad / "report.md").read_text()
    assert "Lucid does NOT follow PyTorch" in text and "at batch 4" in text
    assert not math.isnan(t["band_high"][3])
