"""The report from hand-made histories: every seed and its mean ± std, effect sizes (95% CI
of the difference, smallest detectable difference), the ``--same-init`` control's own
column, partial last batches, how peak memory was measured, and a 1-epoch subset run."""

import math
import statistics

import pytest
from lucid.compare import plots, report
from lucid.compare.config import TrainConfig
from lucid.compare.history import History, history_path
from lucid.compare.stats import effect_size, student_t_quantile, welch_t_test

# two-sided 5% critical values t_0.975 and the one-sided 20% ones t_0.8 (standard tables)
T975 = {1: 12.706, 2: 4.303, 4: 2.776, 10: 2.228, 30: 2.042}
T80 = {2: 1.061, 4: 0.941, 10: 0.879}


@pytest.mark.parametrize("df", sorted(T975))
def test_t_quantile_matches_the_table(df):
    assert student_t_quantile(0.975, df) == pytest.approx(T975[df], abs=5e-4)
    assert student_t_quantile(0.025, df) == pytest.approx(-T975[df], abs=5e-4)


def test_t_quantile_closed_forms_and_limits():
    for q in (0.6, 0.8, 0.95, 0.999):
        # df = 1 (Cauchy): tan(pi (q - 1/2)); df = 2: (2q - 1) sqrt(2 / (4 q (1 - q)))
        assert student_t_quantile(q, 1) == pytest.approx(math.tan(math.pi * (q - 0.5)),
                                                         rel=1e-10)
        assert student_t_quantile(q, 2) == pytest.approx(
            (2 * q - 1) * math.sqrt(2 / (4 * q * (1 - q))), rel=1e-10)
    for df, t in T80.items():
        assert student_t_quantile(0.8, df) == pytest.approx(t, abs=5e-4)
    assert student_t_quantile(0.975, 1e7) == pytest.approx(1.959964, abs=1e-5)
    assert student_t_quantile(0.5, 3) == 0.0 and math.isnan(student_t_quantile(0.9, 0))
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        student_t_quantile(1.0, 3)


def test_effect_size_by_hand():
    # equal variances and n: Welch's df = 2 (n - 1) = 4, so the table's t values apply
    a, b = [0.29, 0.31, 0.33], [0.30, 0.32, 0.34]
    se = math.sqrt(statistics.variance(a) / 3 + statistics.variance(b) / 3)
    assert se == pytest.approx(math.sqrt(2 * 0.0004 / 3))
    e = effect_size(a, b)
    assert e.df == pytest.approx(4.0) and e.se == pytest.approx(se)
    assert e.diff == pytest.approx(-0.01)
    assert e.ci_low == pytest.approx(-0.01 - 2.776445 * se, abs=1e-6)
    assert e.ci_high == pytest.approx(-0.01 + 2.776445 * se, abs=1e-6)
    assert e.detectable == pytest.approx((2.776445 + 0.940965) * se, abs=1e-6)
    # unequal samples: the interval excludes 0 exactly when Welch's p < 0.05
    for x, y in (([1.0, 1.1, 0.9, 1.05], [1.5, 1.6, 1.4]), ([1.0, 1.2, 0.8], [1.1, 0.9, 1.3])):
        e, w = effect_size(x, y), welch_t_test(x, y)
        assert (e.ci_low > 0 or e.ci_high < 0) == (w.p < 0.05)
    assert math.isnan(effect_size([1.0], [1.0, 2.0]).detectable)


# ----- hand-made histories ------------------------------------------------------------------
def _process(pid: int) -> dict:
    return {"pid": pid, "parent_pid": 10, "usable_cpus": 4, "threads": 1, "env": {},
            "modules": [], "torch_loaded": False, "libraries": [],
            "loadavg_start": [0.1, 0.1, 0.1], "harness_load_start": 0.0,
            "loadavg_end": [0.1, 0.1, 0.1], "runnable_others_start": 0.0, "wall_s": 10.0,
            "cpu_s": 10.0, "cpu_per_wall": 1.0, "others_cpu_s": 0.0,
            "others_cpu_per_wall": 0.0, "run_queue_wait_s": 0.0}


