"""dtype casts and device moves, both differentiable."""

import mlx.core as mx

from .. import devices
from .. import dtypes as _dt
from .._tensor import Tensor
from ..errors import DTypeError
from ..function import record, run_on


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
    out = run_on(x.device, lambda: x._data.astype(dtype))
    return record("astype", out, (x,), lambda g: (g.astype(src),), x.device)


def to_device(x: Tensor, device: str) -> Tensor:
    """The same values on ``device``; the gradient moves back.

    MLX arrays live in memory every device can reach; a device here decides where ops run.
    """
    out = mx.array(x._data)
    return record("to", out, (x,), lambda g: (g,), device)


def _is_dtype(a) -> bool:
    try:
        _dt.to_dtype(a)
        return True
    except Exception:
        return False


def to(x: Tensor, *args, dtype=None, device=None) -> Tensor:
    """``x.to(device)``, ``x.to(dtype)`` or both; differentiable like any op."""
    for a in args:
        if isinstance(a, mx.Dtype) or (not isinstance(a, str) and _is_dtype(a)):
            dtype = a
        else:
            device = a
    out = x
    if dtype is not None and _dt.to_dtype(dtype) != x.dtype:
        out = astype(out, dtype)
    if device is not None and devices.canonical(device) != x.device:
        out = to_device(out, devices.canonical(device))
    return out


TENSOR_METHODS = {"astype": astype, "to": to}
