"""Lucid dtypes are MLX dtypes, under the names the seed and PyTorch use."""

import mlx.core as mx
import numpy as np

from .errors import DTypeError

Dtype = mx.Dtype

float32 = Float32 = mx.float32
float16 = Float16 = mx.float16
float64 = Float64 = mx.float64  # MLX runs float64 on the CPU only
bfloat16 = BFloat16 = mx.bfloat16
int32 = Int32 = mx.int32
int64 = Int64 = mx.int64
bool_ = Bool = mx.bool_
# PyTorch spellings
float = float32  # noqa: A001
half = float16
double = float64
long = int64
int = int32  # noqa: A001

FLOATING = (mx.float32, mx.float16, mx.bfloat16, mx.float64)
_BY_NAME = {
    "float32": mx.float32, "float": mx.float32, "float16": mx.float16, "half": mx.float16,
    "bfloat16": mx.bfloat16, "int32": mx.int32, "int": mx.int32, "int64": mx.int64,
    "long": mx.int64, "bool": mx.bool_, "float64": mx.float64, "double": mx.float64,
}
_FROM_NUMPY = {
    np.dtype(np.float32): mx.float32, np.dtype(np.float64): mx.float32,
    np.dtype(np.float16): mx.float16, np.dtype(np.int32): mx.int32,
    np.dtype(np.int64): mx.int64, np.dtype(np.bool_): mx.bool_,
    np.dtype(np.uint8): mx.uint8, np.dtype(np.int8): mx.int8, np.dtype(np.int16): mx.int16,
    np.dtype(np.uint32): mx.uint32, np.dtype(np.uint64): mx.uint64,
}


def to_dtype(dtype) -> mx.Dtype:
    """Accept a Lucid/MLX dtype, a name such as ``"float32"``, a NumPy or torch dtype."""
    if dtype is None or isinstance(dtype, mx.Dtype):
        return dtype
    if isinstance(dtype, str):
        key = dtype.removeprefix("torch.")
    else:
        key = str(dtype).removeprefix("torch.")
    if key in _BY_NAME:
        return _BY_NAME[key]
    try:
        return _FROM_NUMPY[np.dtype(dtype)]
    except (TypeError, KeyError):
        raise DTypeError(f"unknown dtype {dtype!r}; expected one of {sorted(_BY_NAME)}") from None


def from_numpy_dtype(dtype: np.dtype) -> mx.Dtype:
    """The Lucid dtype for a NumPy array (float64 becomes float32, as Lucid's default)."""
    try:
        return _FROM_NUMPY[np.dtype(dtype)]
    except KeyError:
        raise DTypeError(f"NumPy dtype {dtype} has no Lucid equivalent") from None


def is_floating(dtype: mx.Dtype) -> bool:
    return dtype in FLOATING


def name(dtype: mx.Dtype) -> str:
    return str(dtype).removeprefix("mlx.core.")
