"""Initialisers: fans and gains as PyTorch computes them, statistics of the drawn values,
reproducibility, and every layer's default initialisation."""

import math

import lucid
import lucid.nn as nn
import numpy as np
import pytest
import torch
from lucid.nn import init

SHAPES = [(3, 4), (8, 3, 5), (16, 8, 3, 3), (4, 2, 1, 1, 2), (5, 1)]


def _empty(*shape):
    return nn.Parameter(lucid.zeros(*shape))


def _stats(t):
    a = t.numpy().astype(np.float64)
    return a.mean(), a.std(), a.min(), a.max()


def _assert_uniform(t, bound):
    mean, std, lo, hi = _stats(t)
    n = t.numel()
    assert lo >= -bound and hi <= bound, (lo, hi, bound)
    assert lo < -0.99 * bound and hi > 0.99 * bound
    assert abs(mean) < 4 * bound / math.sqrt(3 * n)
    assert std == pytest.approx(bound / math.sqrt(3), rel=0.02)


def _assert_normal(t, std_expected, mean_expected=0.0):
    mean, std, _, _ = _stats(t)
    assert abs(mean - mean_expected) < 4 * std_expected / math.sqrt(t.numel())
    assert std == pytest.approx(std_expected, rel=0.02)


@pytest.mark.parametrize("shape", SHAPES)
def test_fans_match_torch(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init._calculate_fan_in_and_fan_out(_empty(*shape)) == expected


def test_fan_needs_two_dimensions():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(_empty(7))


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv2d", None), ("conv_transpose2d", None), ("sigmoid", None),
    ("tanh", None), ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
    ("leaky_relu", math.sqrt(5)), ("selu", None),
])
def test_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param))


def test_gain_rejects_unknown():
    with pytest.raises(ValueError, match="nonlinearity"):
        init.calculate_gain("softplus")


@pytest.mark.parametrize("a,mode,nonlinearity", [
    (0, "fan_in", "leaky_relu"), (math.sqrt(5), "fan_in", "leaky_relu"),
    (0, "fan_out", "relu"), (0.1, "fan_in", "tanh"),
])
def test_kaiming_uniform(a, mode, nonlinearity):
    w = _empty(128, 64, 3, 3)
    out = init.kaiming_uniform_(w, a=a, mode=mode, nonlinearity=nonlinearity)
    assert out is w and w.requires_grad and w.is_leaf
    fan = 64 * 9 if mode == "fan_in" else 128 * 9
    _assert_uniform(w, torch.nn.init.calculate_gain(nonlinearity, a) * math.sqrt(3 / fan))


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_normal(mode):
    w = _empty(96, 64, 5, 5)
    init.kaiming_normal_(w, mode=mode, nonlinearity="relu")
    fan = 64 * 25 if mode == "fan_in" else 96 * 25
    _assert_normal(w, math.sqrt(2) / math.sqrt(fan))


def test_kaiming_rejects_bad_mode():
    with pytest.raises(ValueError, match="fan_in"):
        init.kaiming_uniform_(_empty(3, 3), mode="fan_avg")


def test_xavier():
    w = _empty(300, 200, 2)
    init.xavier_uniform_(w, gain=2.0)
    _assert_uniform(w, 2.0 * math.sqrt(6 / (400 + 600)))
    init.xavier_normal_(w, gain=0.5)
    _assert_normal(w, 0.5 * math.sqrt(2 / (400 + 600)))


def test_uniform_normal_constant():
    w = _empty(500, 400)
    init.uniform_(w, -0.3, 0.3)
    _assert_uniform(w, 0.3)
    init.normal_(w, 1.5, 0.2)
    _assert_normal(w, 0.2, 1.5)
    assert np.all(init.constant_(w, 0.25).numpy() == 0.25)
    assert np.all(init.zeros_(w).numpy() == 0)
    assert np.all(init.ones_(w).numpy() == 1)
    assert w.shape == (500, 400) and w.dtype == lucid.float32


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.5, 2.0, -1.0, 4.0),
                                          (0.0, 0.02, -0.04, 0.04)])
def test_trunc_normal(mean, std, a, b):
    w = _empty(400, 500)
    init.trunc_normal_(w, mean, std, a, b)
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda v: math.exp(-v * v / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda v: 0.5 * (1 + math.erf(v / math.sqrt(2)))  # noqa: E731
    z = cdf(beta) - cdf(alpha)
    t_mean = mean + std * (pdf(alpha) - pdf(beta)) / z
    t_var = std**2 * (1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z
                      - ((pdf(alpha) - pdf(beta)) / z) ** 2)
    m, s, lo, hi = _stats(w)
    assert lo >= a and hi <= b
    assert abs(m - t_mean) < 4 * math.sqrt(t_var / w.numel())
    assert s == pytest.approx(math.sqrt(t_var), rel=0.02)


def test_seed_reproducible():
    w1, w2 = _empty(64, 32), _empty(64, 32)
    lucid.random.seed(123)
    init.kaiming_uniform_(w1)
    lucid.random.seed(123)
    init.kaiming_uniform_(w2)
    np.testing.assert_array_equal(w1.numpy(), w2.numpy())
    lucid.random.seed(123)
    a = nn.Linear(20, 30)
    lucid.random.seed(123)
    b = nn.Linear(20, 30)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    np.testing.assert_array_equal(a.bias.numpy(), b.bias.numpy())


def test_init_records_no_graph():
    w = _empty(10, 10)
    init.normal_(w)
    assert w.grad_fn is None and w.requires_grad


@pytest.mark.parametrize("make,fan_in", [
    (lambda m: m.Linear(200, 300), 200),
    (lambda m: m.Conv2d(16, 64, 3), 16 * 9),
    (lambda m: m.Conv2d(16, 64, (3, 5), groups=4), 4 * 15),
    (lambda m: m.Conv1d(32, 64, 5), 32 * 5),
    (lambda m: m.ConvTranspose2d(16, 64, 3), 64 * 9),
])
def test_linear_and_conv_default_init(make, fan_in):
    lm, tm = make(nn), make(torch.nn)
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) gives exactly this
    assert lm.weight.shape == tuple(tm.weight.shape)
    t_max = tm.weight.detach().abs().max().item()
    assert t_max <= bound and lm.weight.numpy().__abs__().max() <= bound
    _assert_uniform(lm.weight, bound)
    b = lm.bias.numpy()
    assert b.min() >= -bound and b.max() <= bound and b.std() > 0.3 * bound


def test_embedding_and_norm_default_init():
    e = nn.Embedding(1000, 200, padding_idx=3)
    assert np.all(e.weight.numpy()[3] == 0)
    rows = np.delete(e.weight.numpy(), 3, axis=0)
    assert abs(rows.mean()) < 0.01 and rows.std() == pytest.approx(1.0, rel=0.02)
    for layer in (nn.BatchNorm2d(7), nn.BatchNorm1d(7), nn.LayerNorm(7), nn.GroupNorm(1, 7)):
        assert np.all(layer.weight.numpy() == 1) and np.all(layer.bias.numpy() == 0)
    bn = nn.BatchNorm2d(7)
    assert np.all(bn.running_mean.numpy() == 0) and np.all(bn.running_var.numpy() == 1)
    assert bn.num_batches_tracked.item() == 0
