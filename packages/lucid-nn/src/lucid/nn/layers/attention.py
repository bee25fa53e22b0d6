"""``MultiheadAttention``: PyTorch's module, parameters and masks.

    MultiHead(Q, K, V) = concat(head_1, ..., head_h) W_o^T + b_o,
    head_i = softmax(Q_i K_i^T / sqrt(d) + M) V_i,  Q_i = (Q W_q^T + b_q) split per head

with ``d = embed_dim / num_heads``. As PyTorch's module (unlike its functional attention),
a boolean ``attn_mask`` or ``key_padding_mask`` marks with ``True`` the positions that may
NOT be attended; float masks are added. Inputs are ``(L, N, E)`` (``batch_first``:
``(N, L, E)``) or unbatched ``(L, E)``. ``forward`` returns the output and, when
``need_weights``, the attention weights (averaged over heads unless
``average_attn_weights=False``).
"""

from __future__ import annotations

import math

import lucid
from lucid.errors import ArgumentError

from .. import functional as F
from .. import init
from ..functional.attention import attention_bias, causal_mask
from ..module import Module
from ._util import empty_parameter
from .linear import Linear


class MultiheadAttention(Module):
    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        if embed_dim % num_heads:
            raise ArgumentError(f"MultiheadAttention: embed_dim {embed_dim} is not divisible by "
                                f"num_heads {num_heads}")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are "
                                      "not supported by Lucid")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.kdim, self.vdim = kdim or embed_dim, vdim or embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = float(dropout), batch_first
        self.head_dim = embed_dim // num_heads
        kw = {"device": device, "dtype": dtype}
        if self._qkv_same_embed_dim:
            self.in_proj_weight = empty_parameter(3 * embed_dim, embed_dim, **kw)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = empty_parameter(embed_dim, embed_dim, **kw)
            self.k_proj_weight = empty_parameter(embed_dim, self.kdim, **kw)
            self.v_proj_weight = empty_parameter(embed_dim, self.vdim, **kw)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = empty_parameter(3 * embed_dim, **kw)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, **kw)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's: Xavier-uniform projections, zero biases."""
        for w in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight,
                  self.v_proj_weight):
            if w is not None:
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)

    def _project(self, query, key, value):
        e = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            wq, wk, wv = w[:e], w[e:2 * e], w[2 * e:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        batched = query.ndim == 3
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        length, n, _ = query.shape
        source = key.shape[0]
        h, d = self.num_heads, self.head_dim
        q, k, v = self._project(query, key, value)
        # (L, N, E) -> (N, h, L, d)
        q, k, v = (t.reshape(t.shape[0], n, h, d).permute(1, 2, 0, 3) for t in (q, k, v))
        scores = lucid.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(d))
        if is_causal and attn_mask is None:
            attn_mask = ~causal_mask(length, source)
        scores = self._masked(scores, attn_mask, key_padding_mask, n, length, source)
        weights = lucid.softmax(scores, -1)
        if self.dropout > 0 and self.training:
            weights = F.dropout(weights, self.dropout, True)
        out = lucid.matmul(weights, v).permute(2, 0, 1, 3).reshape(length, n, self.embed_dim)
        out = self.out_proj(out)
        if batched and self.batch_first:
            out = out.transpose(0, 1)
        elif not batched:
            out = out.squeeze(1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(1)
        return out, (weights if batched else weights.squeeze(0))

    @staticmethod
    def _masked(scores, attn_mask, key_padding_mask, n, length, source):
        """Add ``attn_mask`` ((L, S) or (N*h, L, S)) and ``key_padding_mask`` ((N, S)), both
        with PyTorch's module convention (boolean ``True``: may not attend)."""
        if attn_mask is not None:
            if attn_mask.dtype == lucid.bool_:
                attn_mask = ~attn_mask
            bias = attention_bias(attn_mask, scores.dtype, scores.shape)
            if bias.ndim == 3:
                bias = bias.reshape(n, -1, length, source)
            scores = scores + bias
        if key_padding_mask is not None:
            if key_padding_mask.dtype == lucid.bool_:
                key_padding_mask = ~key_padding_mask
            bias = attention_bias(key_padding_mask, scores.dtype, (n, source))
            scores = scores + bias.reshape(n, 1, 1, source)
        return scores
