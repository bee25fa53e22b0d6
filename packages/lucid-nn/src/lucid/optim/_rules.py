"""Pieces the optimizers' update rules share, on MLX arrays (inside ``mx.compile``)."""

from __future__ import annotations


def signed_decayed(p, g, wd, decay, *, weight_decay: bool, decoupled: bool = False,
                   maximize: bool = False):
    """PyTorch's order of the common steps: ``g = -g`` when maximizing; then either the
    decoupled decay ``p = p (1 - lr wd)`` (``decay``) or the L2 term ``g = g + wd p``.
    Returns ``(p, g)``."""
    if maximize:
        g = -g
    if weight_decay:
        if decoupled:
            p = p * decay
        else:
            g = g + wd * p
    return p, g


def adam_moments(m, v, g, one_minus_b1, b2, one_minus_b2):
    """``m = m + (1 - b1)(g - m)`` (PyTorch's lerp) and ``v = b2 v + (1 - b2) g^2``."""
    return m + one_minus_b1 * (g - m), v * b2 + one_minus_b2 * g * g
