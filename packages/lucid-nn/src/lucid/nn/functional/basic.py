"""Dropout, channel dropout, embedding, one-hot encoding and padding: the engine's ops
under PyTorch's names."""

from __future__ import annotations

import warnings

import lucid
from lucid.errors import ArgumentError


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``
    when ``training``; the identity otherwise."""
    if not 0.0 <= p <= 1.0:
        raise ArgumentError(f"dropout: probability must be in [0, 1], got {p}")
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


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Channel dropout: zero whole channels of ``(N, C, H, W)`` with probability ``p`` and
    scale the rest by ``1 / (1 - p)`` when ``training``. As PyTorch, a 3-D input is read as
    ``(N, C, L)`` (with a warning), not as an unbatched image."""
    out = lucid.dropout2d(input, p, training)  # checks p, shape and dtype first
    if input.ndim == 3:
        warnings.warn("dropout2d: a 3-D input is read as (N, C, L), as in PyTorch: whole "
                      "channels of each sample are dropped, not channels of one (C, H, W) "
                      "image", UserWarning, stacklevel=2)
    return out
