"""SmoothL1Loss, HuberLoss and KLDivLoss against PyTorch: values, input and target
gradients, every reduction, broadcasting and the points where the formulas switch."""

import warnings

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from nn_parity import check_function, check_module, randn

REDUCTIONS = ["mean", "sum", "none"]


def _pair(shape_x=(4, 5), shape_t=(4, 5)):
    x, t = randn(*shape_x, seed=1) * 2, randn(*shape_t, seed=2) * 2
    if shape_x == shape_t:  # differences exactly at the switch points
        k = min(4, x.size)
        t.reshape(-1)[:k] = x.reshape(-1)[:k] - np.array([1.0, -1.0, 0.5, 0.0], np.float32)[:k]
    return x, t


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.5, 0.0, 3.0])
def test_smooth_l1(reduction, beta):
    check_function(lambda x, t: F.smooth_l1_loss(x, t, reduction=reduction, beta=beta),
                   lambda x, t: TF.smooth_l1_loss(x, t, reduction=reduction, beta=beta), *_pair())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.5, 2.5])
def test_huber(reduction, delta):
    check_function(lambda x, t: F.huber_loss(x, t, reduction=reduction, delta=delta),
                   lambda x, t: TF.huber_loss(x, t, reduction=reduction, delta=delta), *_pair())


@pytest.mark.parametrize("name", ["smooth_l1_loss", "huber_loss"])
@pytest.mark.parametrize("shapes", [((4, 5), (1, 5)), ((1, 5), (3, 1, 5)), ((1,), (1,)),
                                    ((2, 3, 4), (2, 3, 4))])
def test_robust_losses_broadcast(name, shapes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch warns about broadcast targets
        check_function(getattr(F, name), getattr(TF, name), *_pair(*shapes))


def test_robust_loss_layers():
    x, t = _pair((3, 7), (3, 7))
    check_module(nn.SmoothL1Loss(beta=0.3), torch.nn.SmoothL1Loss(beta=0.3), x, t)
    check_module(nn.HuberLoss(reduction="sum", delta=0.7),
                 torch.nn.HuberLoss(reduction="sum", delta=0.7), x, t)
    with pytest.raises(ValueError, match="smooth_l1_loss.*beta"):
        F.smooth_l1_loss(lucid.zeros(2), lucid.zeros(2), beta=-1.0)
    with pytest.raises(ValueError, match="huber_loss.*delta"):
        F.huber_loss(lucid.zeros(2), lucid.zeros(2), delta=0.0)
    with pytest.raises(ValueError, match="reduction"):
        nn.HuberLoss(reduction="batchmean")


def _kl_inputs(shape, log_target, zeros=False):
    logq = np.log(np.random.default_rng(3).dirichlet(np.ones(shape[-1]), shape[:-1]))
    p = np.random.default_rng(4).dirichlet(np.ones(shape[-1]), shape[:-1])
    if zeros:
        p.reshape(-1, shape[-1])[0, 0] = 0.0
    t = np.log(p) if log_target else p
    return logq.astype(np.float32), t.astype(np.float32)


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("shape", [(4, 6), (1, 3), (2, 3, 5)])
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
def test_kl_div(reduction, log_target, shape):
    x, t = _kl_inputs(shape, log_target)
    check_function(lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target),
                   lambda x, t: TF.kl_div(x, t, reduction=reduction, log_target=log_target),
                   x, t)


def test_kl_div_zero_target_probability():
    """p = 0 contributes 0 to the loss; its input gradient is 0 and, as in PyTorch, its
    target gradient NaN."""
    x, t = _kl_inputs((3, 4), False, zeros=True)
    check_function(lambda x, t: F.kl_div(x, t, reduction="sum"),
                   lambda x, t: TF.kl_div(x, t, reduction="sum"), x, t, grad=[True, False])
    lx, lt = lucid.tensor(x), lucid.tensor(t, requires_grad=True)
    F.kl_div(lx, lt, reduction="sum").backward()
    g = lt.grad.numpy()
    assert np.isnan(g[0, 0]) and np.all(np.isfinite(g.reshape(-1)[1:]))


@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none"])
def test_kl_div_layer(reduction):
    x, t = _kl_inputs((5, 4), True)
    check_module(nn.KLDivLoss(reduction=reduction, log_target=True),
                 torch.nn.KLDivLoss(reduction=reduction, log_target=True), x, t)
    with pytest.raises(ValueError, match="KLDivLoss.*batchmean"):
        nn.KLDivLoss(reduction="avg")
    with pytest.raises(ValueError, match="kl_div.*batchmean"):
        F.kl_div(lucid.zeros(2), lucid.zeros(2), reduction="avg")
