"""``lucid.backends.mps``: whether MLX's GPU is Apple's Metal (macOS)."""

import sys

from ..devices import gpu_available


def is_available() -> bool:
    return gpu_available() and sys.platform == "darwin"


def is_built() -> bool:
    return sys.platform == "darwin"
