"""``Dropout``."""

from __future__ import annotations

from lucid.errors import ArgumentError

from .. import functional as F
from ..module import Module


class Dropout(Module):
    """In training, zero elements with probability ``p`` and scale the rest by 1/(1-p);
    the identity in evaluation mode."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ArgumentError(f"Dropout: probability must be in [0, 1], got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
