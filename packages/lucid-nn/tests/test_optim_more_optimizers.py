"""Adadelta, Adamax, NAdam and RAdam against PyTorch: parameters after 20 identical random
gradients (rtol 1e-5, atol 1e-6, as the other optimizers), option combinations, parameter
groups, skipped gradients, state dicts (PyTorch's layout, and a round trip through a file).
"""

import lucid
import lucid.optim as optim
import mlx.core as mx
import numpy as np
import pytest
import torch
from optim_parity import (
    assert_op_by_op_equals_compiled,
    assert_params_close,
    assert_state_dict_like_torchs,
    gradient_sequence,
    initial_params,
    is_evaluated,
    moved_after_20_steps,
    run_pair,
    two_groups,
)

CASES = [
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1, maximize=True)),
    ("Adamax", dict(lr=0.05)),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.95), eps=1e-6)),
    ("Adamax", dict(lr=0.05, weight_decay=0.1)),
    ("Adamax", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05, betas=(0.8, 0.95), momentum_decay=0.05)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, maximize=True, momentum_decay=0.0)),
    ("RAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.9))),  # rho_t > 5 from step 6: both branches
    ("RAdam", dict(lr=0.05, weight_decay=0.1)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1, maximize=True)),
]
NAMES = ["Adadelta", "Adamax", "NAdam", "RAdam"]


def _ids(case):
    return case[0] + "-" + "-".join(f"{k}={v}" for k, v in case[1].items())


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_matches_torch_after_20_steps(case):
    assert all(moved_after_20_steps(*case)), "a parameter did not move"


@pytest.mark.parametrize("case", CASES[1::2], ids=[_ids(c) for c in CASES[1::2]])
def test_op_by_op_equals_compiled(case):
    assert_op_by_op_equals_compiled(*case)


