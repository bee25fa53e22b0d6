"""Small helpers shared by the layers."""

from __future__ import annotations

import lucid

from ..parameter import Parameter


def ntuple(value, n: int) -> tuple:
    """``3 -> (3, 3)``; tuples and lists pass through as tuples."""
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,) * n


def empty_parameter(*shape, device=None, dtype=None) -> Parameter:
    """An uninitialised (zero) parameter, filled by the layer's ``reset_parameters``."""
    return Parameter(lucid.zeros(*shape, dtype=dtype, device=device))
