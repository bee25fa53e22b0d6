"""Neural-network primitives whose backward is written in the engine: convolutions,
pooling, batch normalisation, dropout, one-hot and embedding lookup, linear, activations, normalisations,
losses, distances and interpolation (NCHW, as PyTorch)."""

from . import activation as _activation
from . import adaptive_max_pool as _adaptive_max_pool
from . import batch_norm as _batch_norm
from . import channel_dropout as _channel_dropout
from . import conv as _conv
from . import conv_batch_norm as _conv_batch_norm
from . import conv_transpose as _conv_transpose
from . import distance as _distance
from . import dropout as _dropout
from . import embedding as _embedding
from . import interpolate as _interpolate
from . import linear as _linear
from . import loss as _loss
from . import normalization as _normalization
from . import pool as _pool
from .activation import *  # noqa: F401,F403
from .adaptive_max_pool import *  # noqa: F401,F403
from .batch_norm import *  # noqa: F401,F403
from .channel_dropout import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .conv_batch_norm import *  # noqa: F401,F403
from .conv_transpose import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .interpolate import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403

_MODULES = (_conv, _conv_batch_norm, _conv_transpose, _pool, _batch_norm, _dropout, _embedding, _activation,
            _adaptive_max_pool, _channel_dropout, _distance, _interpolate, _linear, _loss,
            _normalization)
__all__ = [name for m in _MODULES for name in m.__all__]
TENSOR_METHODS = {k: v for m in _MODULES for k, v in m.TENSOR_METHODS.items()}
