"""The ops that own a backward live in the engine (``lucid.ops.nn``): ``lucid.gelu``,
``lucid.layer_norm``, ``lucid.cross_entropy``, ... against PyTorch directly (values and
gradients, broadcasting and edge shapes), ``F`` naming the same ops, and no functional
module but batch_norm reaching into ``lucid.function``."""

import pathlib

import lucid
import lucid.nn.functional as F
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from nn_parity import check_function, randint, randn

ACTIVATIONS = {
    "gelu": (lambda x: lucid.gelu(x), TF.gelu),
    "gelu_tanh": (lambda x: lucid.gelu(x, "tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    "silu": (lucid.silu, TF.silu),
    "elu": (lambda x: lucid.elu(x, 0.7), lambda x: TF.elu(x, 0.7)),
    "softplus": (lambda x: lucid.softplus(x, 2.0, 1.0), lambda x: TF.softplus(x, 2.0, 1.0)),
    "leaky_relu": (lambda x: lucid.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    "hardswish": (lucid.hardswish, TF.hardswish),
    "mish": (lucid.mish, TF.mish),
}


@pytest.mark.parametrize("shape", [(), (0, 3), (7,), (2, 3, 5)])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_engine_activations(name, shape):
    ours, theirs = ACTIVATIONS[name]
    check_function(ours, theirs, np.asarray(3 * randn(*shape, seed=len(shape)), np.float32))


@pytest.mark.parametrize("shape,k", [((2, 4, 3), 4), ((5,), 1), ((3, 2), 2)])
def test_engine_prelu(shape, k):
    check_function(lucid.prelu, TF.prelu, randn(*shape, seed=1),
                   np.abs(randn(k, seed=2)) * 0.3)


@pytest.mark.parametrize("lead", [(), (3,), (2, 4), (0,)])
def test_engine_linear(lead):
    check_function(lucid.linear, TF.linear, randn(*lead, 5, seed=1), randn(3, 5, seed=2),
                   randn(3, seed=3))
    check_function(lambda x, w: lucid.linear(x, w), TF.linear, randn(*lead, 5, seed=4),
                   randn(3, 5, seed=5))


def test_engine_linear_bad_shapes():
    with pytest.raises(lucid.ShapeError, match="linear.*in_features"):
        lucid.linear(lucid.zeros(2, 4), lucid.zeros(3, 5))


def test_engine_normalizations():
    x = randn(2, 6, 3, 4, seed=1)
    check_function(lambda x, w, b: lucid.layer_norm(x, (3, 4), w, b),
                   lambda x, w, b: TF.layer_norm(x, (3, 4), w, b), x, randn(3, 4, seed=2),
                   randn(3, 4, seed=3), rtol=1e-4, atol=1e-5)
    check_function(lambda x, w, b: lucid.group_norm(x, 3, w, b),
                   lambda x, w, b: TF.group_norm(x, 3, w, b), x, randn(6, seed=4),
                   randn(6, seed=5), rtol=1e-4, atol=1e-5)
    with pytest.raises(lucid.ShapeError, match="layer_norm"):
        lucid.layer_norm(lucid.zeros(2, 3), (4,))
    with pytest.raises(lucid.ShapeError, match="group_norm.*num_groups=4"):
        lucid.group_norm(lucid.zeros(2, 6, 3), 4)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_engine_losses(reduction):
    x, t = randn(4, 5, seed=1), randn(4, 5, seed=2)
    for name in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
                 "binary_cross_entropy_with_logits"):
        check_function(lambda x, t, n=name: getattr(lucid, n)(x, t, reduction=reduction),
                       lambda x, t, n=name: getattr(TF, n)(x, t, reduction=reduction), x, t)
    y = randint(0, 5, 4, seed=3)
    check_function(lambda x, y: lucid.cross_entropy(x, y, reduction=reduction),
                   lambda x, y: TF.cross_entropy(x, y, reduction=reduction), x, y)
    logp = np.log(np.exp(x) / np.exp(x).sum(1, keepdims=True))
    check_function(lambda x, y: lucid.nll_loss(x, y, reduction=reduction),
                   lambda x, y: TF.nll_loss(x, y, reduction=reduction), logp, y)
    p = np.exp(randn(4, 5, seed=4))
    p /= p.sum(1, keepdims=True)
    kl = "batchmean" if reduction == "mean" else reduction  # torch warns about "mean"
    check_function(lambda x, t: lucid.kl_div(x, t, reduction=kl),
                   lambda x, t: TF.kl_div(x, t, reduction=kl), logp, p)
    q = 1 / (1 + np.exp(-x))
    check_function(lambda x, t: lucid.binary_cross_entropy(x, t, reduction=reduction),
                   lambda x, t: TF.binary_cross_entropy(x, t, reduction=reduction), q,
                   np.abs(t) / np.abs(t).max())


def test_engine_loss_errors():
    with pytest.raises(ValueError, match="mse_loss.*reduction"):
        lucid.mse_loss(lucid.zeros(2), lucid.zeros(2), reduction="avg")
    with pytest.raises(lucid.LucidIndexError, match="cross_entropy.*target 7"):
        lucid.cross_entropy(lucid.zeros(2, 3), lucid.tensor([0, 7]))


def test_engine_distance_interpolate_pool():
    check_function(lambda a, b: lucid.cosine_similarity(a, b, 1),
                   lambda a, b: TF.cosine_similarity(a, b, 1), randn(4, 5, seed=1),
                   randn(1, 5, seed=2), rtol=2e-4, atol=2e-5)
    check_function(lambda x: lucid.normalize(x, 2.0, 0), lambda x: TF.normalize(x, 2.0, 0),
                   randn(4, 5, seed=3), rtol=2e-4, atol=2e-5)
    check_function(lambda x: lucid.interpolate(x, scale_factor=2, mode="bilinear"),
                   lambda x: TF.interpolate(x, scale_factor=2, mode="bilinear"),
                   randn(2, 3, 4, 5, seed=4), rtol=1e-4, atol=1e-5)
    check_function(lambda x: lucid.adaptive_max_pool2d(x, (2, 3)),
                   lambda x: TF.adaptive_max_pool2d(x, (2, 3)), randn(2, 3, 5, 7, seed=5))


def test_engine_dropout2d():
    lucid.seed(0)
    x = lucid.ones(8, 16, 3, 3, requires_grad=True)
    out = lucid.dropout2d(x, 0.5)
    per_channel = out.numpy().reshape(8, 16, 9)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert np.all(per_channel.min(-1) == per_channel.max(-1))  # whole channels kept or dropped
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.numpy())
    with pytest.raises(lucid.DTypeError, match="dropout2d"):
        lucid.dropout2d(lucid.zeros(2, 3, 4, dtype=lucid.int32), 0.5)


@pytest.mark.parametrize("name", ["linear", "gelu", "silu", "elu", "softplus", "prelu",
                                  "hardswish", "mish", "leaky_relu", "layer_norm",
                                  "group_norm", "cross_entropy", "nll_loss", "mse_loss",
                                  "l1_loss", "binary_cross_entropy", "kl_div", "huber_loss",
                                  "binary_cross_entropy_with_logits", "smooth_l1_loss",
                                  "normalize", "cosine_similarity", "interpolate",
                                  "adaptive_max_pool2d", "dropout2d"])
def test_functional_names_the_engine_op(name):
    """Each moved op is an engine export (``lucid.ops.nn``, hence ``lucid.<name>``) and F
    still names it."""
    assert name in lucid.ops.nn.__all__
    assert callable(getattr(lucid, name)) and callable(getattr(F, name))


def test_functional_writes_no_backward():
    """Only batch_norm (moved with the native kernels) still builds an op in functional."""
    root = pathlib.Path(F.__file__).parent
    offenders = [p.name for p in sorted(root.glob("*.py"))
                 if p.name != "batch_norm.py" and "lucid.function" in p.read_text()]
    assert offenders == []


def test_functional_matches_engine_values():
    x = lucid.tensor(randn(3, 4, seed=9))
    y = lucid.tensor(randint(0, 4, 3, seed=9))
    np.testing.assert_array_equal(F.gelu(x).numpy(), lucid.gelu(x).numpy())
    np.testing.assert_array_equal(F.cross_entropy(x, y).numpy(),
                                  lucid.cross_entropy(x, y).numpy())
    t = torch.tensor(randn(3, 4, seed=9))
    np.testing.assert_allclose(F.layer_norm(x, 4).numpy(), TF.layer_norm(t, (4,)).numpy(),
                               rtol=1e-5, atol=1e-6)
