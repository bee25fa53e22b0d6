"""float64 (``lucid.float64``, ``lucid.double``) and ``Tensor.double()``.

MLX computes in float64 on the CPU only; its GPU backends (Metal, CUDA) have no float64,
so a float64 tensor on the GPU is refused with a DTypeError here instead of failing
later inside MLX.
"""

from __future__ import annotations

from .. import dtypes as _dt
from ..dtypes import Float64, double, float64
from ..errors import DTypeError
from ..tensor import Tensor
from .conversion import astype

__all__ = ["float64", "double", "Float64"]


def check_device(name: str, x: Tensor) -> None:
    """Raise unless ``x`` is on a device that computes in float64 (the CPU)."""
    if x.device != "cpu":
        raise DTypeError(
            f"{name}: float64 is supported on the CPU only; the tensor of shape {x.shape} "
            f"and dtype {x.dtype_name} is on device {x.device!r} (MLX's GPU has no float64); "
            "move it with .cpu() first, or use float32"
        )


def to_double(x: Tensor) -> Tensor:
    """x cast to float64 (differentiable; the gradient is cast back)."""
    if x.dtype != _dt.float64:
        check_device("double", x)
    return astype(x, _dt.float64)


TENSOR_METHODS = {"double": to_double}
