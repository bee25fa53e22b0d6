"""ConstantLR, MultiplicativeLR, CyclicLR and ReduceLROnPlateau against PyTorch's: the same
rates (and momenta) over 100 steps for several option sets, and state dict round trips."""

import math
import warnings

import lucid
import lucid.optim as optim
import numpy as np
import pytest
import torch
from lucid.optim import lr_scheduler as lsched
from optim_parity import assert_params_close, gradient_sequence, initial_params, make_params
from test_optim_lr_scheduler import _optimizers, _round_trip_through_a_checkpoint, _run, _same
from torch.optim import lr_scheduler as tsched

SCHEDULERS = [
    ("ConstantLR", dict()),
    ("ConstantLR", dict(factor=0.5, total_iters=30)),
    ("ConstantLR", dict(factor=1.0, total_iters=3)),
    ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.95)),
    ("MultiplicativeLR", dict(lr_lambda=lambda e: 1.0 if e % 10 else 0.5)),
    ("MultiplicativeLR", dict(lr_lambda=[lambda e: 0.99, lambda e: 1.0 + 0.01 * (e % 3 - 1)])),
]


@pytest.mark.parametrize("name, kwargs", SCHEDULERS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULERS)])
def test_rates_match_torch_over_100_steps(name, kwargs):
    lopt, topt = _optimizers()
    ls, ts = getattr(lsched, name)(lopt, **kwargs), getattr(tsched, name)(topt, **kwargs)
    _run(lopt, topt, ls, ts)
    assert lopt.param_groups[0]["initial_lr"] == 0.1


def test_constant_lr_changes_the_rate_only_until_total_iters():
    lopt, _ = _optimizers()
    sched = lsched.ConstantLR(lopt, factor=0.5, total_iters=2)
    rates = [sched.get_last_lr()[0]]
    for _ in range(3):
        lopt.step()
        sched.step()
        rates.append(sched.get_last_lr()[0])
    np.testing.assert_allclose(rates, [0.05, 0.05, 0.1, 0.1])


