"""Datasets as NumPy arrays: downloaded, verified, parsed safely and cached.

``get_mnist_numpy``, ``get_fashion_mnist_numpy``, ``get_cifar10_numpy`` and
``get_cifar100_numpy`` return ``x_train, y_train, x_test, y_test`` (float32 NCHW images,
int64 labels); ``mnist_sample`` returns a split of the MNIST test set shipped in the package.
"""

from .cache import FORMAT_VERSION, read_cache, write_cache
from .cifar import (
    CIFAR10_ARCHIVE,
    CIFAR10_CLASSES,
    CIFAR100_ARCHIVE,
    CIFAR_MIRRORS,
    get_cifar10_numpy,
    get_cifar100_numpy,
    parse_cifar_batch,
)
from .download import download_url, md5sum
from .errors import (
    ChecksumError,
    CorruptFileError,
    DatasetError,
    DatasetNotFoundError,
    DownloadError,
    UnsafePickleError,
)
from .home import data_home
from .idx import parse_idx, read_idx, write_idx
from .mnist import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_FILES,
    FASHION_MNIST_MIRRORS,
    MNIST_CLASSES,
    MNIST_FILES,
    MNIST_MIRRORS,
    get_fashion_mnist_numpy,
    get_mnist_numpy,
    parse_mnist_pair,
)
from .preprocess import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR100_MEAN,
    CIFAR100_STD,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    MNIST_MEAN,
    MNIST_STD,
)
from .safe_pickle import RestrictedUnpickler, safe_load, safe_loads
from .sample import mnist_sample, mnist_sample_split, stratified_split

__all__ = [
    "CIFAR10_ARCHIVE",
    "CIFAR10_CLASSES",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CIFAR100_ARCHIVE",
    "CIFAR100_MEAN",
    "CIFAR100_STD",
    "CIFAR_MIRRORS",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_FILES",
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_MIRRORS",
    "FASHION_MNIST_STD",
    "FORMAT_VERSION",
    "MNIST_CLASSES",
    "MNIST_FILES",
    "MNIST_MEAN",
    "MNIST_MIRRORS",
    "MNIST_STD",
    "ChecksumError",
    "CorruptFileError",
    "DatasetError",
    "DatasetNotFoundError",
    "DownloadError",
    "RestrictedUnpickler",
    "UnsafePickleError",
    "data_home",
    "download_url",
    "get_cifar10_numpy",
    "get_cifar100_numpy",
    "get_fashion_mnist_numpy",
    "get_mnist_numpy",
    "md5sum",
    "mnist_sample",
    "mnist_sample_split",
    "parse_cifar_batch",
    "parse_idx",
    "parse_mnist_pair",
    "read_cache",
    "read_idx",
    "safe_load",
    "safe_loads",
    "stratified_split",
    "write_cache",
    "write_idx",
]
