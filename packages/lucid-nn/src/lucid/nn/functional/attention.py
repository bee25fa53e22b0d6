"""Scaled dot-product attention, as ``torch.nn.functional.scaled_dot_product_attention``.

    attention(Q, K, V) = softmax(Q K^T * scale + M) V,   scale = 1 / sqrt(E) by default

over the last two axes (``(..., L, E)`` queries, ``(..., S, E)`` keys, ``(..., S, Ev)``
values). ``attn_mask``: a boolean mask says which positions take part (``True``: attend;
PyTorch's convention for this function), a float mask ``M`` is added to the scores;
``is_causal`` masks every key after its query. Dropout applies to the attention weights.
"""

from __future__ import annotations

import math

import lucid
from lucid.errors import ArgumentError, ShapeError

from .basic import dropout


def attention_bias(attn_mask, dtype, shape):
    """The additive form of a mask: 0 where attending, -inf where not (floats pass)."""
    if attn_mask is None:
        return None
    if attn_mask.dtype == lucid.bool_:
        zeros = lucid.zeros(*shape[-2:], dtype=dtype)
        return lucid.where(attn_mask, zeros, zeros - math.inf)
    return attn_mask.astype(dtype) if attn_mask.dtype != dtype else attn_mask


def causal_mask(length: int, source: int):
    """``True`` where query ``i`` may see key ``j`` (``j <= i``)."""
    return lucid.arange(length).unsqueeze(1) >= lucid.arange(source).unsqueeze(0)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None):
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ShapeError(f"scaled_dot_product_attention: query {query.shape}, key "
                         f"{key.shape} and value {value.shape} do not fit (..., L, E), "
                         "(..., S, E), (..., S, Ev)")
    if is_causal and attn_mask is not None:
        raise ArgumentError("scaled_dot_product_attention: pass either attn_mask or is_causal")
    length, source = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = lucid.matmul(query, key.transpose(-2, -1)) * scale
    if is_causal:
        attn_mask = causal_mask(length, source)
    bias = attention_bias(attn_mask, scores.dtype, scores.shape)
    if bias is not None:
        scores = scores + bias
    weights = lucid.softmax(scores, -1)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p, True)
    return lucid.matmul(weights, value)
