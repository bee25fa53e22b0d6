"""Activations, pooling, dropout, reshaping and normalisation layers added for PyTorch
parity: outputs and gradients against PyTorch on the same weights and inputs."""

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from nn_parity import assert_close, check_function, check_module, randn


def _edgy(*shape, seed=3, scale=3.0):
    """Random values with the points where the activations switch formula mixed in."""
    x = randn(*shape, seed=seed) * scale
    flat = x.reshape(-1)
    specials = [0.0, -3.0, 3.0, 1e-3, -1e-3, 25.0, -25.0]
    flat[: len(specials)] = specials[: flat.size]
    return x


NEW_ACTIVATIONS = [
    lambda m: m.ELU(),
    lambda m: m.ELU(alpha=0.5),
    lambda m: m.Softplus(),
    lambda m: m.Softplus(beta=2.0, threshold=5.0),
    lambda m: m.Softplus(beta=0.5),
    lambda m: m.Hardswish(),
    lambda m: m.Mish(),
    lambda m: m.PReLU(),
    lambda m: m.PReLU(4, init=0.1),
]


@pytest.mark.parametrize("make", NEW_ACTIVATIONS)
@pytest.mark.parametrize("shape", [(3, 4, 5), (1, 4), (2, 4, 3, 3)])
def test_new_activation_layers(make, shape):
    check_module(make(nn), make(torch.nn), _edgy(*shape))


@pytest.mark.parametrize("name,kwargs", [
    ("elu", {}), ("elu", {"alpha": 2.0}), ("softplus", {}),
    ("softplus", {"beta": 3.0, "threshold": 2.0}), ("hardswish", {}), ("mish", {}),
])
def test_new_functional_activations(name, kwargs):
    check_function(lambda x: getattr(F, name)(x, **kwargs),
                   lambda x: getattr(TF, name)(x, **kwargs), _edgy(4, 7, seed=4))


@pytest.mark.parametrize("shape,k", [((2, 3, 4, 5), 3), ((2, 3), 3), ((5,), 1),
                                     ((1, 2, 7), 2), ((2, 3), 1)])
def test_prelu_functional(shape, k):
    w = np.random.default_rng(9).uniform(-0.5, 0.5, k).astype(np.float32)
    check_function(F.prelu, TF.prelu, _edgy(*shape, seed=5), w)


def test_prelu_layer_weight_and_errors():
    m = nn.PReLU(3, init=0.3)
    assert m.weight.shape == (3,) and np.allclose(m.weight.numpy(), 0.3)
    assert list(m.state_dict()) == ["weight"]
    with pytest.raises(lucid.ShapeError, match="prelu.*3 slopes.*channels"):
        m(lucid.zeros(2, 4))
    with pytest.raises(lucid.ShapeError, match="prelu.*1 channels"):
        m(lucid.zeros(3))  # as PyTorch: a 1-D input has one channel


def test_softplus_large_inputs_are_finite():
    x = lucid.tensor(np.array([-200.0, -30.0, 30.0, 200.0], np.float32), requires_grad=True)
    out = F.softplus(x, beta=0.01, threshold=1.0)
    out.sum().backward()
    ref = TF.softplus(torch.tensor([-200.0, -30.0, 30.0, 200.0]), beta=0.01, threshold=1.0)
    assert_close(out, ref)
    assert np.all(np.isfinite(x.grad.numpy()))


