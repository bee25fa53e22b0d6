"""Framework-agnostic data loading: datasets over NumPy arrays, a seeded DataLoader, and
vectorised batch transforms.

Batches are NumPy arrays, so one loader feeds Lucid and PyTorch identical data; the order
and the augmentation of every batch follow from ``(seed, epoch, batch index)`` alone.
"""

from . import per_sample, transforms
from .dataset import (
    ArrayDataset,
    ConcatDataset,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    fetch_batch,
    random_split,
)
from .distributed import DistributedSampler
from .loader import DataLoader
from .prefetch import PrefetchIterator
from .sampler import (
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    epoch_rng,
    sampler_order,
)
from .transforms import (
    Compose,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    RandomVerticalFlip,
    ToFloat,
)

__all__ = [
    "ArrayDataset",
    "Compose",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "Normalize",
    "PrefetchIterator",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomSampler",
    "RandomVerticalFlip",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "ToFloat",
    "default_collate",
    "epoch_rng",
    "fetch_batch",
    "random_split",
    "sampler_order",
    "per_sample",
    "transforms",
]
