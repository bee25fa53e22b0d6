"""Run a Lucid optimizer and its PyTorch counterpart on the same parameters and gradients.

    lucid_params, torch_params = run_pair(lucid.optim.Adam, torch.optim.Adam, dict(lr=0.1))

Both start from the same random parameters and receive the same sequence of random
gradients (``p.grad`` set directly, ``None`` where a schedule says so), one ``step()``
each, so their final parameters must agree to float32 rounding.
"""

from __future__ import annotations

import io

import lucid
import numpy as np
import torch

SHAPES = [(4, 3), (3,), (2, 2, 2), ()]
# float32 over 20 steps: PyTorch and MLX round a few intermediate terms differently
RTOL, ATOL = 1e-5, 1e-6


def initial_params(seed: int = 0, shapes=SHAPES) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def gradient_sequence(steps: int = 20, seed: int = 1, shapes=SHAPES) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(steps)]


def make_params(arrays):
    lp = [lucid.tensor(a, requires_grad=True) for a in arrays]
    tp = [torch.tensor(a, requires_grad=True) for a in arrays]
    return lp, tp


def set_grads(lucid_params, torch_params, grads, skip=()):
    for i, (lp, tp, g) in enumerate(zip(lucid_params, torch_params, grads, strict=True)):
        if i in skip:
            lp.grad, tp.grad = None, None
        else:
            lp.grad, tp.grad = lucid.tensor(g), torch.tensor(g)


def run_pair(lucid_cls, torch_cls, kwargs, steps: int = 20, groups=None, skip=None,
             lucid_kwargs=None):
    """Final (lucid params, torch params) after ``steps`` steps.

    ``groups``: list of (param indices, options) to build parameter groups; ``skip(step)``
    gives the indices of parameters without a gradient at that step.
    """
    lp, tp = make_params(initial_params())
    if groups is None:
        lopt = lucid_cls(lp, **kwargs, **(lucid_kwargs or {}))
        topt = torch_cls(tp, **kwargs)
    else:
        lopt = lucid_cls([{"params": [lp[i] for i in idx], **o} for idx, o in groups], **kwargs,
                         **(lucid_kwargs or {}))
        topt = torch_cls([{"params": [tp[i] for i in idx], **o} for idx, o in groups], **kwargs)
    for t, grads in enumerate(gradient_sequence(steps)):
        set_grads(lp, tp, grads, skip(t) if skip else ())
        lopt.step()
        topt.step()
    return lp, tp


def assert_params_close(lucid_params, torch_params, rtol=RTOL, atol=ATOL):
    for i, (a, b) in enumerate(zip(lucid_params, torch_params, strict=True)):
        assert a.shape == tuple(b.shape), i
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"parameter {i}")


def is_evaluated(array) -> bool:
    """True when ``array`` holds computed values (no pending graph behind it)."""
    import mlx.core as mx  # after lucid, which configures MLX's BLAS on import

    dot = io.StringIO()
    mx.export_to_dot(dot, array)
    return "shape=rectangle" not in dot.getvalue()


def moved_after_20_steps(name: str, kwargs: dict) -> list[bool]:
    """Run ``name`` in both frameworks for 20 steps, assert they agree, and say which
    parameters moved from their start."""
    lp, tp = run_pair(getattr(lucid.optim, name), getattr(torch.optim, name), kwargs)
    assert_params_close(lp, tp)
    return [not np.allclose(p.numpy(), s) for p, s in zip(lp, initial_params(), strict=True)]


def assert_op_by_op_equals_compiled(name: str, kwargs: dict) -> None:
    """``compile=False`` (the rule op by op) agrees with PyTorch and with the fused rule."""
    lucid_cls, torch_cls = getattr(lucid.optim, name), getattr(torch.optim, name)
    fused, _ = run_pair(lucid_cls, torch_cls, kwargs)
    plain, tp = run_pair(lucid_cls, torch_cls, kwargs, lucid_kwargs=dict(compile=False))
    assert_params_close(plain, tp)
    for a, b in zip(fused, plain, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def two_groups(params, lr2=0.01) -> list[dict]:
    return [{"params": params[:2]}, {"params": params[2:], "lr": lr2}]


def assert_state_dict_like_torchs(name: str, kwargs: dict) -> dict:
    """After 3 steps over two parameter groups (one parameter never stepped), the Lucid
    optimizer's state_dict has PyTorch's keys, state values and group options; returns it."""
    lp, tp = make_params(initial_params())
    lopt = getattr(lucid.optim, name)(two_groups(lp), **kwargs)
    topt = getattr(torch.optim, name)(two_groups(tp), **kwargs)
    for g in gradient_sequence(3):
        set_grads(lp, tp, g, skip={3})
        lopt.step()
        topt.step()
    ours, theirs = lopt.state_dict(), topt.state_dict()
    assert set(ours) == {"state", "param_groups"}
    assert list(ours["state"]) == list(theirs["state"])
    for idx, state in theirs["state"].items():
        assert list(ours["state"][idx]) == list(state), idx
        for key, value in state.items():
            mine = ours["state"][idx][key]
            if isinstance(mine, (int, float)):  # step, NAdam's mu_product: Python numbers
                np.testing.assert_allclose(mine, float(value), rtol=1e-6, err_msg=key)
            else:
                np.testing.assert_allclose(mine.numpy(), value.numpy(), rtol=RTOL, atol=ATOL,
                                           err_msg=key)
    for og, tg in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        assert og["params"] == tg["params"]
        for key, value in og.items():
            if key in tg:
                assert (tuple(tg[key]) if key == "betas" else tg[key]) == value, key
    return ours
