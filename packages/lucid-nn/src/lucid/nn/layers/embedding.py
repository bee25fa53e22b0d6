"""``Embedding``: a lookup table of ``num_embeddings`` vectors."""

from __future__ import annotations

import lucid
import mlx.core as mx
from lucid.errors import ArgumentError

from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter


class Embedding(Module):
    """``weight[indices]``; weight ``(num_embeddings, embedding_dim)`` drawn from N(0, 1),
    the ``padding_idx`` row zero and never updated by gradients."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 _weight=None, device=None, dtype=None):
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ArgumentError(f"Embedding: padding_idx {padding_idx} must be within "
                                    f"num_embeddings ({num_embeddings})")
            padding_idx = padding_idx % num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = padding_idx
        if _weight is None:
            self.weight = Parameter(lucid.zeros(num_embeddings, embedding_dim, dtype=dtype,
                                                device=device))
            self.reset_parameters()
        else:
            self.weight = Parameter(_weight)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            rows = mx.arange(self.num_embeddings).reshape(-1, 1) == self.padding_idx
            self.weight.data = mx.where(rows, 0, self.weight._data).astype(self.weight.dtype)

    def forward(self, indices):
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
