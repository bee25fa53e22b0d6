"""Gradient clipping against torch.nn.utils."""

import math

import lucid
import lucid.nn as nn
import numpy as np
import pytest
import torch
from nn_parity import assert_close, randn


def _pairs(scale=1.0, seed=0):
    """Lucid and torch parameters with identical gradients (one parameter has none)."""
    shapes = [(3, 4), (5,), (2, 2, 3)]
    lp, tp = [], []
    for i, s in enumerate(shapes):
        a = randn(*s, seed=seed + i)
        lp.append(nn.Parameter(lucid.tensor(a)))
        tp.append(torch.nn.Parameter(torch.from_numpy(a.copy())))
        g = randn(*s, seed=seed + 10 + i) * scale
        lp[-1].grad = lucid.tensor(g)
        tp[-1].grad = torch.from_numpy(g.copy())
    lp.append(nn.Parameter(lucid.zeros(2)))  # no gradient: skipped
    tp.append(torch.nn.Parameter(torch.zeros(2)))
    return lp, tp


@pytest.mark.parametrize("max_norm", [0.5, 100.0])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    lp, tp = _pairs()
    total_l = nn.utils.clip_grad_norm_(lp, max_norm, norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    assert_close(total_l, total_t)
    for a, b in zip(lp[:3], tp[:3], strict=True):
        assert_close(a.grad, b.grad)
    assert lp[3].grad is None


def test_clip_grad_norm_single_tensor_and_model():
    p = nn.Parameter(lucid.tensor(np.ones(4, np.float32)))
    p.grad = lucid.tensor(np.full(4, 3.0, np.float32))
    total = nn.utils.clip_grad_norm_(p, 1.0)
    assert total.item() == pytest.approx(6.0)
    assert np.linalg.norm(p.grad.numpy()) == pytest.approx(1.0, rel=1e-5)
    lin = nn.Linear(3, 2)
    lin(lucid.ones(4, 3)).sum().backward()
    total = nn.utils.clip_grad_norm_(lin.parameters(), 0.1)
    assert total.item() > 0.1
    grads = np.concatenate([q.grad.numpy().ravel() for q in lin.parameters()])
    assert np.linalg.norm(grads) == pytest.approx(0.1, rel=1e-4)
    assert nn.utils.clip_grad_norm_([], 1.0).item() == 0.0


def test_clip_grad_norm_nonfinite():
    lp, _ = _pairs()
    lp[0].grad = lucid.tensor(np.full((3, 4), np.inf, np.float32))
    with pytest.raises(lucid.GradError, match="clip_grad_norm_"):
        nn.utils.clip_grad_norm_(lp, 1.0, error_if_nonfinite=True)


def test_clip_grad_value_matches_torch():
    lp, tp = _pairs(scale=3.0, seed=5)
    nn.utils.clip_grad_value_(lp, 1.5)
    torch.nn.utils.clip_grad_value_(tp, 1.5)
    for a, b in zip(lp[:3], tp[:3], strict=True):
        assert_close(a.grad, b.grad)
    assert np.abs(lp[0].grad.numpy()).max() == pytest.approx(1.5)
