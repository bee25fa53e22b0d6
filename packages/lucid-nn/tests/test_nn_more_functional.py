"""F.normalize, F.cosine_similarity and F.pad's modes against PyTorch: values and
gradients, broadcasting, zero vectors and edge shapes."""

import lucid
import lucid.nn.functional as F
import numpy as np
import pytest
import torch.nn.functional as TF
from nn_parity import check_function, randn


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, float("inf")])
@pytest.mark.parametrize("shape,dim", [((4, 5), 1), ((4, 5), 0), ((2, 3, 4), -1),
                                       ((2, 3, 4), 1), ((1, 7), 1), ((6,), 0)])
def test_normalize(p, shape, dim):
    check_function(lambda x: F.normalize(x, p=p, dim=dim),
                   lambda x: TF.normalize(x, p=p, dim=dim), randn(*shape, seed=1),
                   rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("p", [2.0, 1.0, 0.5])
def test_normalize_zero_and_tiny_vectors(p):
    """Rows at zero and below ``eps``: the clamp decides, the gradient stays finite."""
    x = randn(4, 3, seed=2)
    x[0] = 0.0
    x[1] = [1e-7, 0.0, -2e-7]
    out, _ = check_function(lambda x: F.normalize(x, p=p, eps=1e-4),
                            lambda x: TF.normalize(x, p=p, eps=1e-4), x)
    assert np.all(out.numpy()[0] == 0)


def test_normalize_bad_arguments():
    with pytest.raises(lucid.LucidIndexError, match="normalize: axis 2 is out of range"):
        F.normalize(lucid.zeros(2, 3), dim=2)
    with pytest.raises(lucid.ArgumentError, match="normalize.*p must be positive"):
        F.normalize(lucid.zeros(2, 3), p=0)


@pytest.mark.parametrize("s1,s2,dim", [
    ((4, 5), (4, 5), 1), ((4, 5), (1, 5), 1), ((1, 5), (3, 1, 5), -1),
    ((2, 6, 3), (2, 6, 3), 1), ((4, 1), (4, 5), 1), ((5,), (5,), 0), ((1, 1), (1, 1), 1),
])
def test_cosine_similarity(s1, s2, dim):
    check_function(lambda a, b: F.cosine_similarity(a, b, dim=dim),
                   lambda a, b: TF.cosine_similarity(a, b, dim=dim),
                   randn(*s1, seed=3), randn(*s2, seed=4), rtol=2e-4, atol=2e-5)


def test_cosine_similarity_zero_and_tiny_vectors():
    a, b = randn(4, 3, seed=5), randn(4, 3, seed=6)
    a[0] = 0.0
    b[1] = [1e-6, 0.0, 2e-6]  # norm below eps: PyTorch clamps the value, not the gradient
    out, _ = check_function(lambda a, b: F.cosine_similarity(a, b, eps=1e-4),
                            lambda a, b: TF.cosine_similarity(a, b, eps=1e-4), a, b)
    assert out.numpy()[0] == 0


def test_cosine_similarity_bad_shapes():
    with pytest.raises(lucid.ShapeError, match="cosine_similarity.*broadcast"):
        F.cosine_similarity(lucid.zeros(2, 3), lucid.zeros(2, 4))


PADS_1D = [(1, 2), (2, 0), (0, 3), (-1, 2)]
PADS_2D = [(1, 2, 2, 1), (0, 1, 2, 0), (2, 2, 2, 2), (1, -1, 0, 2)]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", PADS_1D)
@pytest.mark.parametrize("shape", [(2, 3, 5), (3, 5), (1, 1, 4)])
def test_pad_1d(mode, pad, shape):
    check_function(lambda x: F.pad(x, pad, mode=mode), lambda x: TF.pad(x, pad, mode=mode),
                   randn(*shape, seed=7))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", PADS_2D)
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 4, 5), (1, 1, 3, 3)])
def test_pad_2d(mode, pad, shape):
    check_function(lambda x: F.pad(x, pad, mode=mode), lambda x: TF.pad(x, pad, mode=mode),
                   randn(*shape, seed=8))


def test_pad_constant_value_and_errors():
    check_function(lambda x: F.pad(x, (1, 1, 2, 0), value=-2.5),
                   lambda x: TF.pad(x, (1, 1, 2, 0), value=-2.5), randn(2, 3, 4))
    with pytest.raises(lucid.ShapeError, match="pad: reflect padding"):
        F.pad(lucid.zeros(1, 2, 3), (3, 0), mode="reflect")
    with pytest.raises(lucid.ArgumentError, match="pad: unknown mode"):
        F.pad(lucid.zeros(1, 2, 3), (1, 0), mode="mirror")
