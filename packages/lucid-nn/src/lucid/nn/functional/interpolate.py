"""``interpolate``: the engine's ``lucid.interpolate`` (nearest, nearest-exact, linear,
bilinear, trilinear; PyTorch's source indices and weights)."""

from __future__ import annotations

import lucid


def interpolate(input, size=None, scale_factor=None, mode: str = "nearest",
                align_corners=None, recompute_scale_factor=None, antialias: bool = False):
    """Resize ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)`` to ``size`` or by
    ``scale_factor`` (output size ``floor(in * scale_factor)``)."""
    return lucid.interpolate(input, size, scale_factor, mode, align_corners,
                             recompute_scale_factor, antialias)
