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
