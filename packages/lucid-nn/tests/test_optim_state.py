"""Optimizer bookkeeping: parameter groups, zero_grad, state dicts, evaluation after a step."""

import warnings

import lucid
import lucid.optim as optim
import mlx.core as mx
import numpy as np
import pytest
import torch
from optim_parity import (
    assert_params_close,
    assert_state_dict_like_torchs,
    gradient_sequence,
    initial_params,
    is_evaluated,
    two_groups,
)

OPTIMIZERS = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.05)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
]
IDS = [name for name, _ in OPTIMIZERS]


# ----- state dicts ------------------------------------------------------------------
@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=IDS)
def test_state_dict_round_trip_continues_identically(name, kwargs, tmp_path):
    grads = gradient_sequence(20)
    cls = getattr(optim, name)

    straight = [lucid.tensor(a, requires_grad=True) for a in initial_params()]
    opt = cls(two_groups(straight), **kwargs)
    for g in grads:
        for p, a in zip(straight, g, strict=True):
            p.grad = lucid.tensor(a)
        opt.step()

    first = [lucid.tensor(a, requires_grad=True) for a in initial_params()]
    opt = cls(two_groups(first), **kwargs)
    for g in grads[:10]:
        for p, a in zip(first, g, strict=True):
            p.grad = lucid.tensor(a)
        opt.step()
    lucid.save(opt.state_dict(), tmp_path / "opt.safetensors")
    lucid.save({str(i): p for i, p in enumerate(first)}, tmp_path / "params.safetensors")

    saved = lucid.load(tmp_path / "params.safetensors")
    resumed = [lucid.tensor(saved[str(i)], requires_grad=True) for i in range(len(first))]
    opt2 = cls(two_groups(resumed, lr2=0.5), **kwargs)  # the loaded groups' lr wins
    opt2.load_state_dict(lucid.load(tmp_path / "opt.safetensors"))
    assert opt2.param_groups[1]["lr"] == 0.01
    for g in grads[10:]:
        for p, a in zip(resumed, g, strict=True):
            p.grad = lucid.tensor(a)
        opt2.step()
    for a, b in zip(resumed, straight, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=IDS)
def test_state_dict_has_pytorchs_structure(name, kwargs):
    assert_state_dict_like_torchs(name, kwargs)


def _stepped_once(make_optimizer):
    """The optimizer ``make_optimizer([p])`` of a parameter ``[1, 2]`` after one step with
    gradient ``[1, 1]``, and that optimizer's state_dict."""
    p = lucid.tensor([1.0, 2.0], requires_grad=True)
    opt = make_optimizer([p])
    p.grad = lucid.tensor([1.0, 1.0])
    opt.step()
    return opt, opt.state_dict()


def test_state_dict_is_a_snapshot():
    opt, sd = _stepped_once(lambda ps: optim.Adam(ps, lr=0.1))
    before = sd["state"][0]["exp_avg"].numpy().copy()
    sd["param_groups"][0]["lr"] = 123.0
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"].numpy(), before)
    assert opt.param_groups[0]["lr"] == 0.1 and sd["state"][0]["step"] == 1


def test_load_state_dict_casts_to_the_parameter_dtype():
    _, sd = _stepped_once(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9))
    sd["state"][0]["momentum_buffer"] = sd["state"][0]["momentum_buffer"].astype(lucid.float16)
    q = lucid.tensor([1.0, 2.0], requires_grad=True)
    opt2 = optim.SGD([q], lr=0.1, momentum=0.9)
    opt2.load_state_dict(sd)
    assert opt2.state[q]["momentum_buffer"].dtype == lucid.float32


def test_load_state_dict_does_not_alias_the_given_tensors():
    opt, sd = _stepped_once(lambda ps: optim.Adam(ps, lr=0.1))
    kept = sd["state"][0]["exp_avg"].numpy().copy()
    opt.load_state_dict(sd)
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"].numpy(), kept)


