"""Data-parallel training: ``DistributedDataParallel`` over ``lucid.distributed``, and
PyTorch's single-process ``DataParallel`` (one MLX device: the module as it is)."""

from .data_parallel import DataParallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
