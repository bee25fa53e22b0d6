"""Integer-indexed lookups: ``one_hot`` and ``embedding`` (row gather with scatter-add grad)."""

from __future__ import annotations

import mlx.core as mx

from ..._tensor import Tensor
from ...errors import ArgumentTypeError, DTypeError, LucidIndexError, ShapeError
from ...function import op


def _check_indices(name, indices):
    if not isinstance(indices, Tensor):
        raise ArgumentTypeError(f"{name}: indices must be a lucid Tensor, got "
                                f"{type(indices).__name__}")
    if not mx.issubdtype(indices.dtype, mx.integer):
        raise DTypeError(f"{name}: indices must be integers, got {indices.dtype_name} "
                         f"with shape {indices.shape}")


def _index_range(indices):
    """(min, max) of a non-empty integer tensor (evaluates it)."""
    return int(mx.min(indices._data).item()), int(mx.max(indices._data).item())


@op("one_hot")
def _one_hot(indices, num_classes):
    classes = mx.arange(num_classes, dtype=indices.dtype)
    return (indices[..., None] == classes).astype(mx.int64), None


def one_hot(indices, num_classes=-1) -> Tensor:
    """``out[..., k] = 1 if indices[...] == k else 0`` as int64, shape ``(*indices.shape, K)``.

    ``num_classes=-1`` takes ``K = indices.max() + 1``.
    """
    _check_indices("one_hot", indices)
    num_classes = int(num_classes)
    if indices.numel() == 0:
        if num_classes < 0:
            raise ShapeError("one_hot: cannot infer num_classes from an empty tensor; pass it")
        return _one_hot(indices, num_classes)
    low, high = _index_range(indices)
    if low < 0:
        raise LucidIndexError(f"one_hot: class values must be non-negative, got {low}")
    if num_classes < 0:
        num_classes = high + 1
    elif high >= num_classes:
        raise LucidIndexError(f"one_hot: class value {high} is out of range for "
                              f"num_classes={num_classes}")
    return _one_hot(indices, num_classes)


@op("embedding")
def _embedding(indices, weight, padding_idx):
    out = mx.take(weight, indices, axis=0)

    def backward(g):
        flat = indices.reshape(-1)
        rows = g.reshape(-1, weight.shape[1])
        dw = mx.zeros(weight.shape, g.dtype).at[flat].add(rows)  # repeated rows accumulate
        if padding_idx is not None:
            keep = mx.arange(weight.shape[0]) != padding_idx
            dw = dw * keep[:, None].astype(g.dtype)
        return None, dw

    return out, backward


def embedding(indices, weight, padding_idx=None) -> Tensor:
    """``out[...] = weight[indices[...]]``, shape ``(*indices.shape, D)``.

    ``dweight[k] = sum of g over the positions where indices == k`` (a scatter-add, so
    repeated indices accumulate); the row ``padding_idx`` gets no gradient.
    """
    _check_indices("embedding", indices)
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        shape = weight.shape if isinstance(weight, Tensor) else type(weight).__name__
        raise ShapeError(f"embedding: weight must be a 2-D (num_embeddings, dim) Tensor, "
                         f"got {shape}")
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise LucidIndexError(f"embedding: padding_idx {padding_idx} is out of range for "
                                  f"{n} embeddings")
        padding_idx = padding_idx % n
    if indices.numel():
        low, high = _index_range(indices)
        if low < 0 or high >= n:
            bad = low if low < 0 else high
            raise LucidIndexError(f"embedding: index {bad} is out of range for weight of shape "
                                  f"{weight.shape} (indices shape {indices.shape})")
    return _embedding(indices, weight, padding_idx)


__all__ = ["embedding", "one_hot"]
TENSOR_METHODS: dict = {}
