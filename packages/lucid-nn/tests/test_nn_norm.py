"""Normalisation layers against PyTorch: BatchNorm in train and eval mode (running
statistics after several steps), LayerNorm and GroupNorm, with and without affine."""

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from nn_parity import (
    assert_close,
    assert_same_state,
    check_function,
    check_module,
    copy_from_torch,
    randn,
    uniform,
)


def _randomise_affine(tmod, seed=0):
    """Non-trivial weight and bias, so gradients with respect to them are tested."""
    with torch.no_grad():
        for i, p in enumerate(tmod.parameters()):
            p.copy_(torch.from_numpy(uniform(*p.shape, low=0.5, high=1.5, seed=seed + i)))


BN_CASES = [
    ("2d", (4, 3, 5, 6), {}),
    ("2d", (2, 3, 4, 4), dict(momentum=0.3, eps=1e-3)),
    ("2d", (4, 3, 5, 6), dict(affine=False)),
    ("2d", (4, 3, 2, 3), dict(momentum=None)),
    ("2d", (4, 3, 2, 3), dict(bias=False)),
    ("1d", (8, 5), {}),
    ("1d", (4, 5, 7), {}),
]


def _bn(kind, ns, c, **kw):
    return (ns.BatchNorm2d if kind == "2d" else ns.BatchNorm1d)(c, **kw)


@pytest.mark.parametrize("kind,shape,kw", BN_CASES)
def test_batchnorm_train_steps_then_eval(kind, shape, kw):
    lbn, tbn = _bn(kind, nn, shape[1], **kw), _bn(kind, torch.nn, shape[1], **kw)
    _randomise_affine(tbn)
    copy_from_torch(lbn, tbn)
    for step in range(3):  # running statistics agree after several updates
        x = randn(*shape, seed=step) * (step + 1) + step
        check_module(lbn, tbn, x, train=True, copy=False, atol=1e-4, grad_atol=1e-4)
        for m in (lbn, tbn):
            m.zero_grad()
        assert_same_state(lbn, tbn, atol=1e-5)
    assert lbn.num_batches_tracked.item() == 3
    check_module(lbn, tbn, randn(*shape, seed=9) * 2 + 1, train=False, copy=False, atol=1e-4)
    assert_same_state(lbn, tbn)  # evaluation leaves the statistics alone


def test_batchnorm_without_running_stats():
    lbn = nn.BatchNorm2d(3, track_running_stats=False)
    tbn = torch.nn.BatchNorm2d(3, track_running_stats=False)
    _randomise_affine(tbn, seed=3)
    assert list(lbn.state_dict()) == ["weight", "bias"]
    x = randn(2, 3, 4, 4, seed=4) + 3
    check_module(lbn, tbn, x, train=True, atol=1e-4)
    check_module(lbn, tbn, x, train=False, copy=False, atol=1e-4)  # batch stats in eval too


def test_batchnorm_eval_with_loaded_stats():
    tbn = torch.nn.BatchNorm2d(4)
    _randomise_affine(tbn, seed=5)
    with torch.no_grad():
        tbn.running_mean.copy_(torch.from_numpy(randn(4, seed=6)))
        tbn.running_var.copy_(torch.from_numpy(uniform(4, low=0.5, high=2.0, seed=7)))
    check_module(nn.BatchNorm2d(4), tbn, randn(3, 4, 5, 5, seed=8), train=False)


def test_batchnorm_shape_errors():
    with pytest.raises(lucid.ShapeError, match="BatchNorm2d.*4D"):
        nn.BatchNorm2d(3)(lucid.zeros(2, 3, 4))
    with pytest.raises(lucid.ShapeError, match="BatchNorm1d.*channels"):
        nn.BatchNorm1d(3)(lucid.zeros(2, 4))
    with pytest.raises(lucid.ShapeError, match="batch_norm.*more than 1 value"):
        nn.BatchNorm1d(3)(lucid.zeros(1, 3))


def test_functional_batch_norm_updates_running_stats():
    x = randn(6, 3, 4, seed=10) * 2 + 1
    rm_l, rv_l = lucid.zeros(3), lucid.ones(3)
    rm_t, rv_t = torch.zeros(3), torch.ones(3)
    w, b = uniform(3, seed=11), uniform(3, seed=12)
    check_function(
        lambda x, w, b: F.batch_norm(x, rm_l, rv_l, w, b, training=True, momentum=0.2),
        lambda x, w, b: TF.batch_norm(x, rm_t, rv_t, w, b, training=True, momentum=0.2),
        x, w, b, atol=1e-4)
    assert_close(rm_l, rm_t)
    assert_close(rv_l, rv_t)
    check_function(lambda x: F.batch_norm(x, rm_l, rv_l), lambda x: TF.batch_norm(x, rm_t, rv_t),
                   x, atol=1e-4)


@pytest.mark.parametrize("shape,normalized", [((4, 6), 6), ((2, 3, 4, 5), (4, 5)),
                                              ((3, 8), (8,))])
@pytest.mark.parametrize("kw", [{}, dict(elementwise_affine=False), dict(bias=False),
                                dict(eps=1e-3)])
def test_layer_norm(shape, normalized, kw):
    tln = torch.nn.LayerNorm(normalized, **kw)
    _randomise_affine(tln, seed=13)
    check_module(nn.LayerNorm(normalized, **kw), tln, randn(*shape, seed=14) * 3 + 1,
                 atol=1e-4, grad_atol=1e-4)


def test_layer_norm_shape_error():
    with pytest.raises(lucid.ShapeError, match="layer_norm"):
        nn.LayerNorm(5)(lucid.zeros(2, 4))


@pytest.mark.parametrize("groups,shape", [(2, (3, 4, 5, 5)), (1, (2, 6, 3)), (6, (2, 6, 4)),
                                          (3, (4, 6))])
@pytest.mark.parametrize("kw", [{}, dict(affine=False), dict(eps=1e-2)])
def test_group_norm(groups, shape, kw):
    tgn = torch.nn.GroupNorm(groups, shape[1], **kw)
    _randomise_affine(tgn, seed=15)
    check_module(nn.GroupNorm(groups, shape[1], **kw), tgn, randn(*shape, seed=16) * 2 - 1,
                 atol=1e-4, grad_atol=1e-4)


def test_group_norm_errors():
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)
    with pytest.raises(lucid.ShapeError, match="group_norm"):
        F.group_norm(lucid.zeros(2, 6, 3), 4)


def test_batchnorm_backward_under_large_mean():
    """Gradients stay accurate when the mean dwarfs the spread (no cancellation)."""
    x = randn(8, 2, 3, 3, seed=17) + 100
    tbn = torch.nn.BatchNorm2d(2)
    check_module(nn.BatchNorm2d(2), tbn, x, atol=1e-3, grad_atol=1e-3)
    assert np.isfinite(nn.BatchNorm2d(2)(lucid.tensor(x)).numpy()).all()
