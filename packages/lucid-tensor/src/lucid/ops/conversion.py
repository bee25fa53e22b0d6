"""dtype casts and device moves, both differentiable."""

import mlx.core as mx

from .. import dtypes as _dt
from ..errors import DTypeError
from ..function import record, run_on
from ..tensor import Tensor


def check_float64_device(name: str, x: Tensor) -> None:
    """Raise unless ``x`` is on a device that computes in float64 (MLX: the CPU only)."""
    if x.device != "cpu":
        raise DTypeError(
            f"{name}: float64 is supported on the CPU only; the tensor of shape {x.shape} "
            f"and dtype {x.dtype_name} is on device {x.device!r} (MLX's GPU has no float64); "
            "move it with .cpu() first, or use float32"
        )


def astype(x: Tensor, dtype) -> Tensor:
    """Cast to ``dtype``; the gradient is cast back to the input's dtype."""
    dtype = _dt.to_dtype(dtype)
    if dtype == x.dtype:
        return x
    if dtype == mx.float64:
        check_float64_device("astype", x)
    src = x.dtype
    out = run_on(x.device, lambda: x.data.astype(dtype))
    return record("astype", out, (x,), lambda g: (g.astype(src),), x.device)


def to_device(x: Tensor, device: str) -> Tensor:
    """The same values on ``device``; the gradient moves back.

    MLX arrays live in memory every device can reach; a device here decides where ops run.
    """
    out = mx.array(x.data)
    return record("to", out, (x,), lambda g: (g,), device)


TENSOR_METHODS = {"astype": astype}