def _distinct(*shape, seed=5):
    """Distinct values (no ties for the max pools to break differently)."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n).astype(np.float32) / 10).reshape(shape)


POOLS_1D = [
    lambda m: m.MaxPool1d(2),
    lambda m: m.MaxPool1d(3, 2, 1),
    lambda m: m.MaxPool1d(3, stride=1, dilation=2),
    lambda m: m.MaxPool1d(4, stride=3, padding=2, ceil_mode=True),
    lambda m: m.AvgPool1d(2),
    lambda m: m.AvgPool1d(3, 2, 1),
    lambda m: m.AvgPool1d(3, 2, 1, count_include_pad=False),
    lambda m: m.AvgPool1d(4, 3, 2, ceil_mode=True),
    lambda m: m.AdaptiveMaxPool2d(1),
    lambda m: m.AdaptiveMaxPool2d((3, 2)),
    lambda m: m.AdaptiveMaxPool2d((5, None)),
    lambda m: m.AdaptiveMaxPool2d((4, 4)),
    lambda m: m.AdaptiveMaxPool2d((7, 9)),
]


@pytest.mark.parametrize("make", POOLS_1D)
@pytest.mark.parametrize("batch", [2, 1, None])
def test_more_pooling(make, batch):
    lmod, tmod = make(nn), make(torch.nn)
    lead = () if batch is None else (batch,)
    shape = lead + ((3, 11) if "1d" in type(lmod).__name__ else (3, 7, 9))
    check_module(lmod, tmod, _distinct(*shape))


def test_adaptive_max_pool_ties_and_overlap():
    """Overlapping windows (7 -> 5) send several gradients to one input; ties go to the
    first maximum in row-major order, as in PyTorch."""
    x = np.round(randn(2, 3, 7, 6, seed=6))  # many ties
    check_function(lambda t: F.adaptive_max_pool2d(t, (5, 4)),
                   lambda t: TF.adaptive_max_pool2d(t, (5, 4)), x)


@pytest.mark.parametrize("size", [(3, 2), 1, (7, 9)])
def test_max_pool_indices(size):
    x = _distinct(2, 3, 7, 9)
    lo, li = F.adaptive_max_pool2d(lucid.tensor(x), size, return_indices=True)
    to, ti = TF.adaptive_max_pool2d(torch.from_numpy(x), size, return_indices=True)
    assert_close(lo, to)
    assert_close(li, ti)
    x1 = _distinct(2, 3, 11)
    lo, li = F.max_pool1d(lucid.tensor(x1), 3, 2, 1, return_indices=True)
    to, ti = TF.max_pool1d(torch.from_numpy(x1), 3, 2, 1, return_indices=True)
    assert_close(lo, to)
    assert_close(li, ti)


def test_pooling_bad_input():
    with pytest.raises(lucid.ShapeError, match="max_pool1d.*3-D"):
        F.max_pool1d(lucid.zeros(1, 2, 3, 4), 2)
    with pytest.raises(lucid.ShapeError, match="avg_pool1d.*3-D"):
        F.avg_pool1d(lucid.zeros(4), 2)
    with pytest.raises(lucid.ShapeError, match="adaptive_max_pool2d.*4-D"):
        F.adaptive_max_pool2d(lucid.zeros(4, 4), 2)
    with pytest.raises(lucid.ShapeError, match="adaptive_max_pool2d.*positive"):
        F.adaptive_max_pool2d(lucid.zeros(1, 4, 4), (0, 2))


@pytest.mark.parametrize("dim,sizes,shape", [(1, (3, 4, 5), (2, 60)), (-1, (2, -1), (3, 4, 6)),
                                             (0, (1, 2), (2, 3)), (1, (6,), (1, 6))])
def test_unflatten(dim, sizes, shape):
    check_module(nn.Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes), randn(*shape))


def test_unflatten_bad_sizes():
    with pytest.raises(lucid.ShapeError, match="Unflatten.*multiply"):
        nn.Unflatten(1, (4, 4))(lucid.zeros(2, 15))
    with pytest.raises(lucid.ShapeError, match="Unflatten.*multiply"):
        nn.Unflatten(1, (-1, -1))(lucid.zeros(2, 16))


@pytest.mark.parametrize("shape", [(40, 50, 3, 3), (1, 2000, 2, 1)])
def test_dropout2d_drops_whole_channels(shape):
    lucid.seed(0)
    drop = nn.Dropout2d(0.3)
    x = lucid.tensor(randn(*shape, seed=7) + 5.0, requires_grad=True)  # no zero inputs
    out = drop(x)
    vals, xv = out.numpy(), x.numpy()
    kept = (vals != 0).reshape(shape[0], shape[1], -1)
    assert np.all(kept.all(-1) == kept.any(-1)), "a channel was partly dropped"
    channel_kept = kept[..., 0]
    assert 0.62 < channel_kept.mean() < 0.78
    scale = np.where(channel_kept, 1 / 0.7, 0.0)[..., None, None]
    np.testing.assert_allclose(vals, xv * scale, rtol=1e-6)
    g = randn(*shape, seed=8)
    out.backward(lucid.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g * scale, rtol=1e-6)
    drop.eval()
    np.testing.assert_array_equal(drop(x).numpy(), xv)


def test_dropout2d_edges():
    x = lucid.tensor(randn(2, 3, 4, 4) + 5.0)
    assert np.all(F.dropout2d(x, 1.0).numpy() == 0)
    np.testing.assert_array_equal(F.dropout2d(x, 0.0).numpy(), x.numpy())
    with pytest.warns(UserWarning, match="dropout2d.*\\(N, C, L\\)"):
        out = F.dropout2d(lucid.ones(30, 40, 5), 0.5).numpy()
    assert np.all((out == 0).all(-1) == (out == 0).any(-1))  # per (N, C) as PyTorch
    with pytest.raises(lucid.ShapeError, match="dropout2d.*4-D"):
        F.dropout2d(lucid.ones(3, 4), 0.5)
    with pytest.raises(lucid.DTypeError, match="dropout2d.*floating"):
        F.dropout2d(lucid.ones(2, 3, 4, 4, dtype=lucid.int32), 0.5)
    with pytest.raises(ValueError, match="Dropout2d.*probability"):
        nn.Dropout2d(-0.1)
