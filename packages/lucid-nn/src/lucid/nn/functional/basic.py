"""Dropout, embedding, one-hot encoding and padding: the engine's ops, PyTorch's names."""

from __future__ import annotations

import lucid


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``
    when ``training``; the identity otherwise."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability must be in [0, 1], got {p}")
    return lucid.dropout(input, p, training)


def embedding(input, weight, padding_idx=None):
    """Rows of ``weight`` at the integer indices ``input``; the ``padding_idx`` row gets
    no gradient."""
    return lucid.embedding(input, weight, padding_idx=padding_idx)


def one_hot(tensor, num_classes: int = -1):
    """Integer tensor of shape ``(*)`` to a 0/1 int64 tensor of shape ``(*, num_classes)``."""
    return lucid.one_hot(tensor, num_classes)


def pad(input, pad, mode: str = "constant", value: float = 0.0):
    """Pad trailing axes; ``pad`` lists (before, after) widths from the last axis backwards."""
    return lucid.pad(input, pad, mode=mode, value=value)
