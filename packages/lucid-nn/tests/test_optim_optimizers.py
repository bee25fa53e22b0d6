"""Each optimizer, with each of its main options, against PyTorch over 20 random gradients.

Tolerance: rtol 1e-5, atol 1e-6 on the final parameters (float32; the two libraries round
a few intermediate terms differently, e.g. Adam's lerp and the compiled kernels).
"""

import lucid
import lucid.optim as optim
import numpy as np
import pytest
import torch
from optim_parity import (
    assert_op_by_op_equals_compiled,
    assert_params_close,
    initial_params,
    make_params,
    moved_after_20_steps,
    run_pair,
    set_grads,
)

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.95), eps=1e-6)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, eps=1e-6, maximize=True)),
]


def _ids(case):
    return case[0] + "-" + "-".join(f"{k}={v}" for k, v in case[1].items())


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_matches_torch_after_20_steps(case):
    assert any(moved_after_20_steps(*case)), "nothing moved"


@pytest.mark.parametrize("case", CASES[1::3], ids=[_ids(c) for c in CASES[1::3]])
def test_op_by_op_equals_compiled(case):
    assert_op_by_op_equals_compiled(*case)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_param_groups_with_their_own_options(name):
    extra = {"SGD": dict(momentum=0.9), "Adam": dict(betas=(0.5, 0.9)),
             "RMSprop": dict(momentum=0.5), "Adagrad": dict(lr_decay=0.1)}[name]
    groups = [([0, 2], dict(lr=0.1)), ([1, 3], dict(lr=0.01, **extra))]
    lp, tp = run_pair(getattr(optim, name), getattr(torch.optim, name), dict(lr=0.03),
                      groups=groups)
    assert_params_close(lp, tp)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_parameters_without_grad_are_skipped(name):
    kwargs = dict(lr=0.05, momentum=0.9) if name in ("SGD", "RMSprop") else dict(lr=0.05)
    lp, tp = run_pair(getattr(optim, name), getattr(torch.optim, name), kwargs,
                      skip=lambda t: {1} if t % 3 == 0 else ({0, 2} if t % 5 == 1 else ()))
    assert_params_close(lp, tp)


def test_never_updated_parameter_stays_and_has_no_state():
    lp, tp = make_params(initial_params())
    opt = optim.Adam(lp, lr=0.1)
    for _ in range(3):
        set_grads(lp, tp, initial_params(seed=5), skip={2})
        opt.step()
    np.testing.assert_array_equal(lp[2].numpy(), initial_params()[2])
    assert lp[2] not in opt.state and len(opt.state) == 3
    assert opt.state[lp[0]]["step"] == 3


def test_defaults_are_pytorchs():
    p = [lucid.zeros(2, requires_grad=True)]
    t = [torch.zeros(2, requires_grad=True)]
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad"):
        ours = getattr(optim, name)(p).defaults
        theirs = getattr(torch.optim, name)(t).defaults
        for key, value in ours.items():
            if key in theirs:
                assert theirs[key] == value, (name, key)
        assert ours["lr"] == theirs["lr"]
    assert optim.AdamW(p).defaults["weight_decay"] == 1e-2


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_low_precision_parameters_keep_their_dtype(dtype):
    p = lucid.tensor(np.linspace(-1, 1, 6, dtype=np.float32), dtype=dtype, requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    for _ in range(3):
        p.grad = lucid.ones(6, dtype=dtype)
        opt.step()
    assert p.dtype == getattr(lucid, dtype)
    assert opt.state[p]["exp_avg"].dtype == getattr(lucid, dtype)
    np.testing.assert_allclose(p.numpy(), np.linspace(-1, 1, 6) - 0.3, atol=2e-2)


def test_step_returns_closure_loss_and_calls_it_once():
    w = lucid.tensor([1.0, -2.0], requires_grad=True)
    calls = []

    def closure():
        calls.append(1)
        w.grad = None
        loss = (w * w).sum()
        loss.backward()
        return loss

    opt = optim.SGD([w], lr=0.25)
    loss = opt.step(closure)
    assert len(calls) == 1 and float(loss) == 5.0
    np.testing.assert_allclose(w.numpy(), [0.5, -1.0])
    assert opt.step() is None


def test_closure_runs_with_grad_enabled():
    w = lucid.tensor([3.0], requires_grad=True)

    def closure():
        loss = (w * w).sum()
        loss.backward()
        return loss

    with lucid.no_grad():
        optim.SGD([w], lr=0.5).step(closure)
    np.testing.assert_allclose(w.numpy(), [0.0])


@pytest.mark.parametrize("make, message", [
    (lambda p: optim.SGD(p, lr=-1.0), "learning rate"),
    (lambda p: optim.SGD(p, momentum=-0.1), "momentum"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "nesterov"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "betas[0]"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "betas[1]"),
    (lambda p: optim.Adam(p, eps=-1e-8), "eps"),
    (lambda p: optim.AdamW(p, weight_decay=-0.1), "weight_decay"),
    (lambda p: optim.RMSprop(p, alpha=-0.5), "alpha"),
    (lambda p: optim.Adagrad(p, lr_decay=-1.0), "lr_decay"),
])
def test_invalid_hyperparameters(make, message):
    with pytest.raises(optim.OptimizerError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make([lucid.zeros(2, requires_grad=True)])
    assert issubclass(optim.OptimizerError, lucid.LucidError)
    assert issubclass(optim.OptimizerError, ValueError)


def test_gradient_of_the_wrong_shape_is_an_error():
    p = lucid.zeros(3, requires_grad=True)
    p.grad = lucid.ones((2, 3))
    with pytest.raises(lucid.ShapeError, match=r"gradient of shape \(2, 3\).*shape \(3,\)"):
        optim.SGD([p], lr=0.1).step()


def test_float32_gradient_of_a_bfloat16_parameter_keeps_the_dtype():
    p = lucid.zeros(3, dtype="bfloat16", requires_grad=True)
    p.grad = lucid.ones(3)
    optim.SGD([p], lr=0.5, momentum=0.9).step()
    assert p.dtype == lucid.bfloat16
    np.testing.assert_array_equal(p.numpy(), [-0.5, -0.5, -0.5])
