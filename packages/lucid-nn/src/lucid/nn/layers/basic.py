"""``Identity``, ``Flatten`` and ``Unflatten``."""

from __future__ import annotations

import math

import lucid
from lucid.ops import axes

from ..module import Module


class Identity(Module):
    """Returns its input (used to remove a layer, e.g. ``model.maxpool = nn.Identity()``)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Flattens axes ``start_dim..end_dim`` into one: ``(N, C, H, W) -> (N, C*H*W)``."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return lucid.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits axis ``dim`` into ``unflattened_size``: ``Unflatten(1, (C, H, W))`` turns
    ``(N, C*H*W)`` back into ``(N, C, H, W)``; one size may be ``-1``."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(int(s) for s in unflattened_size)

    def forward(self, x):
        if x.ndim == 0:
            raise lucid.ShapeError("Unflatten: input must have at least one dimension, got a "
                                   "0-d tensor")
        dim = axes.axis("Unflatten", self.dim, x.ndim, x.shape)
        sizes, n = self.unflattened_size, x.shape[dim]
        known = math.prod(s for s in sizes if s != -1)
        ok = (known > 0 and n % known == 0) if -1 in sizes else n == known
        if sizes.count(-1) > 1 or not ok:
            raise lucid.ShapeError(f"Unflatten: sizes {sizes} do not multiply to axis {dim} "
                                   f"of length {n} (input shape {x.shape})")
        return x.reshape(*x.shape[:dim], *sizes, *x.shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
