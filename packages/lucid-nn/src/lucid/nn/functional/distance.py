"""``normalize`` and ``cosine_similarity``: the engine's ops under PyTorch's names."""

from __future__ import annotations

import lucid
from lucid.errors import ArgumentError


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None):
    """``x / max(||x||_p, eps)`` along ``dim``: unit vectors, zero vectors left at zero."""
    if out is not None:
        raise ArgumentError("normalize: out= is not supported; use the returned tensor")
    return lucid.normalize(input, p, dim, eps)


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim`` (inputs broadcast):
    ``sum(x1 x2) / (max(||x1||, eps) max(||x2||, eps))``."""
    return lucid.cosine_similarity(x1, x2, dim, eps)
