"""Losses (functional and modules) against PyTorch: values, input and target gradients."""

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from nn_parity import assert_close, check_function, randint, randn, uniform

REDUCTIONS = ["mean", "sum", "none"]


def _lt(a):
    return lucid.tensor(a)


def _tt(a):
    return torch.from_numpy(np.asarray(a).copy())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_indices(reduction, smoothing, weighted):
    x, y = randn(6, 5, seed=1), randint(0, 5, 6, seed=2)
    y[2] = -100  # ignored sample
    w = uniform(5, low=0.2, high=2.0, seed=3) if weighted else None

    def lf(x, y):
        return F.cross_entropy(x, y, None if w is None else _lt(w), reduction=reduction,
                               label_smoothing=smoothing)

    def tf(x, y):
        return TF.cross_entropy(x, y, None if w is None else _tt(w), reduction=reduction,
                                label_smoothing=smoothing)

    check_function(lf, tf, x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_spatial_and_ignore_index(reduction):
    x, y = randn(2, 4, 3, 5, seed=4), randint(0, 4, 2, 3, 5, seed=5)
    y[0, 1, :2] = 3  # ignore_index below equals a real class
    w = uniform(4, low=0.5, high=1.5, seed=6)
    check_function(
        lambda x, y: F.cross_entropy(x, y, _lt(w), ignore_index=3, reduction=reduction,
                                     label_smoothing=0.1),
        lambda x, y: TF.cross_entropy(x, y, _tt(w), ignore_index=3, reduction=reduction,
                                      label_smoothing=0.1),
        x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_probabilities(reduction, smoothing, weighted):
    x = randn(4, 6, seed=7)
    t = np.random.default_rng(8).dirichlet(np.ones(6), size=4).astype(np.float32)
    w = uniform(6, low=0.2, high=2.0, seed=9) if weighted else None
    check_function(
        lambda x, t: F.cross_entropy(x, t, None if w is None else _lt(w), reduction=reduction,
                                     label_smoothing=smoothing),
        lambda x, t: TF.cross_entropy(x, t, None if w is None else _tt(w), reduction=reduction,
                                      label_smoothing=smoothing),
        x, t)


def test_cross_entropy_large_logits_are_stable():
    x = randn(3, 4, seed=10) * 1000
    y = randint(0, 4, 3, seed=11)
    out, _ = check_function(F.cross_entropy, TF.cross_entropy, x, y, rtol=1e-5)
    assert np.isfinite(out.item())


def test_cross_entropy_unbatched():
    x, y = randn(5, seed=12), np.array(3, dtype=np.int64)
    check_function(F.cross_entropy, TF.cross_entropy, x, y)
    check_function(lambda x, y: F.cross_entropy(x, y, reduction="none"),
                   lambda x, y: TF.cross_entropy(x, y, reduction="none"), x, y)


def test_cross_entropy_module_matches_functional_and_registers_weight():
    w = uniform(3, low=0.5, high=1.5, seed=13)
    crit = nn.CrossEntropyLoss(weight=_lt(w), label_smoothing=0.1, reduction="sum")
    assert list(crit.state_dict()) == list(torch.nn.CrossEntropyLoss(weight=_tt(w))
                                           .state_dict())
    x, y = randn(4, 3, seed=14), randint(0, 3, 4, seed=15)
    expected = TF.cross_entropy(_tt(x), _tt(y), _tt(w), label_smoothing=0.1, reduction="sum")
    assert_close(crit(_lt(x), _lt(y)), expected)


def test_cross_entropy_bad_targets():
    x = _lt(randn(3, 4))
    with pytest.raises(lucid.LucidIndexError, match="cross_entropy.*out of bounds"):
        F.cross_entropy(x, _lt(np.array([0, 4, 1])))
    with pytest.raises(lucid.ShapeError, match="cross_entropy.*target shape"):
        F.cross_entropy(x, _lt(np.array([0, 1])))
    with pytest.raises(lucid.DTypeError, match="cross_entropy"):
        F.cross_entropy(x, _lt(randn(3)))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, _lt(np.array([0, 1, 2])), reduction="avg")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss(reduction, weighted):
    x = np.log(np.random.default_rng(16).dirichlet(np.ones(5), size=6)).astype(np.float32)
    y = randint(0, 5, 6, seed=17)
    y[1] = -100
    w = uniform(5, low=0.2, high=2.0, seed=18) if weighted else None
    check_function(
        lambda x, y: F.nll_loss(x, y, None if w is None else _lt(w), reduction=reduction),
        lambda x, y: TF.nll_loss(x, y, None if w is None else _tt(w), reduction=reduction),
        x, y)
    crit = nn.NLLLoss(None if w is None else _lt(w), reduction=reduction)
    assert_close(crit(_lt(x), _lt(y)),
                 TF.nll_loss(_tt(x), _tt(y), None if w is None else _tt(w), reduction=reduction))


def test_nll_loss_spatial():
    x, y = randn(2, 3, 4, seed=19), randint(0, 3, 2, 4, seed=20)
    check_function(F.nll_loss, TF.nll_loss, x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_regression_losses(name, reduction):
    x, t = randn(3, 4, seed=21), randn(3, 4, seed=22)
    check_function(lambda x, t: getattr(F, name)(x, t, reduction=reduction),
                   lambda x, t: getattr(TF, name)(x, t, reduction=reduction), x, t)


def test_regression_loss_modules():
    x, t = randn(5, 2, seed=23), randn(5, 2, seed=24)
    assert_close(nn.MSELoss()(_lt(x), _lt(t)), torch.nn.MSELoss()(_tt(x), _tt(t)))
    assert_close(nn.L1Loss(reduction="sum")(_lt(x), _lt(t)),
                 torch.nn.L1Loss(reduction="sum")(_tt(x), _tt(t)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy(reduction, weighted):
    p = uniform(4, 3, low=0.02, high=0.98, seed=25)
    t = uniform(4, 3, low=0.0, high=1.0, seed=26)
    w = uniform(4, 3, low=0.5, high=2.0, seed=27) if weighted else None
    check_function(
        lambda p, t: F.binary_cross_entropy(p, t, None if w is None else _lt(w),
                                            reduction=reduction),
        lambda p, t: TF.binary_cross_entropy(p, t, None if w is None else _tt(w),
                                             reduction=reduction),
        p, t)


def test_binary_cross_entropy_clamps_logs_at_minus_100():
    p, t = np.array([0.0, 1.0, 0.5], np.float32), np.array([1.0, 0.0, 1.0], np.float32)
    out = F.binary_cross_entropy(_lt(p), _lt(t), reduction="none")
    assert_close(out, TF.binary_cross_entropy(_tt(p), _tt(t), reduction="none"))
    assert_close(nn.BCELoss()(_lt(p), _lt(t)), torch.nn.BCELoss()(_tt(p), _tt(t)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weighted", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits(reduction, pos_weighted, weighted):
    x = randn(5, 3, seed=28) * 4
    t = uniform(5, 3, low=0.0, high=1.0, seed=29)
    w = uniform(5, 3, low=0.5, high=2.0, seed=30) if weighted else None
    pw = uniform(3, low=0.5, high=3.0, seed=31) if pos_weighted else None
    check_function(
        lambda x, t: F.binary_cross_entropy_with_logits(
            x, t, None if w is None else _lt(w), reduction=reduction,
            pos_weight=None if pw is None else _lt(pw)),
        lambda x, t: TF.binary_cross_entropy_with_logits(
            x, t, None if w is None else _tt(w), reduction=reduction,
            pos_weight=None if pw is None else _tt(pw)),
        x, t)


def test_bce_with_logits_module_and_extreme_logits():
    x = np.array([[-200.0, 0.0, 200.0]], np.float32)
    t = np.array([[1.0, 0.5, 0.0]], np.float32)
    pw = np.array([2.0, 1.0, 0.5], np.float32)
    lm = nn.BCEWithLogitsLoss(pos_weight=_lt(pw))
    tm = torch.nn.BCEWithLogitsLoss(pos_weight=_tt(pw))
    assert list(lm.state_dict()) == list(tm.state_dict())
    out = lm(_lt(x), _lt(t))
    assert np.isfinite(out.item())
    assert_close(out, tm(_tt(x), _tt(t)))


def test_binary_losses_shape_mismatch():
    with pytest.raises(lucid.ShapeError, match="binary_cross_entropy_with_logits"):
        F.binary_cross_entropy_with_logits(_lt(randn(3, 2)), _lt(randn(3)))
