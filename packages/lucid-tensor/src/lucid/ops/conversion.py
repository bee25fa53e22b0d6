"""dtype casts and device moves, both differentiable."""

import mlx.core as mx

from .. import dtypes as _dt
from ..function import record, run_on
from ..tensor import Tensor


def astype(x: Tensor, dtype) -> Tensor:
    """Cast to ``dtype``; the gradient is cast back to the input's dtype."""
    dtype = _dt.to_dtype(dtype)
    if dtype == x.dtype:
        return x
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
