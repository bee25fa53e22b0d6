"""dropout, one_hot and embedding: values, gradients and errors (PyTorch where comparable)."""

import lucid
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tensor_parity import assert_close, check_op, randint, randn


# ----- dropout ---------------------------------------------------------------------------
def _dropped(p, shape=(64, 50), seed=0):
    lucid.seed(seed)
    x = lucid.tensor(randn(*shape) + 3.0, requires_grad=True)  # no exact zeros in x
    y = lucid.dropout(x, p)
    g = randn(*shape, seed=1)
    y.backward(lucid.tensor(g))
    return x.numpy(), y.numpy(), g, x.grad.numpy()


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_scales_survivors_and_grad_uses_the_same_mask(p):
    x, y, g, dx = _dropped(p)
    kept = y != 0
    assert abs(1 - kept.mean() - p) < 0.03  # 3200 draws: 3 standard deviations ~ 0.025
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-6)
    np.testing.assert_allclose(dx, np.where(kept, g / (1 - p), 0), rtol=1e-6)


def test_dropout_p0_and_eval_are_identity():
    x = lucid.tensor(randn(4, 5), requires_grad=True)
    assert lucid.dropout(x, 0.0) is x
    assert lucid.dropout(x, 0.7, training=False) is x
    assert lucid.dropout(x, training=False) is x


def test_dropout_p1_gives_zeros_and_zero_grad():
    x, y, _, dx = _dropped(1.0, shape=(6, 7))
    assert not np.any(y) and not np.any(dx)


def test_dropout_follows_lucid_seed():
    _, y1, _, _ = _dropped(0.5, seed=7)
    _, y2, _, _ = _dropped(0.5, seed=7)
    _, y3, _, _ = _dropped(0.5, seed=8)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(y1 != 0, y3 != 0)


def test_dropout_keeps_dtype_and_shape():
    x = lucid.tensor(randn(3, 4, 5)).astype(lucid.float16)
    y = lucid.dropout(x, 0.5)
    assert y.shape == (3, 4, 5) and y.dtype == lucid.float16


def test_dropout_bad_input():
    with pytest.raises(ValueError, match="dropout.*between 0 and 1"):
        lucid.dropout(lucid.zeros(3), 1.5)
    with pytest.raises(lucid.DTypeError, match="dropout.*floating"):
        lucid.dropout(lucid.tensor([1, 2, 3]), 0.5)


# ----- one_hot ---------------------------------------------------------------------------
@pytest.mark.parametrize("num_classes", [-1, 7])
@pytest.mark.parametrize("shape", [(5,), (2, 3), ()])
def test_one_hot_matches_torch(shape, num_classes):
    idx = randint(0, 5, *shape)
    out = lucid.one_hot(lucid.tensor(idx), num_classes)
    assert out.dtype == lucid.int64
    assert_close(out, F.one_hot(torch.tensor(idx), num_classes))


def test_one_hot_int32_indices_and_empty():
    out = lucid.one_hot(lucid.tensor(np.array([2, 0], np.int32)), 3)
    np.testing.assert_array_equal(out.numpy(), [[0, 0, 1], [1, 0, 0]])
    empty = lucid.one_hot(lucid.tensor(np.zeros((0,), np.int64)), 4)
    assert empty.shape == (0, 4)


def test_one_hot_bad_input():
    with pytest.raises(lucid.LucidIndexError, match="one_hot.*non-negative"):
        lucid.one_hot(lucid.tensor([1, -1]), 3)
    with pytest.raises(lucid.LucidIndexError, match="one_hot.*num_classes=3"):
        lucid.one_hot(lucid.tensor([1, 3]), 3)
    with pytest.raises(lucid.DTypeError, match="one_hot.*integers"):
        lucid.one_hot(lucid.tensor([1.0, 2.0]), 3)
    with pytest.raises(lucid.ShapeError, match="one_hot.*empty"):
        lucid.one_hot(lucid.tensor(np.zeros((0,), np.int64)))


# ----- embedding -------------------------------------------------------------------------
def test_embedding_repeated_indices_accumulate_gradients():
    idx = np.array([[1, 3, 1, 1], [0, 3, 4, 1]])
    check_op(lambda i, w: lucid.embedding(i, w), lambda i, w: F.embedding(i, w),
             idx, randn(6, 5), grad=[False, True])


@pytest.mark.parametrize("padding_idx", [3, -3])
def test_embedding_padding_idx_gets_no_gradient(padding_idx):
    idx = np.array([[1, 3, 1], [3, 3, 4]])
    check_op(lambda i, w: lucid.embedding(i, w, padding_idx=padding_idx),
             lambda i, w: F.embedding(i, w, padding_idx=padding_idx),
             idx, randn(6, 5), grad=[False, True])


def test_embedding_scalar_and_int32_indices():
    w = randn(4, 3)
    check_op(lambda i, w: lucid.embedding(i, w), lambda i, w: F.embedding(i.long(), w),
             np.array([[2, 0, 2]], np.int32), w, grad=[False, True])
    out = lucid.embedding(lucid.tensor(2), lucid.tensor(w))
    np.testing.assert_array_equal(out.numpy(), w[2])


def test_embedding_bad_input():
    w = lucid.zeros(5, 3)
    with pytest.raises(lucid.LucidIndexError, match=r"embedding: index 5 is out of range"):
        lucid.embedding(lucid.tensor([0, 5]), w)
    with pytest.raises(lucid.LucidIndexError, match=r"embedding: index -1"):
        lucid.embedding(lucid.tensor([-1, 2]), w)
    with pytest.raises(lucid.DTypeError, match="embedding.*integers"):
        lucid.embedding(lucid.tensor([0.0, 1.0]), w)
    with pytest.raises(lucid.ShapeError, match="embedding.*2-D"):
        lucid.embedding(lucid.tensor([0, 1]), lucid.zeros(5))
    with pytest.raises(lucid.LucidIndexError, match="padding_idx"):
        lucid.embedding(lucid.tensor([0, 1]), w, padding_idx=5)
