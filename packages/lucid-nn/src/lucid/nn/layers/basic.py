"""``Identity`` and ``Flatten``."""

from __future__ import annotations

import lucid

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
