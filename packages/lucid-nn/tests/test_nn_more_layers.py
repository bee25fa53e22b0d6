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
