"""Learning-rate schedulers against PyTorch's: the same rates (and momenta) over 100 steps."""

import math
import warnings

import lucid
import lucid.optim as optim
import numpy as np
import pytest
import torch
from lucid.optim import lr_scheduler as lsched
from optim_parity import assert_params_close, gradient_sequence, initial_params, make_params
from torch.optim import lr_scheduler as tsched

REL = 1e-12  # both sides evaluate the same float64 formulas in the same order


def _optimizers(cls_name="SGD", **kwargs):
    """A Lucid and a torch optimizer with two groups (lr 0.1 and 0.02) on tiny params."""
    lp, tp = make_params(initial_params(shapes=[(2,), (3,)]))
    groups = lambda ps: [{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.02}]  # noqa: E731
    return (getattr(optim, cls_name)(groups(lp), lr=0.1, **kwargs),
            getattr(torch.optim, cls_name)(groups(tp), lr=0.1, **kwargs))


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert math.isclose(x, y, rel_tol=REL, abs_tol=1e-15), (a, b)


def _run(lopt, topt, lsched_, tsched_, steps=100, momentum_key=None):
    _same(lsched_.get_last_lr(), tsched_.get_last_lr())
    for _ in range(steps):
        lopt.step()
        topt.step()
        lsched_.step()
        tsched_.step()
        _same(lsched_.get_last_lr(), tsched_.get_last_lr())
        _same([g["lr"] for g in lopt.param_groups], [g["lr"] for g in topt.param_groups])
        if momentum_key == "betas":
            _same([g["betas"][0] for g in lopt.param_groups],
                  [g["betas"][0] for g in topt.param_groups])
            assert all(g["betas"][1] == 0.999 for g in lopt.param_groups)
        elif momentum_key:
            _same([g[momentum_key] for g in lopt.param_groups],
                  [g[momentum_key] for g in topt.param_groups])