def test_load_state_dict_errors():
    params = [lucid.zeros(3, requires_grad=True), lucid.zeros(2, requires_grad=True)]
    opt = optim.SGD(two_groups(params + [lucid.zeros(1, requires_grad=True)]), momentum=0.9)
    sd = opt.state_dict()
    with pytest.raises(optim.OptimizerError, match="2 parameter groups.*this optimizer has 1"):
        optim.SGD(params, momentum=0.9).load_state_dict(sd)
    other = optim.SGD(two_groups(params + [lucid.zeros(1), lucid.zeros(1)]), momentum=0.9)
    with pytest.raises(optim.OptimizerError, match="group 1 has 1 parameters in the state dict"):
        other.load_state_dict(sd)
    with pytest.raises(optim.OptimizerError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})
    for p in params:
        p.grad = lucid.ones(p.shape)
    opt.step()
    swapped = [lucid.zeros(2, requires_grad=True), lucid.zeros(3, requires_grad=True)]
    fresh = optim.SGD(two_groups(swapped + [lucid.zeros(1, requires_grad=True)]), momentum=0.9)
    with pytest.raises(lucid.ShapeError, match="momentum_buffer.*shape \\(3,\\).*shape \\(2,\\)"):
        fresh.load_state_dict(opt.state_dict())


# ----- groups -----------------------------------------------------------------------
def test_add_param_group_fills_defaults_and_is_used():
    a, b = lucid.ones(2, requires_grad=True), lucid.ones(2, requires_grad=True)
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 1.0})
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["params"] == [b]
    a.grad, b.grad = lucid.ones(2), lucid.ones(2)
    opt.step()
    np.testing.assert_allclose(a.numpy(), [0.9, 0.9])
    np.testing.assert_allclose(b.numpy(), [0.0, 0.0])


def test_named_parameters_are_accepted():
    w, b = lucid.ones(2, requires_grad=True), lucid.zeros(1, requires_grad=True)
    opt = optim.Adam([("layer.weight", w), ("layer.bias", b)])
    assert opt.param_groups[0]["params"] == [w, b]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["layer.weight", "layer.bias"]


def test_bad_parameter_collections():
    p = lucid.ones(2, requires_grad=True)
    with pytest.raises(optim.OptimizerError, match="iterable of Tensors"):
        optim.SGD(p)
    with pytest.raises(optim.OptimizerError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(optim.OptimizerError, match="not a set"):
        optim.Adam({p})
    with pytest.raises(optim.OptimizerError, match="only optimize Tensors, got ndarray"):
        optim.Adam([np.ones(2)])
    with pytest.raises(optim.OptimizerError, match="more than one parameter group"):
        optim.Adam([{"params": [p]}, {"params": [p]}])
    with pytest.raises(optim.OptimizerError, match="non-leaf"):
        optim.Adam([p * 2])
    opt = optim.Adam([p])
    with pytest.raises(optim.OptimizerError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})
    with pytest.raises(optim.OptimizerError, match="'params'"):
        opt.add_param_group({"lr": 0.1})
    with pytest.warns(UserWarning, match="same parameter twice"):
        optim.SGD([lucid.ones(1), lucid.ones(1)][:1] * 2)


def test_required_option_must_be_given():
    class Custom(optim.Optimizer):
        def __init__(self, params, lr=optim.required):
            super().__init__(params, dict(lr=lr))

    with pytest.raises(optim.OptimizerError, match="required 'lr'"):
        Custom([lucid.ones(1)])
    assert Custom([lucid.ones(1)], lr=0.1).param_groups[0]["lr"] == 0.1


# ----- zero_grad --------------------------------------------------------------------
def test_zero_grad_set_to_none_and_to_zeros():
    a = lucid.ones((2, 3), requires_grad=True)
    b = lucid.ones(4, dtype="bfloat16", requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1)
    a.grad, b.grad = lucid.ones((2, 3)), lucid.ones(4, dtype="bfloat16")
    opt.zero_grad(set_to_none=False)
    assert a.grad.shape == (2, 3) and b.grad.dtype == lucid.bfloat16
    assert not a.grad.numpy().any() and not b.grad.numpy().any()
    opt.step()  # zero gradients still step (the parameter stays)
    np.testing.assert_array_equal(a.numpy(), np.ones((2, 3)))
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    c = lucid.ones(1, requires_grad=True)
    opt.add_param_group({"params": [c]})
    opt.zero_grad(set_to_none=False)  # a parameter without a gradient keeps None
    assert c.grad is None


