"""float64 (``lucid.float64``, ``lucid.double``) and ``Tensor.double()``.

MLX computes in float64 on the CPU only; its GPU backends (Metal, CUDA) have no float64,
so a float64 tensor on the GPU is refused with a DTypeError here instead of failing
later inside MLX.
"""

from __future__ import annotations

from .. import dtypes as _dt
from .._tensor import Tensor
from ..dtypes import Float64, double, float64
from .conversion import astype, check_float64_device

__all__ = ["float64", "double", "Float64"]


check_device = check_float64_device


def to_double(x: Tensor) -> Tensor:
    """x cast to float64 (differentiable; the gradient is cast back)."""
    if x.dtype != _dt.float64:
        check_device("double", x)
    return astype(x, _dt.float64)


TENSOR_METHODS = {"double": to_double}
