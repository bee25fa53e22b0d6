"""InstanceNorm1d/2d and F.instance_norm against PyTorch: PyTorch's defaults, affine,
running statistics over several training steps and evaluation with them, unbatched input."""

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from nn_parity import assert_same_state, check_function, check_module, randn, uniform


def _randomise_affine(tmod, seed=0):
    with torch.no_grad():
        for i, p in enumerate(tmod.parameters()):
            p.copy_(torch.from_numpy(uniform(*p.shape, low=0.5, high=1.5, seed=seed + i)))


CASES = [
    (nn.InstanceNorm2d, torch.nn.InstanceNorm2d, (4, 3, 5, 6)),
    (nn.InstanceNorm2d, torch.nn.InstanceNorm2d, (1, 3, 2, 1)),
    (nn.InstanceNorm2d, torch.nn.InstanceNorm2d, (3, 7, 5)),  # unbatched (C, H, W)
    (nn.InstanceNorm1d, torch.nn.InstanceNorm1d, (4, 3, 9)),
    (nn.InstanceNorm1d, torch.nn.InstanceNorm1d, (3, 9)),  # unbatched (C, L)
]


@pytest.mark.parametrize("lcls,tcls,shape", CASES)
@pytest.mark.parametrize("kw", [{}, {"affine": True}, {"eps": 1e-3}])
def test_instance_norm_train(lcls, tcls, shape, kw):
    c = shape[-2] if lcls is nn.InstanceNorm1d else shape[-3]
    lmod, tmod = lcls(c, **kw), tcls(c, **kw)
    _randomise_affine(tmod)
    check_module(lmod, tmod, randn(*shape, seed=1) * 2 + 1, atol=1e-4, grad_atol=1e-4)


def test_instance_norm_defaults_match_pytorch():
    lmod, tmod = nn.InstanceNorm2d(5), torch.nn.InstanceNorm2d(5)
    assert (lmod.affine, lmod.track_running_stats, lmod.momentum, lmod.eps) == (
        tmod.affine, tmod.track_running_stats, tmod.momentum, tmod.eps)
    assert list(lmod.state_dict()) == list(tmod.state_dict()) == []
    full = nn.InstanceNorm2d(5, affine=True, track_running_stats=True)
    assert list(full.state_dict()) == list(torch.nn.InstanceNorm2d(
        5, affine=True, track_running_stats=True).state_dict())


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_instance_norm_running_stats(affine, momentum):
    """Three training steps update the running statistics as PyTorch does; evaluation
    then normalises with them (outputs and gradients)."""
    kw = dict(affine=affine, track_running_stats=True, momentum=momentum)
    lmod, tmod = nn.InstanceNorm2d(3, **kw), torch.nn.InstanceNorm2d(3, **kw)
    _randomise_affine(tmod)
    for step in range(3):
        check_module(lmod, tmod, randn(2, 3, 4, 5, seed=10 + step) * 3 + 2, copy=step == 0,
                     atol=1e-4, grad_atol=1e-4)
        assert_same_state(lmod, tmod, atol=1e-5)
    check_module(lmod, tmod, randn(2, 3, 4, 5, seed=20), train=False, copy=False,
                 atol=1e-4, grad_atol=1e-4)
    assert_same_state(lmod, tmod, atol=1e-5)


def test_instance_norm_functional_eval():
    rm, rv = uniform(3, seed=1), uniform(3, low=0.5, high=2.0, seed=2)
    w, b = uniform(3, seed=3), uniform(3, seed=4)

    def lf(x, w, b):
        return F.instance_norm(x, lucid.tensor(rm), lucid.tensor(rv), w, b,
                               use_input_stats=False)

    def tf(x, w, b):
        return TF.instance_norm(x, torch.from_numpy(rm), torch.from_numpy(rv), w, b,
                                use_input_stats=False)

    check_function(lf, tf, randn(2, 3, 4, 4, seed=5), w, b)
    check_function(lambda x: F.instance_norm(x), lambda x: TF.instance_norm(x),
                   randn(2, 3, 4, 4, seed=6), atol=1e-4)


def test_instance_norm_errors():
    with pytest.raises(lucid.ShapeError, match="InstanceNorm2d.*4D"):
        nn.InstanceNorm2d(3)(lucid.zeros(2, 3))
    with pytest.raises(lucid.ShapeError, match="InstanceNorm2d.*channels"):
        nn.InstanceNorm2d(3, affine=True)(lucid.zeros(1, 4, 2, 2))
    with pytest.warns(UserWarning, match="InstanceNorm2d.*channels"):
        out = nn.InstanceNorm2d(3)(lucid.tensor(randn(1, 4, 2, 2)))
    assert np.allclose(out.numpy().mean(axis=(2, 3)), 0, atol=1e-5)
    with pytest.raises(lucid.ShapeError, match="instance_norm.*more than 1 spatial"):
        F.instance_norm(lucid.zeros(2, 3, 1, 1))