def test_constant_lr_epoch_argument_uses_the_closed_form_like_torch():
    lopt, topt = _optimizers()
    ls = lsched.ConstantLR(lopt, factor=0.25, total_iters=4)
    ts = tsched.ConstantLR(topt, factor=0.25, total_iters=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in (2, 6, 1, 4):
            lopt.step()
            topt.step()
            ls.step(epoch)
            ts.step(epoch)
            _same(ls.get_last_lr(), ts.get_last_lr())


# ----- CyclicLR -----------------------------------------------------------------------------
class HalfEachCycle:
    def __init__(self, base):
        self.base = base

    def __call__(self, x):
        return self.base ** (x - 1)


CYCLIC = [
    dict(base_lr=0.01, max_lr=0.1, step_size_up=10),
    dict(base_lr=[0.01, 0.001], max_lr=[0.1, 0.05], step_size_up=7, step_size_down=13,
         mode="triangular2"),
    dict(base_lr=0.01, max_lr=0.1, step_size_up=5, mode="exp_range", gamma=0.98),
    dict(base_lr=0.01, max_lr=0.1, step_size_up=8, base_momentum=[0.7, 0.6],
         max_momentum=0.95),
    dict(base_lr=0.01, max_lr=0.1, step_size_up=6, scale_fn=HalfEachCycle(0.7)),
    dict(base_lr=0.01, max_lr=0.1, step_size_up=6, scale_fn=lambda x: 0.99**x,
         scale_mode="iterations"),
]


@pytest.mark.parametrize("cycle_momentum", [True, False])
@pytest.mark.parametrize("kwargs", CYCLIC, ids=range(len(CYCLIC)))
@pytest.mark.parametrize("cls_name, key", [("SGD", "momentum"), ("Adam", "betas")])
def test_cyclic_rates_and_momenta_match_torch(kwargs, cls_name, key, cycle_momentum):
    extra = dict(momentum=0.9) if cls_name == "SGD" else {}
    lopt, topt = _optimizers(cls_name, **extra)
    ls = lsched.CyclicLR(lopt, cycle_momentum=cycle_momentum, **kwargs)
    ts = tsched.CyclicLR(topt, cycle_momentum=cycle_momentum, **kwargs)
    _run(lopt, topt, ls, ts, steps=100, momentum_key=key if cycle_momentum else None)
    rates = ls.get_last_lr()
    assert all(lo <= r <= hi + 1e-12 for r, lo, hi in zip(rates, ls.base_lrs, ls.max_lrs,
                                                          strict=True))
    if not cycle_momentum:
        assert [g.get("momentum", 0.9) for g in lopt.param_groups] == [0.9, 0.9]


def test_cyclic_lr_triangular_shape():
    lopt, _ = _optimizers()
    sched = lsched.CyclicLR(lopt, base_lr=0.0, max_lr=1.0, step_size_up=2, step_size_down=4,
                            cycle_momentum=False)
    rates = [sched.get_last_lr()[0]]
    for _ in range(8):
        lopt.step()
        sched.step()
        rates.append(sched.get_last_lr()[0])
    np.testing.assert_allclose(rates, [0, 0.5, 1, 0.75, 0.5, 0.25, 0, 0.5, 1])


def test_cyclic_lr_drives_sgd_momentum_like_torch():
    lp, tp = make_params(initial_params())
    lopt = optim.SGD(lp, lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(tp, lr=0.1, momentum=0.9)
    kwargs = dict(base_lr=0.01, max_lr=0.1, step_size_up=4, mode="triangular2")
    ls, ts = lsched.CyclicLR(lopt, **kwargs), tsched.CyclicLR(topt, **kwargs)
    for grads in gradient_sequence(30):
        for a, b, g in zip(lp, tp, grads, strict=True):
            a.grad, b.grad = lucid.tensor(g), torch.tensor(g)
        lopt.step()
        topt.step()
        ls.step()
        ts.step()
    assert_params_close(lp, tp)


# ----- ReduceLROnPlateau ----------------------------------------------------------------------
def _metrics(n=100, seed=3):
    """A loss-like sequence: falling, with noise, plateaus and a few relapses."""
    rng = np.random.default_rng(seed)
    values, level = [], 2.0
    for t in range(n):
        if t % 25 < 12:
            level *= 0.97
        values.append(level + 0.002 * rng.standard_normal() + (0.05 if t % 17 == 0 else 0.0))
    return values


PLATEAU = [
    dict(),
    dict(patience=2),
    dict(mode="max", patience=3, factor=0.5),
    dict(patience=1, threshold=0.01, threshold_mode="abs"),
    dict(mode="max", patience=2, threshold=0.005, threshold_mode="abs", cooldown=4),
    dict(patience=0, cooldown=2, factor=0.3, min_lr=0.004),
    dict(patience=1, factor=0.5, min_lr=[1e-3, 2e-4], eps=1e-4),
    dict(patience=3, threshold=0.0),
    dict(patience=1, threshold=0.03),  # relative: 3% of a best that falls from 2 to 0.5
    dict(mode="max", patience=1, threshold=0.03),
]


@pytest.mark.parametrize("kwargs", PLATEAU, ids=range(len(PLATEAU)))
def test_plateau_rates_match_torch_over_100_steps(kwargs):
    lopt, topt = _optimizers()
    ls = lsched.ReduceLROnPlateau(lopt, **kwargs)
    ts = tsched.ReduceLROnPlateau(topt, **kwargs)
    rising = kwargs.get("mode") == "max"  # then an accuracy-like metric: 3 - loss
    _same(ls.get_last_lr(), ts.get_last_lr())
    for value in _metrics():
        value = 3.0 - value if rising else value
        lopt.step()
        topt.step()
        ls.step(value)
        ts.step(value)
        _same(ls.get_last_lr(), ts.get_last_lr())
        _same([g["lr"] for g in lopt.param_groups], [g["lr"] for g in topt.param_groups])
        assert (ls.num_bad_epochs, ls.cooldown_counter, ls.last_epoch) == (
            ts.num_bad_epochs, ts.cooldown_counter, ts.last_epoch)
        assert ls.best == ts.best
    assert ls.get_last_lr()[0] < 0.1, "the rate was never reduced"


def test_plateau_accepts_a_tensor_metric_and_respects_min_lr():
    lopt, _ = _optimizers()
    sched = lsched.ReduceLROnPlateau(lopt, patience=0, factor=0.5, min_lr=0.03)
    for _ in range(6):
        sched.step(lucid.tensor(1.0))
    assert sched.get_last_lr() == [0.03, 0.02]


# ----- state dicts -----------------------------------------------------------------------------
class Decay:
    def __init__(self, rate):
        self.rate = rate

    def __call__(self, epoch):
        return self.rate


def _drive(sched, opt, i):
    opt.step()
    if isinstance(sched, lsched.ReduceLROnPlateau):
        sched.step(_metrics()[i])
    else:
        sched.step()


@pytest.mark.parametrize("make", [
    lambda o: lsched.ConstantLR(o, factor=0.5, total_iters=15),
    lambda o: lsched.MultiplicativeLR(o, [Decay(0.9), lambda e: 0.95]),
    lambda o: lsched.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4, mode="exp_range",
                              gamma=0.99),
    lambda o: lsched.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4,
                              scale_fn=HalfEachCycle(0.5)),
    lambda o: lsched.ReduceLROnPlateau(o, patience=1, cooldown=2, factor=0.5),
], ids=["ConstantLR", "MultiplicativeLR", "CyclicLR", "CyclicLR-scale_fn", "Plateau"])
def test_state_dict_round_trip_through_a_checkpoint(make, tmp_path):
    _round_trip_through_a_checkpoint(make, tmp_path, _drive, _spoil_decay)


