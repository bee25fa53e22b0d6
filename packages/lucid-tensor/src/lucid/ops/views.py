"""``clone`` and PyTorch's shape shorthands ``t``, ``view_as``, ``expand_as``.

``clone`` is a differentiable copy (dx = g) with storage of its own: in-place changes to
the copy never reach the original, nor the other way round. The others are ``transpose``,
``reshape`` and ``expand`` under PyTorch's names; their backward is those ops'.
"""

from __future__ import annotations

import mlx.core as mx

from .._tensor import Tensor
from ..errors import ArgumentTypeError, ShapeError
from ..function import op
from .shape import expand, reshape, transpose

__all__ = ["clone", "t", "view_as", "expand_as"]


@op("clone")
def _clone(x):
    """out = x (a new array);  dx = g."""
    return mx.array(x), lambda g: (g,)


def clone(x: Tensor, *, memory_format=None) -> Tensor:
    """A copy of x that stays in the graph (``memory_format`` is accepted and ignored)."""
    return _clone(x)


def t(x: Tensor) -> Tensor:
    """Transpose of a 2-D tensor; a 0-D or 1-D tensor is returned as it is."""
    if x.ndim > 2:
        raise ShapeError(
            f"t: expects a tensor with <= 2 dimensions, got shape {x.shape} ({x.ndim}-D); "
            "use transpose(dim0, dim1) or permute"
        )
    return transpose(x, 0, 1) if x.ndim == 2 else x


def _shape_of(name: str, other) -> tuple:
    if not isinstance(other, Tensor):
        raise ArgumentTypeError(f"{name}: other must be a Tensor, got {type(other).__name__}")
    return other.shape


def view_as(x: Tensor, other: Tensor) -> Tensor:
    """x reshaped to ``other``'s shape (same number of elements)."""
    return reshape(x, _shape_of("view_as", other))


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    """x broadcast to ``other``'s shape."""
    return expand(x, _shape_of("expand_as", other))


TENSOR_METHODS = {"clone": clone, "t": t, "view_as": view_as, "expand_as": expand_as}
