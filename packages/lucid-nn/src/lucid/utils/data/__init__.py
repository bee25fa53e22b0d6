"""``lucid.utils.data``: ``torch.utils.data`` for Lucid.

The datasets, samplers and ``random_split`` are lucid-data's (NumPy, framework-agnostic);
``DataLoader`` is lucid-data's loader with PyTorch's arguments, yielding Lucid tensors,
with ``num_workers`` worker processes. See ``lucid.data.per_sample`` for torchvision-style
``ToTensor``/``Normalize``/``RandomCrop``/``RandomHorizontalFlip``/``Compose``.
"""

from lucid.data import (
    ConcatDataset,
    Dataset,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    default_collate,
)

from .loader import DataLoader, get_worker_info
from .split import random_split

__all__ = [
    "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler", "RandomSampler", "Sampler",
    "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset", "default_collate",
    "get_worker_info", "random_split",
]
