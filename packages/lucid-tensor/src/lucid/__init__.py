"""Lucid: a readable deep-learning framework on MLX.

``import lucid`` gives the tensor engine (``Tensor``, ops, autograd, devices, dtypes).
``lucid.nn``, ``lucid.optim``, ``lucid.models``, ``lucid.data``, ``lucid.datasets`` and
``lucid.compare`` come from their own distributions; ``__path__`` is extended so they
import whether installed from wheels or in editable mode.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

from . import _blas  # noqa: E402

_blas.preload()

from . import _runtime  # noqa: E402

_runtime.configure_mlx()

from . import autograd, devices, dtypes, ops, random  # noqa: E402
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: E402
from .creation import (  # noqa: E402
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
from .devices import get_default_device, gpu_available, set_default_device  # noqa: E402
from .dtypes import (  # noqa: E402
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
from .errors import (  # noqa: E402
    CheckpointError,
    DeviceError,
    DTypeError,
    GradError,
    LucidError,
    LucidIndexError,
    ShapeError,
)
from .function import op  # noqa: E402
from .ops import bind_methods as _bind_methods  # noqa: E402
from .ops.arithmetic import (  # noqa: E402
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
from .ops.conversion import astype  # noqa: E402
from .random import manual_seed, rand, randint, randn, seed  # noqa: E402
from .tensor import Size, Tensor  # noqa: E402

_bind_methods(Tensor)

from .ops.elementwise import *  # noqa: F401,F403,E402
from .ops.indexing import *  # noqa: F401,F403,E402
from .ops.nn import *  # noqa: F401,F403,E402
from .ops.reduction import *  # noqa: F401,F403,E402
from .ops.shape import *  # noqa: F401,F403,E402
from .serialization import load, save  # noqa: E402

__version__ = "0.1.0"

# Sub-packages from the other distributions, imported on first use (``lucid.optim.Adam``
# after a plain ``import lucid``), as ``torch.optim`` is after ``import torch``.
_SUBPACKAGES = ("nn", "optim", "models", "data", "datasets", "compare")


def __getattr__(name):
    if name in _SUBPACKAGES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'lucid' has no attribute {name!r}")
blas_info = _blas.info
set_num_threads = _blas.set_num_threads  # threads of the BLAS that MLX's CPU matmuls use
get_num_threads = _blas.num_threads
