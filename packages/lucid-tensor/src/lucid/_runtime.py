"""Process-wide MLX settings Lucid applies at import.

MLX keeps freed buffers in a cache for reuse; its CPU default (32 MB) is smaller than one
ResNet activation, so large temporaries were malloc'd and page-faulted on every step.
``LUCID_CACHE_LIMIT_MB`` overrides the limit Lucid sets (1024 MB).
"""

import os

import mlx.core as mx

CACHE_LIMIT_VAR = "LUCID_CACHE_LIMIT_MB"
DEFAULT_CACHE_LIMIT_MB = 1024


def configure_mlx() -> None:
    limit_mb = int(os.environ.get(CACHE_LIMIT_VAR, DEFAULT_CACHE_LIMIT_MB))
    mx.set_cache_limit(limit_mb * 1024 * 1024)
