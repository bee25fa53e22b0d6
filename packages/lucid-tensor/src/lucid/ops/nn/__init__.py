"""Neural-network primitives whose backward is written in the engine: convolutions,
pooling, dropout, one-hot and embedding lookup (NCHW, as PyTorch)."""

from . import conv as _conv
from . import conv_transpose as _conv_transpose
from . import dropout as _dropout
from . import embedding as _embedding
from . import pool as _pool
from .conv import *  # noqa: F401,F403
from .conv_transpose import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403

_MODULES = (_conv, _conv_transpose, _pool, _dropout, _embedding)
__all__ = [name for m in _MODULES for name in m.__all__]
TENSOR_METHODS = {k: v for m in _MODULES for k, v in m.TENSOR_METHODS.items()}
