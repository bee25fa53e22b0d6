"""Layers against PyTorch with the same weights: outputs, input and parameter gradients."""

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from nn_parity import assert_close, check_function, check_module, randint, randn


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 5), (5,), (0, 5), (1, 1, 5)])
def test_linear(shape, bias):
    check_module(nn.Linear(5, 3, bias=bias), torch.nn.Linear(5, 3, bias=bias), randn(*shape))


def test_linear_bad_input():
    with pytest.raises(lucid.ShapeError, match="linear.*in_features"):
        nn.Linear(5, 3)(lucid.zeros(2, 4))


CONV2D = [
    dict(),
    dict(stride=2, padding=1),
    dict(padding=(1, 2), bias=False),
    dict(padding="same", dilation=2),
    dict(padding="same", kernel_size=(2, 4)),
    dict(padding="valid"),
    dict(groups=2, padding=1),
    dict(stride=(2, 1), dilation=(1, 2)),
    dict(padding=1, padding_mode="reflect"),
    dict(padding=(1, 2), padding_mode="circular"),
    dict(padding="same", padding_mode="replicate"),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("kw", CONV2D)
def test_conv2d(kw):
    kw = dict(kw)
    k = kw.pop("kernel_size", 3)
    check_module(nn.Conv2d(4, 6, k, **kw), torch.nn.Conv2d(4, 6, k, **kw), randn(2, 4, 7, 8),
                 atol=1e-4, grad_atol=1e-4)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=2), dict(padding="same",
                                                                        dilation=3),
                                dict(groups=3, bias=False)])
def test_conv1d(kw):
    check_module(nn.Conv1d(3, 6, 3, **kw), torch.nn.Conv1d(3, 6, 3, **kw), randn(2, 3, 11),
                 atol=1e-4, grad_atol=1e-4)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1),
                                dict(groups=2, bias=False), dict(dilation=2, stride=2)])
def test_conv_transpose2d(kw):
    check_module(nn.ConvTranspose2d(4, 6, 3, **kw), torch.nn.ConvTranspose2d(4, 6, 3, **kw),
                 randn(2, 4, 5, 6), atol=1e-4, grad_atol=1e-4)


def test_conv_bad_arguments():
    with pytest.raises(ValueError, match="padding='same'"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(lucid.ShapeError, match="groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(lucid.ShapeError, match="conv2d.*channels"):
        nn.Conv2d(3, 4, 3)(lucid.zeros(1, 2, 5, 5))


ACTIVATIONS = [
    (lambda m: m.ReLU(), None),
    (lambda m: m.LeakyReLU(), None),
    (lambda m: m.LeakyReLU(0.2), None),
    (lambda m: m.GELU(), None),
    (lambda m: m.GELU(approximate="tanh"), None),
    (lambda m: m.SiLU(), None),
    (lambda m: m.Tanh(), None),
    (lambda m: m.Sigmoid(), None),
    (lambda m: m.Softmax(dim=1), None),
    (lambda m: m.Softmax(dim=-1), None),
    (lambda m: m.LogSoftmax(dim=1), None),
    (lambda m: m.Identity(), None),
    (lambda m: m.Flatten(), None),
    (lambda m: m.Flatten(0, 2), None),
]


@pytest.mark.parametrize("make,_", ACTIVATIONS)
def test_activation_layers(make, _):
    x = randn(3, 4, 5, seed=3) * 3
    x[0, 0, :3] = [0.0, 1e-3, -1e-3]
    check_module(make(nn), make(torch.nn), x)


def test_gelu_functional_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(lucid.zeros(2), approximate="erf")


@pytest.mark.parametrize("name", ["relu", "gelu", "silu", "tanh", "sigmoid", "leaky_relu"])
def test_functional_activations(name):
    check_function(getattr(F, name), getattr(TF, name), randn(4, 6, seed=4) * 2)


def test_functional_softmax():
    check_function(lambda x: F.softmax(x, dim=0), lambda x: TF.softmax(x, dim=0), randn(4, 3))
    check_function(lambda x: F.log_softmax(x, 1), lambda x: TF.log_softmax(x, 1), randn(4, 3))


POOLS = [
    lambda m: m.MaxPool2d(2),
    lambda m: m.MaxPool2d(3, 2, 1),
    lambda m: m.MaxPool2d((2, 3), stride=(1, 2), ceil_mode=True),
    lambda m: m.AvgPool2d(2),
    lambda m: m.AvgPool2d(3, 2, 1),
    lambda m: m.AvgPool2d(3, 2, 1, count_include_pad=False),
    lambda m: m.AdaptiveAvgPool2d((1, 1)),
    lambda m: m.AdaptiveAvgPool2d(1),
    lambda m: m.AdaptiveAvgPool2d((3, 2)),
]


@pytest.mark.parametrize("make", POOLS)
def test_pooling(make):
    x = np.random.default_rng(5).permutation(2 * 3 * 7 * 6).astype(np.float32)
    check_module(make(nn), make(torch.nn), x.reshape(2, 3, 7, 6) / 10)


def test_dropout_train_and_eval():
    drop = nn.Dropout(0.3)
    x = lucid.ones(200, 100, requires_grad=True)
    out = drop(x)
    vals = out.numpy()
    kept = vals != 0
    assert 0.65 < kept.mean() < 0.75
    np.testing.assert_allclose(vals[kept], 1 / 0.7, rtol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.7, rtol=1e-6)
    drop.eval()
    y = drop(x)
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    assert np.all(F.dropout(x, 0.0).numpy() == 1)
    with pytest.raises(ValueError, match="probability"):
        nn.Dropout(1.5)


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding(padding_idx):
    idx = randint(0, 6, 3, 4, seed=6)
    idx[0, :2] = 2
    idx[1, 0] = 5
    check_module(nn.Embedding(6, 3, padding_idx=padding_idx),
                 torch.nn.Embedding(6, 3, padding_idx=padding_idx), idx)


def test_one_hot_and_pad():
    y = randint(0, 4, 5, seed=7)
    assert_close(F.one_hot(lucid.tensor(y), 4), TF.one_hot(torch.from_numpy(y), 4))
    check_function(lambda x: F.pad(x, (1, 2, 0, 1)), lambda x: TF.pad(x, (1, 2, 0, 1)),
                   randn(2, 3, 4))
    check_function(lambda x: F.pad(x, (2, 1), mode="reflect"),
                   lambda x: TF.pad(x, (2, 1), mode="reflect"), randn(2, 3, 4))