def test_radam_takes_both_branches():
    """Until rho_t exceeds 5 (step 6 with betas[1] = 0.9) RAdam is bias-corrected momentum
    SGD; the 20-step parity runs above cover the rectified steps after it."""
    beta2 = 0.9
    rho_inf = 2 / (1 - beta2) - 1
    rho = [rho_inf - 2 * t * beta2**t / (1 - beta2**t) for t in range(1, 21)]
    first = next(t for t, r in enumerate(rho, start=1) if r > 5)
    assert 2 < first < 20
    steps = first - 1
    lp, tp = run_pair(optim.RAdam, torch.optim.RAdam, dict(lr=0.05, betas=(0.8, beta2)),
                      steps=steps)
    assert_params_close(lp, tp)
    expected, m = initial_params()[0].astype(np.float64), 0.0
    for t, g in enumerate(gradient_sequence(steps), start=1):
        m = 0.8 * m + 0.2 * g[0]
        expected = expected - 0.05 * m / (1 - 0.8**t)
    np.testing.assert_allclose(lp[0].numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_param_groups_with_their_own_options(name):
    extra = {"Adadelta": dict(rho=0.5), "Adamax": dict(betas=(0.5, 0.9)),
             "NAdam": dict(momentum_decay=0.01), "RAdam": dict(betas=(0.5, 0.9))}[name]
    groups = [([0, 2], dict(lr=0.1)), ([1, 3], dict(lr=0.01, weight_decay=0.2, **extra))]
    lp, tp = run_pair(getattr(optim, name), getattr(torch.optim, name), dict(lr=0.03),
                      groups=groups)
    assert_params_close(lp, tp)


@pytest.mark.parametrize("name", NAMES)
def test_parameters_without_grad_are_skipped(name):
    lp, tp = run_pair(getattr(optim, name), getattr(torch.optim, name), dict(lr=0.05),
                      skip=lambda t: {1} if t % 3 == 0 else ({0, 2} if t % 5 == 1 else ()))
    assert_params_close(lp, tp)


def test_defaults_are_pytorchs():
    p = [lucid.zeros(2, requires_grad=True)]
    t = [torch.zeros(2, requires_grad=True)]
    for name in NAMES:
        ours = getattr(optim, name)(p).defaults
        theirs = getattr(torch.optim, name)(t).defaults
        shared = set(ours) & set(theirs)
        assert shared == set(ours), (name, set(ours) - set(theirs))
        for key in shared:
            assert tuple(theirs[key]) == ours[key] if key == "betas" else theirs[key] == ours[key]
    assert optim.Adadelta(p).defaults["lr"] == 1.0 and optim.NAdam(p).defaults["lr"] == 2e-3


STATEFUL = [("Adadelta", dict(lr=0.5)), ("Adamax", dict(lr=0.05)),
            ("NAdam", dict(lr=0.05, weight_decay=0.1)),
            ("RAdam", dict(lr=0.05, betas=(0.8, 0.9), decoupled_weight_decay=True,
                           weight_decay=0.1))]


@pytest.mark.parametrize("name, kwargs", STATEFUL, ids=NAMES)
def test_state_dict_has_pytorchs_structure(name, kwargs):
    assert list(assert_state_dict_like_torchs(name, kwargs)["state"]) == [0, 1, 2]


@pytest.mark.parametrize("name, kwargs", STATEFUL, ids=NAMES)
def test_state_dict_round_trip_continues_identically(name, kwargs, tmp_path):
    grads = gradient_sequence(20)
    cls = getattr(optim, name)

    def run(params, opt, gs):
        for g in gs:
            for p, a in zip(params, g, strict=True):
                p.grad = lucid.tensor(a)
            opt.step()

    straight = [lucid.tensor(a, requires_grad=True) for a in initial_params()]
    run(straight, cls(two_groups(straight), **kwargs), grads)

    first = [lucid.tensor(a, requires_grad=True) for a in initial_params()]
    opt = cls(two_groups(first), **kwargs)
    run(first, opt, grads[:10])
    lucid.save(opt.state_dict(), tmp_path / "opt.safetensors")
    resumed = [lucid.tensor(p.numpy(), requires_grad=True) for p in first]
    opt2 = cls(two_groups(resumed, lr2=0.5), **kwargs)
    opt2.load_state_dict(lucid.load(tmp_path / "opt.safetensors"))
    assert opt2.param_groups[1]["lr"] == 0.01
    assert opt2.state[resumed[0]]["step"] == 10
    run(resumed, opt2, grads[10:])
    for a, b in zip(resumed, straight, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("name, kwargs", STATEFUL, ids=NAMES)
def test_step_evaluates_parameters_and_state(name, kwargs):
    rng = np.random.default_rng(0)
    w = lucid.tensor(rng.standard_normal((8, 4)).astype(np.float32), requires_grad=True)
    x = lucid.tensor(rng.standard_normal((16, 8)).astype(np.float32))
    opt = getattr(optim, name)([w], **kwargs)
    for _ in range(2):
        opt.zero_grad()
        ((x @ w) * (x @ w)).mean().backward()
        assert not is_evaluated(w.grad._data)
        opt.step()
        assert is_evaluated(w._data)
        for value in opt.state[w].values():
            if isinstance(value, lucid.Tensor):
                assert is_evaluated(value._data)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", NAMES)
def test_low_precision_parameters_keep_their_dtype(name, dtype):
    lr = 100.0 if name == "Adadelta" else 0.1  # Adadelta's first steps are ~sqrt(eps) * lr
    start = np.linspace(-1, 1, 6, dtype=np.float32)
    results = []
    for d in ("float32", dtype):
        p = lucid.tensor(start, dtype=d, requires_grad=True)
        opt = getattr(optim, name)([p], lr=lr)
        for _ in range(3):
            p.grad = lucid.ones(6, dtype=d)
            opt.step()
        assert p.dtype == getattr(lucid, d)
        assert all(v.dtype == p.dtype for v in opt.state[p].values()
                   if isinstance(v, lucid.Tensor))
        results.append(p.astype(lucid.float32).numpy())
    assert (results[0] < start - 0.1).all()
    np.testing.assert_allclose(results[1], results[0], atol=3e-2)


@pytest.mark.parametrize("make, message", [
    (lambda p: optim.Adadelta(p, lr=-1.0), "learning rate"),
    (lambda p: optim.Adadelta(p, rho=1.5), "rho"),
    (lambda p: optim.Adadelta(p, eps=-1e-6), "eps"),
    (lambda p: optim.Adamax(p, betas=(1.0, 0.999)), "betas[0]"),
    (lambda p: optim.Adamax(p, weight_decay=-0.1), "weight_decay"),
    (lambda p: optim.NAdam(p, momentum_decay=-0.1), "momentum_decay"),
    (lambda p: optim.NAdam(p, betas=(0.9, 1.0)), "betas[1]"),
    (lambda p: optim.RAdam(p, betas=(0.9,)), "betas must be two numbers"),
    (lambda p: optim.RAdam(p, eps=-1.0), "eps"),
])
def test_invalid_hyperparameters(make, message):
    pattern = message.replace("[", r"\[").replace("]", r"\]")
    with pytest.raises(optim.OptimizerError, match=pattern):
        make([lucid.zeros(2, requires_grad=True)])


def test_rho_bounds_are_pytorchs():
    p = [lucid.zeros(2, requires_grad=True)]
    optim.Adadelta(p, rho=0.0)
    optim.Adadelta(p, rho=1.0)
    with pytest.raises(ValueError):
        torch.optim.Adadelta([torch.zeros(2)], rho=1.01)


class SignMomentum(optim.Optimizer):
    """A user's optimizer in the base class's shape: state, plan and rule, no loop."""

    def __init__(self, params, lr=0.1, momentum=0.5):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    def init_single(self, p, state, group):
        if not state:
            state["step"] = 0
            state["buf"] = self._zeros(p)

    def plan_single(self, group, state):
        return {}, ("buf",), (group["lr"], group["momentum"])

    @staticmethod
    def apply_single(p, g, state, hyper):
        lr, mu = hyper
        buf = mu * state[0] + mx.sign(g)
        return p - lr * buf, [buf]


def test_a_custom_optimizer_is_init_plan_and_apply_single():
    w = lucid.tensor([1.0, -1.0, 0.5], requires_grad=True)
    idle = lucid.tensor([2.0], requires_grad=True)
    opt = SignMomentum([w, idle], lr=0.25)
    for _ in range(2):
        w.grad = lucid.tensor([3.0, -0.5, 0.0])
        opt.step()
        assert is_evaluated(w._data) and is_evaluated(opt.state[w]["buf"]._data)
    # buf: [1, -1, 0] then [1.5, -1.5, 0]; p -= 0.25 * buf each step
    np.testing.assert_allclose(w.numpy(), [1.0 - 0.625, -1.0 + 0.625, 0.5])
    assert opt.state[w]["step"] == 2 and idle not in opt.state
    np.testing.assert_array_equal(idle.numpy(), [2.0])
    with pytest.raises(optim.OptimizerError, match="SignMomentum: invalid momentum=-1"):
        SignMomentum([w], momentum=-1)