SCHEDULERS = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("StepLR", dict(step_size=1, gamma=0.97)),
    ("MultiStepLR", dict(milestones=[10, 30, 30, 60], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.95)),
    ("CosineAnnealingLR", dict(T_max=30)),
    ("CosineAnnealingLR", dict(T_max=17, eta_min=0.001)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.25, end_factor=1.0, total_iters=20)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=40)),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.97**e + 0.01 * (e % 3))),
    ("LambdaLR", dict(lr_lambda=[lambda e: 1 / (1 + e), lambda e: 0.9 ** (e // 4)])),
]


@pytest.mark.parametrize("name, kwargs", SCHEDULERS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULERS)])
def test_rates_match_torch_over_100_steps(name, kwargs):
    lopt, topt = _optimizers()
    _run(lopt, topt, getattr(lsched, name)(lopt, **kwargs), getattr(tsched, name)(topt, **kwargs))
    assert lopt.param_groups[0]["initial_lr"] == 0.1


ONE_CYCLE = [
    dict(max_lr=1.0, total_steps=100),
    dict(max_lr=[1.0, 0.3], total_steps=100, anneal_strategy="linear", pct_start=0.25),
    dict(max_lr=0.5, epochs=10, steps_per_epoch=10, three_phase=True, div_factor=10.0,
         final_div_factor=100.0),
    dict(max_lr=0.5, total_steps=100, base_momentum=[0.8, 0.7], max_momentum=0.9),
    dict(max_lr=0.5, total_steps=100, cycle_momentum=False),
]


@pytest.mark.parametrize("kwargs", ONE_CYCLE, ids=range(len(ONE_CYCLE)))
@pytest.mark.parametrize("cls_name, key", [("SGD", "momentum"), ("Adam", "betas"),
                                           ("RMSprop", "momentum")])
def test_one_cycle_rates_and_momenta_match_torch(kwargs, cls_name, key):
    extra = dict(momentum=0.9) if cls_name == "SGD" else {}
    lopt, topt = _optimizers(cls_name, **extra)
    ls = lsched.OneCycleLR(lopt, **kwargs)
    ts = tsched.OneCycleLR(topt, **kwargs)
    cycles = kwargs.get("cycle_momentum", True)
    _run(lopt, topt, ls, ts, steps=100, momentum_key=key if cycles else None)
    with pytest.raises(ValueError):
        ts.step()
    with pytest.raises(optim.OptimizerError, match="stepped 101 times, but total_steps is 100"):
        ls.step()


def test_sequential_lr_matches_torch():
    lopt, topt = _optimizers()
    ls = lsched.SequentialLR(lopt, [lsched.LinearLR(lopt, start_factor=0.1, total_iters=10),
                                    lsched.CosineAnnealingLR(lopt, T_max=40, eta_min=1e-3),
                                    lsched.StepLR(lopt, step_size=5, gamma=0.5)],
                             milestones=[10, 50])
    ts = tsched.SequentialLR(topt, [tsched.LinearLR(topt, start_factor=0.1, total_iters=10),
                                    tsched.CosineAnnealingLR(topt, T_max=40, eta_min=1e-3),
                                    tsched.StepLR(topt, step_size=5, gamma=0.5)],
                             milestones=[10, 50])
    _run(lopt, topt, ls, ts)


def test_two_schedulers_on_one_optimizer_compose_like_torch():
    lopt, topt = _optimizers()
    l1, l2 = lsched.StepLR(lopt, step_size=10, gamma=0.5), lsched.ExponentialLR(lopt, gamma=0.98)
    t1, t2 = tsched.StepLR(topt, step_size=10, gamma=0.5), tsched.ExponentialLR(topt, gamma=0.98)
    for _ in range(60):
        lopt.step()
        topt.step()
        for s in (l1, l2, t1, t2):
            s.step()
        _same(l2.get_last_lr(), t2.get_last_lr())


def test_epoch_argument_uses_the_closed_form_like_torch():
    for name, kwargs in [("StepLR", dict(step_size=3)), ("CosineAnnealingLR", dict(T_max=10)),
                         ("MultiStepLR", dict(milestones=[2, 5])),
                         ("ExponentialLR", dict(gamma=0.9)), ("LinearLR", dict())]:
        lopt, topt = _optimizers()
        ls, ts = getattr(lsched, name)(lopt, **kwargs), getattr(tsched, name)(topt, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in (4, 7, 2):
                lopt.step()
                topt.step()
                ls.step(epoch)
                ts.step(epoch)
                _same(ls.get_last_lr(), ts.get_last_lr())


@pytest.mark.parametrize("name, kwargs", [("StepLR", dict(step_size=3, gamma=0.5)),
                                          ("AdamSchedule", {})])
def test_scheduler_drives_the_optimizer_like_torch(name, kwargs):
    """Parameters after 30 steps of an optimizer whose rate (and beta1) a scheduler moves."""
    lp, tp = make_params(initial_params())
    if name == "StepLR":
        lopt, topt = optim.SGD(lp, lr=0.1, momentum=0.9), torch.optim.SGD(tp, lr=0.1, momentum=0.9)
        ls, ts = lsched.StepLR(lopt, **kwargs), tsched.StepLR(topt, **kwargs)
    else:
        lopt, topt = optim.Adam(lp, lr=0.01), torch.optim.Adam(tp, lr=0.01)
        ls = lsched.OneCycleLR(lopt, max_lr=0.1, total_steps=30)
        ts = tsched.OneCycleLR(topt, max_lr=0.1, total_steps=30)
    for grads in gradient_sequence(30):
        for a, b, g in zip(lp, tp, grads, strict=True):
            a.grad, b.grad = lucid.tensor(g), torch.tensor(g)
        lopt.step()
        topt.step()
        if ls.last_epoch < 29 or name == "StepLR":
            ls.step()
            ts.step()
    assert_params_close(lp, tp)


@pytest.mark.parametrize("make", [
    lambda o: lsched.StepLR(o, step_size=4, gamma=0.5),
    lambda o: lsched.MultiStepLR(o, milestones=[3, 9, 9], gamma=0.5),
    lambda o: lsched.CosineAnnealingLR(o, T_max=7),
    lambda o: lsched.OneCycleLR(o, max_lr=1.0, total_steps=40, three_phase=True),
    lambda o: lsched.SequentialLR(o, [lsched.LinearLR(o, total_iters=4),
                                      lsched.ExponentialLR(o, gamma=0.9)], milestones=[5]),
], ids=["StepLR", "MultiStepLR", "Cosine", "OneCycle", "Sequential"])
def test_state_dict_round_trip_through_a_checkpoint(make, tmp_path):
    _round_trip_through_a_checkpoint(make, tmp_path)


def _step_both(sched, opt, i):
    opt.step()
    sched.step()


def _round_trip_through_a_checkpoint(make, tmp_path, drive=_step_both, before_load=None):
    """30 steps of ``make(optimizer)`` driven by ``drive(sched, opt, step)``, against 12
    steps saved with ``lucid.save`` and 18 more after loading into a fresh optimizer and
    scheduler (``before_load(sched)`` may spoil the fresh one first): the same rates."""
    lopt, _ = _optimizers("SGD", momentum=0.9)
    sched = make(lopt)
    reference = []
    for i in range(30):
        drive(sched, lopt, i)
        reference.append(sched.get_last_lr())

    lopt2, _ = _optimizers("SGD", momentum=0.9)
    sched2 = make(lopt2)
    for i in range(12):
        drive(sched2, lopt2, i)
    lucid.save({"optimizer": lopt2.state_dict(), "scheduler": sched2.state_dict()},
               tmp_path / "ckpt.safetensors")

    lopt3, _ = _optimizers("SGD", momentum=0.9)
    sched3 = make(lopt3)
    if before_load is not None:
        before_load(sched3)
    ckpt = lucid.load(tmp_path / "ckpt.safetensors")
    sched3.load_state_dict(ckpt["scheduler"])
    lopt3.load_state_dict(ckpt["optimizer"])
    for i in range(12, 30):
        drive(sched3, lopt3, i)
        _same(sched3.get_last_lr(), reference[i])
        _same([g["lr"] for g in lopt3.param_groups], reference[i])
    assert len({tuple(r) for r in reference}) > 1, "the schedule never moved"


def test_lambda_lr_state_dict_keeps_callable_objects_state():
    class Warmup:
        def __init__(self, n):
            self.n = n

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.n)

    lopt, _ = _optimizers()
    sched = lsched.LambdaLR(lopt, [Warmup(5), lambda e: 1.0])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"n": 5}, None] and "optimizer" not in sd
    sd["lr_lambdas"][0]["n"] = 10
    other = lsched.LambdaLR(_optimizers()[0], [Warmup(5), lambda e: 1.0])
    other.load_state_dict(sd)
    assert other.lr_lambdas[0].n == 10