def _spoil_decay(sched):
    if hasattr(sched, "lr_lambdas"):
        sched.lr_lambdas[0].rate = 0.0  # restored from the checkpoint


def test_plateau_state_dict_keeps_an_infinite_best(tmp_path):
    lopt, _ = _optimizers()
    sched = lsched.ReduceLROnPlateau(lopt, mode="max")
    lucid.save(sched.state_dict(), tmp_path / "s.safetensors")
    loaded = lucid.load(tmp_path / "s.safetensors")
    assert loaded["best"] == -math.inf
    sched.load_state_dict(loaded)
    assert sched.mode_worse == -math.inf


def test_new_scheduler_argument_errors():
    lopt, _ = _optimizers()
    adagrad = optim.Adagrad([lucid.ones(1)])
    cases = [
        (lambda: lsched.ConstantLR(lopt, factor=1.5), "factor=1.5 must be in"),
        (lambda: lsched.MultiplicativeLR(lopt, [lambda e: 1.0]), "expected 2 lr_lambdas, got 1"),
        (lambda: lsched.MultiplicativeLR(lopt, 0.5), "lr_lambda should be a function"),
        (lambda: lsched.CyclicLR(lopt, 0.01, 0.1, mode="sine"), "mode 'sine'"),
        (lambda: lsched.CyclicLR(lopt, [0.1] * 3, 0.2), "base_lr has 3 values"),
        (lambda: lsched.CyclicLR(adagrad, 0.01, 0.1), "momentum or betas"),
        (lambda: lsched.CyclicLR(object(), 0.01, 0.1), "not an Optimizer"),
        (lambda: lsched.ReduceLROnPlateau(lopt, factor=1.0), "must be < 1.0"),
        (lambda: lsched.ReduceLROnPlateau(lopt, mode="low"), "mode 'low'"),
        (lambda: lsched.ReduceLROnPlateau(lopt, threshold_mode="pct"), "threshold_mode 'pct'"),
        (lambda: lsched.ReduceLROnPlateau(lopt, min_lr=[0.0] * 3), "expected 2 min_lrs"),
        (lambda: lsched.ReduceLROnPlateau(object()), "not an Optimizer"),
    ]
    for make, message in cases:
        with pytest.raises(optim.OptimizerError, match=message):
            make()
    sched = lsched.ReduceLROnPlateau(lopt, patience=0, min_lr=[0.0, 0.0])
    lopt.add_param_group({"params": [lucid.ones(1, requires_grad=True)], "lr": 0.3})
    sched.step(1.0)
    with pytest.raises(optim.OptimizerError, match="3 param groups but min_lr has 2"):
        sched.step(2.0)