# ----- evaluation and memory ----------------------------------------------------------
def _tiny_model():
    rng = np.random.default_rng(0)
    w = lucid.tensor(rng.standard_normal((8, 4)).astype(np.float32) * 0.3, requires_grad=True)
    b = lucid.zeros(4, requires_grad=True)
    x = lucid.tensor(rng.standard_normal((16, 8)).astype(np.float32))
    return w, b, x


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=IDS)
def test_step_evaluates_parameters_and_state(name, kwargs):
    w, b, x = _tiny_model()
    opt = getattr(optim, name)([w, b], **kwargs)
    for _ in range(2):
        opt.zero_grad()
        ((x @ w + b) * (x @ w + b)).mean().backward()  # gradients are lazy MLX graphs here
        assert not is_evaluated(w.grad._data)
        opt.step()
        for p in (w, b):
            assert is_evaluated(p._data) and is_evaluated(p.grad._data)
            for value in opt.state[p].values():
                if isinstance(value, lucid.Tensor):
                    assert is_evaluated(value._data)


def test_200_steps_keep_memory_and_graph_flat():
    w, b, x = _tiny_model()
    opt = optim.Adam([w, b], lr=1e-2)
    memory = []
    for _ in range(200):
        opt.zero_grad()
        y = x @ w + b
        (y * y).mean().backward()  # the loss is never read: only step() evaluates
        opt.step()
        memory.append(mx.get_active_memory())
    # flat: no higher at the end than early on (it may alternate between two levels as
    # buffers are handed from step to step)
    assert max(memory[-20:]) <= max(memory[20:40])
    assert w._node is None and w.requires_grad and w.is_leaf
    assert opt.state[w]["step"] == 200
    opt.zero_grad()
    assert w.grad is None and b.grad is None
    assert float(((x @ w + b) * (x @ w + b)).mean()) < 1e-2


def test_optimizer_trains_through_autograd_like_torch():
    w, b, x = _tiny_model()
    tw = torch.tensor(w.numpy(), requires_grad=True)
    tb = torch.tensor(b.numpy(), requires_grad=True)
    tx = torch.tensor(x.numpy())
    lopt, topt = optim.Adam([w, b], lr=0.05), torch.optim.Adam([tw, tb], lr=0.05)
    for _ in range(15):
        lopt.zero_grad()
        topt.zero_grad()
        ((x @ w + b) * (x @ w + b)).mean().backward()
        ((tx @ tw + tb) * (tx @ tw + tb)).mean().backward()
        lopt.step()
        topt.step()
    assert_params_close([w, b], [tw, tb], rtol=1e-4, atol=1e-5)


def test_repr_lists_groups():
    text = repr(optim.SGD(two_groups([lucid.ones(1, requires_grad=True)] * 1 + [
        lucid.ones(1, requires_grad=True) for _ in range(2)]), lr=0.3))
    assert text.startswith("SGD (") and "Parameter Group 1" in text and "lr: 0.01" in text


def test_no_warnings_in_a_plain_step():
    p = lucid.ones(2, requires_grad=True)
    opt = optim.AdamW([p])
    p.grad = lucid.ones(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()


def test_a_custom_optimizer_needs_only_step_group():
    class SignSGD(optim.Optimizer):
        def __init__(self, params, lr=0.1):
            super().__init__(params, dict(lr=lr))

        def _step_group(self, group, touched):
            for p in group["params"]:
                if p.grad is not None:
                    p.data = p._data - group["lr"] * mx.sign(p.grad._data)
                    touched.append(p._data)

    w = lucid.tensor([1.0, -1.0, 0.5], requires_grad=True)
    opt = SignSGD([w], lr=0.25)
    (w * lucid.tensor([2.0, -3.0, 0.0])).sum().backward()
    opt.step()
    assert is_evaluated(w._data)
    np.testing.assert_allclose(w.numpy(), [0.75, -0.75, 0.5])
