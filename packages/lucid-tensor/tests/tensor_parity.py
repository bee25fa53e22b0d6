"""Compare a Lucid op with its PyTorch counterpart on the same NumPy inputs.

    check_op(lambda x, y: x * y, lambda x, y: x * y, randn(2, 3), randn(3))

builds a Lucid and a torch tensor from each NumPy array (floating inputs require grad),
compares the forward outputs (shape, dtype, values), backpropagates one random upstream
gradient (the same NumPy array for both) and compares the gradient of every input.

An input may be a NumPy array (a tensor on both sides), a list/tuple of arrays (a list of
tensors on both sides, as ``cat``/``stack`` take) or anything else (passed unchanged).
"""

from __future__ import annotations

import lucid
import numpy as np
import torch

RTOL, ATOL = 1e-4, 1e-5


# ----- inputs -----------------------------------------------------------------------
def randn(*shape, seed: int = 0, dtype=np.float32) -> np.ndarray:
    """Standard normal values of ``shape`` (reproducible through ``seed``)."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def uniform(*shape, low=-1.0, high=1.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


def positive(*shape, low=0.1, high=2.0, seed: int = 0) -> np.ndarray:
    """Values in ``[low, high)``: safe for log, sqrt, division."""
    return uniform(*shape, low=low, high=high, seed=seed)


def unique(*shape, seed: int = 0) -> np.ndarray:
    """Distinct values, well apart (no ties for max/min/sort/argmax)."""
    n = int(np.prod(shape, dtype=np.int64))
    vals = np.random.default_rng(seed).permutation(n).astype(np.float32)
    return ((vals - n / 2) / max(n, 1) * 4).reshape(shape)


def randint(low, high, *shape, seed: int = 0, dtype=np.int64) -> np.ndarray:
    return np.random.default_rng(seed).integers(low, high, shape).astype(dtype)


# ----- conversions ------------------------------------------------------------------
def _prep(a):
    a = np.asarray(a)
    return a.astype(np.float32) if a.dtype == np.float64 else a


def _is_float(a: np.ndarray) -> bool:
    return np.issubdtype(a.dtype, np.floating)


def to_lucid(a, requires_grad: bool = False) -> lucid.Tensor:
    a = _prep(a)
    return lucid.tensor(a, requires_grad=requires_grad and _is_float(a))


def to_torch(a, requires_grad: bool = False) -> torch.Tensor:
    a = _prep(a)
    t = torch.from_numpy(a.copy())
    if requires_grad and _is_float(a):
        t.requires_grad_(True)
    return t


def to_numpy(t) -> np.ndarray:
    """NumPy values of a Lucid tensor, a torch tensor, or anything array-like."""
    if isinstance(t, torch.Tensor):
        t = t.detach()
        return (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    if isinstance(t, lucid.Tensor):
        return t.numpy()
    return np.asarray(t)


def dtype_name(t) -> str:
    if isinstance(t, torch.Tensor):
        return str(t.dtype).removeprefix("torch.")
    if isinstance(t, lucid.Tensor):
        return t.dtype_name
    return str(np.asarray(t).dtype)


def assert_close(actual, expected, rtol=RTOL, atol=ATOL, check_dtype=True, what="value"):
    """Lucid ``actual`` equals ``expected`` (Lucid/torch tensor or array) in shape, dtype, values."""
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != expected {e.shape}"
    if check_dtype and isinstance(expected, (torch.Tensor, lucid.Tensor)):
        assert dtype_name(actual) == dtype_name(expected), (
            f"{what}: dtype {dtype_name(actual)} != expected {dtype_name(expected)}"
        )
    if _is_float(a) or _is_float(e):
        np.testing.assert_allclose(
            a.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=atol, err_msg=what
        )
    else:
        np.testing.assert_array_equal(a, e, err_msg=what)


# ----- the check --------------------------------------------------------------------
def _build(inputs, wants_grad):
    """Lucid args, torch args, and the flat list of (name, lucid leaf, torch leaf)."""
    l_args, t_args, leaves = [], [], []
    for i, (a, g) in enumerate(zip(inputs, wants_grad, strict=True)):
        if isinstance(a, (list, tuple)) and a and isinstance(a[0], (np.ndarray, np.generic)):
            ls, ts = [], []
            for j, item in enumerate(a):
                lt, tt = to_lucid(item, g), to_torch(item, g)
                ls.append(lt)
                ts.append(tt)
                leaves.append((f"input {i}[{j}]", lt, tt))
            l_args.append(ls)
            t_args.append(ts)
        elif isinstance(a, np.ndarray):
            lt, tt = to_lucid(a, g), to_torch(a, g)
            l_args.append(lt)
            t_args.append(tt)
            leaves.append((f"input {i}", lt, tt))
        else:
            l_args.append(a)
            t_args.append(a)
    return l_args, t_args, leaves


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def check_op(lucid_fn, torch_fn, *inputs, grad=True, rtol=RTOL, atol=ATOL,
             grad_rtol=None, grad_atol=None, check_dtype=True, seed=1234):
    """Assert ``lucid_fn`` matches ``torch_fn`` on ``inputs`` in forward and gradients.

    ``grad``: True (every floating input requires grad), False (forward only) or a
    sequence of bools, one per input. ``grad_rtol``/``grad_atol`` default to ``rtol``/``atol``.
    Outputs may be one tensor or a tuple; the upstream gradient is random normal, the
    same for both frameworks, one array per floating output.
    Returns ``(lucid_output, torch_output)`` for further checks.
    """
    inputs = [_prep(a) if isinstance(a, (np.ndarray, np.generic)) else a for a in inputs]
    wants = [grad] * len(inputs) if isinstance(grad, bool) else list(grad)
    assert len(wants) == len(inputs), "check_op: grad= needs one bool per input"
    l_args, t_args, leaves = _build(inputs, wants)

    l_out, t_out = lucid_fn(*l_args), torch_fn(*t_args)
    l_outs, t_outs = _as_tuple(l_out), _as_tuple(t_out)
    assert len(l_outs) == len(t_outs), f"{len(l_outs)} outputs != torch's {len(t_outs)}"
    for k, (lo, to) in enumerate(zip(l_outs, t_outs, strict=True)):
        assert isinstance(lo, lucid.Tensor), f"output {k} is {type(lo).__name__}, not a Tensor"
        assert_close(lo, to, rtol, atol, check_dtype, what=f"forward output {k}")

    if not any(wants) or not any(lt.requires_grad for _, lt, _ in leaves):
        return l_out, t_out

    rng = np.random.default_rng(seed)
    l_terms, t_terms = [], []
    for lo, to in zip(l_outs, t_outs, strict=True):
        if not (to.requires_grad and to.is_floating_point()):
            continue
        assert lo.requires_grad, "Lucid output does not require grad but torch's does"
        g = rng.standard_normal(to.shape).astype(np.float32)
        l_terms.append((lo, lucid.tensor(g).astype(lo.dtype)))
        t_terms.append((to, torch.from_numpy(g).to(to.dtype)))
    if not t_terms:
        return l_out, t_out
    if len(t_terms) == 1:
        l_terms[0][0].backward(l_terms[0][1])
        t_terms[0][0].backward(t_terms[0][1])
    else:
        lucid_total = None
        for lo, g in l_terms:
            term = (lo * g).sum()
            lucid_total = term if lucid_total is None else lucid_total + term
        lucid_total.backward()
        torch.autograd.backward([o for o, _ in t_terms], [g for _, g in t_terms])

    g_rtol = rtol if grad_rtol is None else grad_rtol
    g_atol = atol if grad_atol is None else grad_atol
    for name, lt, tt in leaves:
        if not tt.requires_grad:
            continue
        if tt.grad is None:  # torch: no path from this input to the outputs
            assert lt.grad is None or not np.any(lt.grad.numpy()), f"{name}: expected no grad"
            continue
        assert lt.grad is not None, f"{name}: Lucid grad is None, torch's is not"
        assert_close(lt.grad, tt.grad, g_rtol, g_atol, check_dtype, what=f"grad of {name}")
    return l_out, t_out


def check_forward(lucid_fn, torch_fn, *inputs, rtol=RTOL, atol=ATOL, check_dtype=True):
    """``check_op`` without gradients."""
    return check_op(lucid_fn, torch_fn, *inputs, grad=False, rtol=rtol, atol=atol,
                    check_dtype=check_dtype)
