"""Every Lucid op, as a function; ``bind_methods`` makes them Tensor methods too.

Each module lists the methods it contributes in ``TENSOR_METHODS``.
"""

from . import arithmetic, conversion

_MODULES = [arithmetic, conversion]

try:  # modules written alongside; each is optional until it exists
    from . import elementwise, reduction, shape, indexing  # noqa: F401
    _MODULES += [elementwise, reduction, shape, indexing]
except ImportError:  # pragma: no cover
    pass
try:
    from . import nn  # noqa: F401
    _MODULES += [nn]
except ImportError:  # pragma: no cover
    pass


def bind_methods(cls) -> None:
    for module in _MODULES:
        for name, fn in getattr(module, "TENSOR_METHODS", {}).items():
            setattr(cls, name, fn)