def test_warns_when_scheduler_steps_before_optimizer():
    lopt, _ = _optimizers()
    sched = lsched.StepLR(lopt, step_size=2)
    with pytest.warns(UserWarning, match="before optimizer.step"):
        sched.step()
    lopt2, _ = _optimizers()
    sched2 = lsched.StepLR(lopt2, step_size=2)
    lopt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()


def test_scheduler_argument_errors():
    lopt, _ = _optimizers()
    with pytest.raises(optim.OptimizerError, match="not an Optimizer"):
        lsched.StepLR(object(), step_size=3)
    with pytest.raises(optim.OptimizerError, match="initial_lr"):
        lsched.StepLR(_optimizers()[0], step_size=3, last_epoch=5)
    with pytest.raises(optim.OptimizerError, match="start_factor"):
        lsched.LinearLR(lopt, start_factor=0.0)
    with pytest.raises(optim.OptimizerError, match="expected 2 lr_lambdas, got 1"):
        lsched.LambdaLR(lopt, [lambda e: 1.0])
    with pytest.raises(optim.OptimizerError, match="total_steps, or epochs and steps_per_epoch"):
        lsched.OneCycleLR(lopt, max_lr=1.0)
    with pytest.raises(optim.OptimizerError, match="pct_start"):
        lsched.OneCycleLR(lopt, max_lr=1.0, total_steps=10, pct_start=1.5)
    with pytest.raises(optim.OptimizerError, match="anneal_strategy"):
        lsched.OneCycleLR(lopt, max_lr=1.0, total_steps=10, anneal_strategy="step")
    with pytest.raises(optim.OptimizerError, match="max_lr has 3 values"):
        lsched.OneCycleLR(lopt, max_lr=[1.0, 1.0, 1.0], total_steps=10)
    with pytest.raises(optim.OptimizerError, match="momentum or betas"):
        lsched.OneCycleLR(optim.Adagrad([lucid.ones(1)]), max_lr=1.0, total_steps=10)
    with pytest.raises(optim.OptimizerError, match="2 milestones, got 1"):
        lsched.SequentialLR(lopt, [lsched.StepLR(lopt, 2)] * 3, milestones=[4])
    with pytest.raises(optim.OptimizerError, match="another optimizer"):
        lsched.SequentialLR(lopt, [lsched.StepLR(_optimizers()[0], 2)], milestones=[])


def test_get_last_lr_after_construction_and_repr():
    lopt, _ = _optimizers()
    sched = lsched.ExponentialLR(lopt, gamma=0.5)
    assert sched.get_last_lr() == [0.1, 0.02] and sched.last_epoch == 0
    lopt.step()
    sched.step()
    np.testing.assert_allclose(sched.get_last_lr(), [0.05, 0.01])
    assert "ExponentialLR(last_epoch=1" in repr(sched)
