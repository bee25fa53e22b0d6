"""Closeness tests: ``isclose`` (elementwise) and ``allclose`` (one Python bool).

    isclose(x, y) = |x - y| <= atol + rtol * |y|

with PyTorch's defaults ``rtol=1e-05``, ``atol=1e-08``. Infinities are close only to
themselves; NaN is close to nothing unless ``equal_nan=True`` (then NaN is close to NaN).
Integer and bool inputs are compared exactly when both tolerances are 0 (as PyTorch).
No gradient flows through a comparison.
"""

from __future__ import annotations

import mlx.core as mx

from .._tensor import Tensor
from ..errors import ArgumentError
from ..function import op

__all__ = ["isclose", "allclose"]


@op("isclose")
def _isclose(x, y, rtol, atol, equal_nan):
    """out = |x - y| <= atol + rtol |y| (bool); no gradient."""
    y = y if isinstance(y, mx.array) else mx.array(y)
    exact = not (mx.issubdtype(x.dtype, mx.inexact) or mx.issubdtype(y.dtype, mx.inexact))
    if exact and rtol == 0 and atol == 0:
        return mx.equal(x, y), None
    if exact:  # MLX's isclose computes in the inputs' dtype: use float64 on the CPU
        x, y = x.astype(mx.float64), y.astype(mx.float64)
        return mx.isclose(x, y, rtol=rtol, atol=atol, stream=mx.cpu), None
    return mx.isclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan), None


def _tolerances(name: str, rtol, atol) -> tuple[float, float]:
    rtol, atol = float(rtol), float(atol)
    if rtol < 0 or atol < 0:
        raise ArgumentError(f"{name}: rtol and atol must be non-negative, got rtol={rtol}, "
                            f"atol={atol}")
    return rtol, atol


def isclose(x: Tensor, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> Tensor:
    """Elementwise ``|x - other| <= atol + rtol * |other|`` (broadcasting), a bool tensor."""
    rtol, atol = _tolerances("isclose", rtol, atol)
    if not isinstance(other, Tensor):
        other = Tensor(other, device=x.device)
    return _isclose(x, other, rtol, atol, bool(equal_nan))


def allclose(x: Tensor, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """Whether every element of x is close to ``other`` (a Python bool)."""
    return bool(isclose(x, other, rtol, atol, equal_nan).all().item())


TENSOR_METHODS = {"isclose": isclose, "allclose": allclose}
