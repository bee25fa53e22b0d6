# ruff: noqa: F401, E402  (a re-export hub: every import here is a public name of lucid)
"""The tensor engine behind ``lucid``'s namespace: loaded on first use (``lucid/__init__``).

Importing this module loads MLX (after giving it OpenBLAS: ``lucid._blas``), binds the
ops as ``Tensor`` methods, and copies every public name below into the ``lucid`` package,
so ``lucid.tensor``, ``lucid.Tensor``, ``lucid.nn.functional`` and friends all see one
engine, whichever of them a program touches first.
"""

import sys as _sys

from . import _blas, _runtime

_blas.preload()  # before anything below imports mlx.core
_runtime.configure_mlx()

from . import autograd, devices, dtypes, ops, random
from ._tensor import Size, Tensor
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    tensor,
    zeros,
    zeros_like,
)
from .devices import device, get_default_device, gpu_available, set_default_device
from .dtypes import (
    BFloat16,
    Bool,
    Float16,
    Float32,
    Int32,
    Int64,
    bfloat16,
    bool_,
    float16,
    float32,
    half,
    int32,
    int64,
    long,
)
from .errors import (
    ArgumentError,
    ArgumentTypeError,
    CheckpointError,
    CheckpointWriteError,
    DeviceError,
    DTypeError,
    GradError,
    IntegerDivisionByZeroError,
    LucidError,
    LucidIndexError,
    ShapeError,
    TensorTooLargeError,
)
from .function import op
from .ops import bind_methods as _bind_methods
from .ops.arithmetic import (
    add,
    div,
    floor_divide,
    matmul,
    mul,
    neg,
    pow,
    remainder,
    sub,
)
from .ops.conversion import astype
from .random import manual_seed, rand, randint, randn, seed

_bind_methods(Tensor)

from ._native import native_info
from ._native import set_num_threads as _native_threads
from .ops.comparison import *  # noqa: F403
from .ops.elementwise import *  # noqa: F403
from .ops.float64 import *  # noqa: F403
from .ops.indexing import *  # noqa: F403
from .ops.linalg import *  # noqa: F403
from .ops.nn import *  # noqa: F403
from .ops.random_like import *  # noqa: F403
from .ops.reduction import *  # noqa: F403
from .ops.scatter import *  # noqa: F403
from .ops.shape import *  # noqa: F403
from .ops.sorting import *  # noqa: F403
from .ops.views import *  # noqa: F403
from .serialization import load, save

blas_info = _blas.info
get_num_threads = _blas.num_threads


def set_num_threads(n: int) -> None:
    """Threads of every CPU thread pool Lucid runs: the OpenBLAS of MLX's matrix products
    and the native kernels (``LUCID_NUM_THREADS`` sets the latter's default)."""
    _blas.set_num_threads(n)
    _native_threads(n)


_lucid = _sys.modules[__name__.rpartition(".")[0]]
_lucid.__dict__.update({k: v for k, v in globals().items() if not k.startswith("_")})
