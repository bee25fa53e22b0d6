"""Lucid: a readable deep-learning framework on MLX.

``import lucid`` gives the tensor engine (``Tensor``, ops, autograd, devices, dtypes).
``lucid.nn``, ``lucid.optim``, ``lucid.models``, ``lucid.data``, ``lucid.datasets`` and
``lucid.compare`` come from their own distributions; ``__path__`` is extended so they
import whether installed from wheels or in editable mode.

The engine (MLX and its BLAS) loads on first use of any of its names (``lucid.tensor``,
``lucid.Tensor``, ...), not at ``import lucid``: ``import lucid.data`` runs this file too,
and a NumPy-only loader must not load MLX into, say, a PyTorch program. Whenever
``mlx.core`` is imported after this file ran, Lucid first gives MLX OpenBLAS, in MLX's
own scope only (``lucid._blas``).
"""

import pkgutil as _pkgutil

__path__ = _pkgutil.extend_path(__path__, __name__)

from . import _blas  # noqa: E402  (stdlib only: ctypes, no library loaded)

_blas.install_import_hook()

__version__ = "0.1.0"

# Sub-packages imported on first use (``lucid.optim.Adam`` after a plain ``import lucid``),
# as ``torch.optim`` is after ``import torch``: the other distributions' and
# ``lucid.distributed``.
_SUBPACKAGES = ("nn", "optim", "models", "data", "datasets", "compare", "distributed",
                "utils")


def _load_engine():
    """Import ``lucid._engine``, which fills this namespace with the engine's names."""
    import importlib

    return importlib.import_module(f"{__name__}._engine")


def _is_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(f"{__name__}.{name}") is not None


def __getattr__(name):
    import importlib

    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    if name.startswith("__"):
        raise AttributeError(f"module 'lucid' has no attribute {name!r}")
    if _is_module(name):
        # ``from . import autograd`` inside an engine module, or ``lucid.autograd``: the
        # module alone, without loading the whole engine around a half-imported module
        return importlib.import_module(f"{__name__}.{name}")
    _load_engine()
    if name in globals():
        return globals()[name]
    raise AttributeError(f"module 'lucid' has no attribute {name!r}")


def __dir__():
    _load_engine()
    return sorted(set(globals()) | set(_SUBPACKAGES))
