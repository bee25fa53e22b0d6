"""The embedded MNIST sample: the real MNIST test set, split 8,000 train / 2,000 test.

The wheel ships ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz`` (10,000
images; MNIST by Y. LeCun, C. Cortes and C. J. C. Burges, CC BY-SA 3.0), so a model can be
trained with no download at all.

The split is fixed and stratified. For class ``c`` with ``n_c`` images (in file order):
``perm = np.random.default_rng([SAMPLE_SEED, c]).permutation(n_c)``; the first ``k_c`` of
``perm`` go to train, the rest to test, where ``k_c`` is ``0.8 n_c`` rounded down, and the
remaining 3 train places go to the classes with the largest fractional parts of ``0.8 n_c``
(ties: lower class first), so that train has exactly 8,000 images. Both splits then keep the
file order. Per class, train/test: 784/196, 908/227, 826/206, 808/202, 786/196, 714/178,
766/192, 822/206, 779/195, 807/202.
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np

from .mnist import parse_mnist_pair
from .preprocess import MNIST_MEAN, MNIST_STD, prepare_images, resolve_normalize

SAMPLE_SEED = 0
SAMPLE_TRAIN = 8000
SAMPLE_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def sample_path(name: str):
    """Path (a Traversable) of a file shipped in ``lucid/datasets/_sample``."""
    return resources.files(__package__).joinpath("_sample", name)


@functools.lru_cache(maxsize=1)
def _sample_raw() -> tuple[np.ndarray, np.ndarray]:
    with (
        resources.as_file(sample_path(SAMPLE_FILES[0])) as xp,
        resources.as_file(sample_path(SAMPLE_FILES[1])) as yp,
    ):
        x, y = parse_mnist_pair(xp, yp)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def stratified_split(
    labels: np.ndarray, n_train: int, seed: int = SAMPLE_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)`` of a seeded, per-class split with exactly ``n_train`` train."""
    labels = np.asarray(labels)
    if labels.size and labels.dtype.kind not in "iu":
        raise TypeError(f"stratified_split: labels must be integers, got dtype {labels.dtype}")
    classes = np.unique(labels)
    counts = [int((labels == c).sum()) for c in classes]
    k = [n * n_train // len(labels) for n in counts]  # exact integer shares
    rem = [n * n_train % len(labels) for n in counts]
    extra = n_train - sum(k)
    order = sorted(range(len(classes)), key=lambda i: (-rem[i], i))
    for i in order[:extra]:
        k[i] += 1
    train = []
    for i, c in enumerate(classes):
        idx = np.flatnonzero(labels == c)
        perm = np.random.default_rng([seed, int(c)]).permutation(len(idx))
        train.append(idx[perm[: k[i]]])
    train_idx = np.sort(np.concatenate(train))
    mask = np.ones(len(labels), dtype=bool)
    mask[train_idx] = False
    return train_idx, np.flatnonzero(mask)


def mnist_sample_split() -> tuple[np.ndarray, np.ndarray]:
    """Indices into the 10,000 embedded images: ``(train (8000,), test (2000,))``."""
    return stratified_split(_sample_raw()[1], SAMPLE_TRAIN)


def mnist_sample(normalize=True, *, raw: bool = False):
    """The embedded MNIST sample as ``x_train, y_train, x_test, y_test``.

    8,000 train and 2,000 test images, float32 ``(N, 1, 28, 28)``, normalised like
    :func:`get_mnist_numpy` (``normalize=False``: [0, 1]; ``raw=True``: uint8); labels int64.
    No download, no cache: the 1.6 MB of gzip parse in a few tens of milliseconds.
    """
    x, y = _sample_raw()
    train, test = mnist_sample_split()
    stats = None if raw else resolve_normalize(normalize, (MNIST_MEAN, MNIST_STD), 1)
    xs = (x[train], x[test])
    if not raw:
        xs = tuple(prepare_images(a, stats) for a in xs)
    return xs[0], y[train], xs[1], y[test]
