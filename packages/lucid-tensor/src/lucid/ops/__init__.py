"""Every Lucid op, as a function; ``bind_methods`` makes them Tensor methods too.

Each module lists the methods it contributes in ``TENSOR_METHODS``.
"""

from .. import autograd
from . import (
    arithmetic,
    comparison,
    conversion,
    elementwise,
    float64,
    indexing,
    inplace,
    linalg,
    nn,
    random_like,
    reduction,
    scatter,
    shape,
    sorting,
    views,
)

_MODULES = [arithmetic, conversion, elementwise, reduction, shape, indexing, nn, inplace]
_MODULES += [comparison, float64, linalg, random_like, scatter, sorting, views]
_MODULES += [autograd]  # Tensor.backward


def bind_methods(cls) -> None:
    for module in _MODULES:
        for name, fn in module.TENSOR_METHODS.items():
            setattr(cls, name, fn)
