"""``lucid.cuda``: PyTorch's availability questions, answered for MLX's GPU.

``is_available()`` is true when MLX has a GPU and it is CUDA (Linux with ``mlx[cuda]``);
on a Mac the GPU is Metal, reported by ``lucid.backends.mps``. Lucid tensors go there
with ``.to("cuda")``/``.cuda()``, whichever the GPU is.
"""

import sys

from .devices import gpu_available


def is_available() -> bool:
    return gpu_available() and sys.platform != "darwin"


def device_count() -> int:
    return 1 if is_available() else 0


def current_device() -> int:
    return 0


def synchronize() -> None:
    """Wait for the GPU's queued work."""
    import mlx.core as mx

    if gpu_available():
        mx.synchronize(mx.gpu)
