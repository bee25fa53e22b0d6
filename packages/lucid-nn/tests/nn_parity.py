"""Compare a Lucid module with its PyTorch counterpart on the same weights and inputs.

    check_module(nn.Linear(4, 3), torch.nn.Linear(4, 3), randn(2, 4))

copies the torch module's ``state_dict`` into the Lucid module (through
``load_state_dict`` from NumPy arrays), runs both on the same NumPy inputs, compares the
outputs, backpropagates one random upstream gradient (the same array for both), and
compares the gradient of every input and of every parameter, by name.
"""

from __future__ import annotations

import lucid
import numpy as np
import torch

RTOL, ATOL = 1e-4, 1e-5


def randn(*shape, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def uniform(*shape, low=-1.0, high=1.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


def randint(low, high, *shape, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(low, high, shape).astype(np.int64)


def to_numpy(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    if isinstance(t, lucid.Tensor):
        return t.numpy()
    return np.asarray(t)


def assert_close(actual, expected, rtol=RTOL, atol=ATOL, what="value") -> None:
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != torch's {e.shape}"
    if np.issubdtype(e.dtype, np.floating):
        np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64), rtol=rtol,
                                   atol=atol, err_msg=what)
    else:
        np.testing.assert_array_equal(a, e, err_msg=what)


def torch_state(tmod: torch.nn.Module) -> dict:
    """The torch module's state dict as NumPy arrays."""
    return {k: v.detach().cpu().numpy().copy() for k, v in tmod.state_dict().items()}


def copy_from_torch(lmod, tmod) -> None:
    """Load ``tmod``'s weights and buffers into ``lmod``; the key sets must be equal."""
    state = torch_state(tmod)
    assert list(lmod.state_dict()) == list(state), (
        f"state_dict keys differ:\n lucid {list(lmod.state_dict())}\n torch {list(state)}"
    )
    lmod.load_state_dict(state)


def assert_same_state(lmod, tmod, rtol=RTOL, atol=ATOL) -> None:
    """Every parameter and buffer of ``lmod`` equals ``tmod``'s."""
    lstate, tstate = lmod.state_dict(), tmod.state_dict()
    assert list(lstate) == list(tstate)
    for k in tstate:
        assert_close(lstate[k], tstate[k], rtol, atol, what=f"state {k}")


def _leaf_pair(a: np.ndarray, grad: bool):
    wants = grad and np.issubdtype(a.dtype, np.floating)
    lt = lucid.tensor(a, requires_grad=wants)
    tt = torch.from_numpy(a.copy()).requires_grad_(wants)
    return lt, tt


def _input_pairs(inputs, wants):
    """Lucid and torch leaves for the NumPy inputs (``wants``: requires_grad, one bool per
    input); other inputs pass unchanged to both."""
    l_in, t_in = [], []
    for a, w in zip(inputs, wants, strict=True):
        lt, tt = _leaf_pair(a, w) if isinstance(a, np.ndarray) else (a, a)
        l_in.append(lt)
        t_in.append(tt)
    return l_in, t_in


def _backward_both(l_out, t_out, seed: int) -> None:
    """Backpropagate the same random upstream gradient through both outputs."""
    g = np.random.default_rng(seed).standard_normal(tuple(t_out.shape)).astype(np.float32)
    l_out.backward(lucid.tensor(g))
    t_out.backward(torch.from_numpy(g))


def run_pair(lmod, tmod, *inputs, grad: bool = True, seed: int = 1234):
    """Forward (and backward) both modules; returns (lucid out, torch out, lucid inputs,
    torch inputs). Non-array inputs pass unchanged."""
    l_in, t_in = _input_pairs(inputs, [grad] * len(inputs))
    l_out, t_out = lmod(*l_in), tmod(*t_in)
    if grad and t_out.requires_grad:
        _backward_both(l_out, t_out, seed)
    return l_out, t_out, l_in, t_in


def check_module(lmod, tmod, *inputs, train: bool = True, grad: bool = True, rtol=RTOL,
                 atol=ATOL, grad_rtol=None, grad_atol=None, copy: bool = True, seed: int = 1234):
    """Assert ``lmod`` matches ``tmod`` (weights copied from it) in output and in the
    gradients of every input and parameter. Returns ``(lucid_out, torch_out)``."""
    if copy:
        copy_from_torch(lmod, tmod)
    lmod.train(train)
    tmod.train(train)
    l_out, t_out, l_in, t_in = run_pair(lmod, tmod, *inputs, grad=grad, seed=seed)
    assert isinstance(l_out, lucid.Tensor), f"output is {type(l_out).__name__}"
    assert_close(l_out, t_out, rtol, atol, what="forward output")
    if not grad:
        return l_out, t_out
    g_rtol = rtol if grad_rtol is None else grad_rtol
    g_atol = atol if grad_atol is None else grad_atol
    for i, (lt, tt) in enumerate(zip(l_in, t_in, strict=True)):
        if isinstance(tt, torch.Tensor) and tt.requires_grad:
            assert lt.grad is not None, f"input {i}: no Lucid gradient"
            assert_close(lt.grad, tt.grad, g_rtol, g_atol, what=f"grad of input {i}")
    lparams = dict(lmod.named_parameters())
    tparams = dict(tmod.named_parameters())
    assert list(lparams) == list(tparams), f"{list(lparams)} != {list(tparams)}"
    for name, tp in tparams.items():
        lp = lparams[name]
        if tp.grad is None:
            assert lp.grad is None or not np.any(lp.grad.numpy()), f"{name}: expected no grad"
            continue
        assert lp.grad is not None, f"parameter {name}: no Lucid gradient"
        assert_close(lp.grad, tp.grad, g_rtol, g_atol, what=f"grad of {name}")
    return l_out, t_out


def check_function(lucid_fn, torch_fn, *inputs, grad=True, rtol=RTOL, atol=ATOL,
                   grad_rtol=None, grad_atol=None, seed: int = 1234):
    """Like ``check_module`` for plain functions of NumPy inputs (``grad``: a bool or one
    bool per input saying which floating inputs require grad)."""
    wants = [grad] * len(inputs) if isinstance(grad, bool) else list(grad)
    l_in, t_in = _input_pairs(inputs, wants)
    l_out, t_out = lucid_fn(*l_in), torch_fn(*t_in)
    assert_close(l_out, t_out, rtol, atol, what="forward output")
    if t_out.requires_grad:
        _backward_both(l_out, t_out, seed)
        for i, (lt, tt) in enumerate(zip(l_in, t_in, strict=True)):
            if isinstance(tt, torch.Tensor) and tt.requires_grad:
                assert lt.grad is not None, f"input {i}: no Lucid gradient"
                assert_close(lt.grad, tt.grad, grad_rtol or rtol, grad_atol or atol,
                             what=f"grad of input {i}")
    return l_out, t_out