def _history(fw, *, role="main", seed=0, init="own", test_acc=(0.5,), images=512,
             batch_size=64, losses=None, lr=1e-3, memory=100.0, pid=11, **cfg) -> History:
    epochs = len(test_acc)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                         **cfg).as_dict()
    run = fw if role == "main" else "torch_ulp"
    h = History.new(f"{run}_seed{seed}", fw, role, seed, config, {}, init)
    nb = -(-images // batch_size)
    h.update(param_count=1000, status="finished", peak_memory_mb=memory,
             peak_memory_method="VmHWM (reset at the start of this run)",
             environment={"machine": {}, "framework": {}, "process": _process(pid)},
             batch_losses=list(losses) if losses is not None
             else [2.0 - 0.01 * i for i in range(nb * epochs)],
             data={"source": "CIFAR-10 from /data", "train": [50000, 3, 32, 32],
                   "test": [10000, 3, 32, 32],
                   "train_transform": "Normalize(mean=(0.49140000343322754, "
                                      "0.48215827345848083), std=(0.2470322549343109,))",
                   "augmentation": None})
    for i, acc in enumerate(test_acc, 1):
        h["epochs"].append({
            "epoch": i, "train_loss": 1.5 - 0.1 * i, "train_acc": acc - 0.05,
            "test_loss": 1.6 - 0.1 * i, "test_acc": acc, "lr": lr, "train_time": 2.0,
            "eval_time": 0.5, "epoch_time": 2.5, "train_images": images,
            "images_per_s": images / 2.0, "num_batches": nb, "batch_order_hash": "a",
            "batch_data_hash": "b", "peak_memory_mb": memory})
    return h


def _save(tmp_path, histories):
    for h in histories:
        h.save(history_path(tmp_path, h["run"]))
    return report.render(tmp_path)


TORCH_ACC = [0.30, 0.32, 0.34]  # seed 0 is PyTorch's worst here, Lucid's...
LUCID_ACC = [0.33, 0.29, 0.31]  # ...best: the seed-0 pair alone would reverse the sign


@pytest.fixture
def seeds_run(tmp_path):
    hs = [_history("torch", seed=s, test_acc=(0.2, a), pid=20 + s)
          for s, a in enumerate(TORCH_ACC)]
    hs += [_history("lucid", seed=s, test_acc=(0.2, a), pid=30 + s, memory=120.0 + s)
           for s, a in enumerate(LUCID_ACC)]
    return _save(tmp_path, hs)


def _row(text: str, title: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| {title} |"))


def test_seeds_summary_shows_mean_std_and_every_seed(seeds_run):
    text = seeds_run["report"].read_text()
    mt, st = statistics.mean(TORCH_ACC), statistics.stdev(TORCH_ACC)
    ml, sl = statistics.mean(LUCID_ACC), statistics.stdev(LUCID_ACC)
    assert (mt, st) == pytest.approx((0.32, 0.02)) and (ml, sl) == pytest.approx((0.31, 0.02))
    head = text.splitlines()[text.splitlines().index("## Summary") + 2]
    assert "PyTorch (mean ± std of n=3 seeds; each seed)" in head
    assert "Lucid (mean ± std of n=3 seeds; each seed)" in head
    assert _row(text, "final test accuracy") == (
        f"| final test accuracy | {mt:.4f} ± {st:.4f} (0.3000, 0.3200, 0.3400) | "
        f"{ml:.4f} ± {sl:.4f} (0.3300, 0.2900, 0.3100) | {ml - mt:+.4f} |")
    mem = statistics.mean([120.0, 121.0, 122.0])
    assert f"| {mem:.0f} ± 1 (120, 121, 122) | {mem / 100:.2f}x |" in _row(
        text, "peak memory, MiB (lower is better)")


def test_seeds_effect_size_and_words(seeds_run):
    text = seeds_run["report"].read_text()
    se = math.sqrt(0.02 ** 2 / 3 + 0.02 ** 2 / 3)  # df = 4
    lo, hi = -0.01 - 2.776445 * se, -0.01 + 2.776445 * se
    mde = (2.776445 + 0.940965) * se
    row = _row(text, "test_acc")
    assert f"| -0.0100 | [{lo:+.4f}, {hi:+.4f}] | {mde:.4f} |" in row
    t = -0.01 / se
    assert f"| {t:.3f} | 4.00 |" in row
    p = welch_t_test(LUCID_ACC, TORCH_ACC).p
    assert (f"- test_acc: no detectable difference (p = {p:.2f}; 95% CI of Lucid - PyTorch "
            f"{100 * lo:.1f} points to +{100 * hi:.1f} points); with 3 seeds a gap below "
            f"{100 * mde:.1f} points cannot be ruled out") in text
    eff = seeds_run["analysis"]["seeds"]["metrics"]["test_acc"]["effect"]
    assert eff.detectable == pytest.approx(mde, abs=1e-6)


def test_seeds_picture_draws_every_seed_and_the_mean(seeds_run, tmp_path):
    from matplotlib.figure import Figure

    assert (tmp_path / "compare.png").stat().st_size > 10_000
    ax = Figure().subplots()
    runs = seeds_run["analysis"]["runs"]
    plots._train_test_panel(ax, {"torch": runs["torch"]}, "acc", "accuracy")
    mean_lines = [ln for ln in ax.get_lines() if ln.get_label().startswith("PyTorch test")]
    assert [ln.get_label() for ln in mean_lines] == ["PyTorch test (mean ± std, n=3)"]
    assert list(mean_lines[0].get_ydata()) == pytest.approx([0.2, 0.32])
    assert len(ax.get_lines()) == 2 * (3 + 1)  # train and test: 3 seeds thin, 1 mean
    assert len(ax.collections) == 2  # the two ± std bands


SAME_INIT_TORCH = [2.0 - 0.02 * i for i in range(80)]


@pytest.fixture
def same_init_run(tmp_path):
    # 5,000 images in batches of 128: 39 full batches and one of 8, per epoch
    lucid = [v + 1e-4 * (i % 40 + 1) for i, v in enumerate(SAME_INIT_TORCH)]
    control = [v + 5e-5 * (i % 40 + 1) for i, v in enumerate(SAME_INIT_TORCH)]
    lucid[39] += 0.05  # the partial batch of epoch 1 gives the largest difference
    kw = {"images": 5000, "batch_size": 128, "subset": 5000}
    hs = [_history("torch", test_acc=(0.45, 0.50), losses=SAME_INIT_TORCH, memory=3700.0,
                   **kw),
          _history("lucid", test_acc=(0.46, 0.531), losses=lucid, init="torch", memory=3845.0,
                   pid=12, **kw),
          _history("torch", role="control", test_acc=(0.47, 0.536), losses=control,
                   init="torch+1ulp", memory=3923.0, pid=13, **kw)]
    return _save(tmp_path, hs)


def test_same_init_control_has_its_own_columns(same_init_run):
    text = same_init_run["report"].read_text()
    head = text.splitlines()[text.splitlines().index("## Summary") + 2]
    assert head.endswith("| Lucid vs PyTorch | control (PyTorch, +1 ULP init) | "
                         "control vs PyTorch |")
    assert _row(text, "final test accuracy") == (
        "| final test accuracy | 0.5000 | 0.5310 | +0.0310 | 0.5360 | +0.0360 |")
    assert _row(text, "parameters") == "| parameters | 1,000 | 1,000 | equal | 1,000 | equal |"
    labels = []
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    plots._train_test_panel(ax, same_init_run["analysis"]["columns"], "acc", "accuracy")
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert "control (+1 ULP) test" in labels and "control (+1 ULP) train" in labels


def test_partial_last_batch_is_left_out_of_the_largest_difference(same_init_run):
    div = same_init_run["analysis"]["divergence"]["framework"]
    assert div["partial"] == {40: 8, 80: 8}
    full = [1e-4 * (i % 40 + 1) / max(1.0, abs(v)) for i, v in enumerate(SAME_INIT_TORCH)
            if i not in (39, 79)]
    assert div["max_diff"] == pytest.approx(max(full), rel=1e-6)
    assert div["partial_max_diff"] == pytest.approx((4e-3 + 0.05) / SAME_INIT_TORCH[39],
                                                    rel=1e-6)
    text = same_init_run["report"].read_text()
    assert "largest difference (full batches) | largest at a partial last batch |" in text
    assert "Partial last batches (batch 40 (8 images), batch 80 (8 images))" in text


def test_peak_memory_method_per_run_and_data_line(same_init_run):
    text = same_init_run["report"].read_text()
    method = "VmHWM (reset at the start of this run)"
    assert f"  - PyTorch: 3,700 MiB, {method}, in its own worker process (PID 11)" in text
    assert f"  - Lucid: 3,845 MiB, {method}, in its own worker process (PID 12)" in text
    assert (f"  - control (PyTorch, +1 ULP init): 3,923 MiB, {method}, in its own worker "
            "process (PID 13)") in text
    assert "train [5000, 3, 32, 32] (first 5000 of 50000), test [10000, 3, 32, 32]" in text
    assert "Normalize(mean=(0.4914, 0.4822), std=(0.247,))" in text
    assert "0.49140000343322754" not in text


def test_one_epoch_subset_run(tmp_path):
    from matplotlib.figure import Figure

    out = _save(tmp_path, [_history("torch", subset=512), _history("lucid", pid=12, subset=512)])
    text = out["report"].read_text()
    w = out["analysis"]["smoothing_window"]
    assert w == 3  # 8 batches: one window for the curve and the noise, never "of 1"
    assert "noise (std of batch loss - its centred mean of 3 batches)" in text
    assert "centred moving average over 3 batches), the window of the smoothed curve" in text
    assert "train [512, 3, 32, 32] (first 512 of 50000)" in text
    ax_acc, ax_lr = Figure().subplots(1, 2)
    plots._train_test_panel(ax_acc, out["analysis"]["columns"], "acc", "accuracy")
    plots._epoch_ticks(ax_acc, 1)
    assert list(ax_acc.get_xticks()) == [1]
    plots._lr_panel(ax_lr, out["analysis"]["primary"])
    assert ax_lr.get_legend() is None and not ax_lr.get_lines()
    assert [t.get_text() for t in ax_lr.texts] == ["constant learning rate 0.001\n(never changes)"]
    assert ax_lr.get_yscale() == "linear"


def test_changing_learning_rate_is_drawn(tmp_path):
    from matplotlib.figure import Figure

    hs = {fw: _history(fw, test_acc=(0.3, 0.4, 0.5)) for fw in ("torch", "lucid")}
    for h in hs.values():
        for e, lr in zip(h["epochs"], (1e-1, 1e-2, 1e-3), strict=True):
            e["lr"] = lr
    ax = Figure().subplots()
    plots._lr_panel(ax, hs)
    assert len(ax.get_lines()) == 2 and ax.get_yscale() == "log" and not ax.texts
