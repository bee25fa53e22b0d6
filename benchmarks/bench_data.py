"""lucid-data speed: cached CIFAR-10-sized loads and an augmented training epoch.

    python benchmarks/bench_data.py [--out bench-results/data.json] [--workdir DIR]

1. Writes a synthetic CIFAR-10 (60,000 random uint8 images, 50,000 train / 10,000 test) in
   the official pickled-batch layout, loads it once with ``get_cifar10_numpy`` (parse +
   uint8 cache, under ``WORKDIR/cache``: ``LUCID_DATA_HOME``), then times cached loads: uint8
   memory-mapped (``mmap_mode="r"``) and from the ``.npz``, and float32 (the uint8 cache
   converted and normalised in memory; only uint8 is cached). Targets: mmap < 0.1 s, npz <
   1.5 s (uint8).
2. Iterates one epoch of 50,000 CIFAR-shaped images in batches of 128 with
   ``RandomCrop(32, padding=4) + RandomHorizontalFlip() + Normalize`` (target >= 20,000
   images/s), from float32 in memory, from uint8 (+ ``ToFloat``), from a uint8 memmap, and
   with a prefetch thread.

Figures are printed and written as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

try:
    import lucid.data  # noqa: F401
except ModuleNotFoundError:  # running from a checkout where lucid-data is not installed
    _src = Path(__file__).resolve().parents[1] / "packages" / "lucid-data" / "src"
    sys.path.insert(0, str(_src))
    import lucid

    if str(_src / "lucid") not in list(lucid.__path__):
        lucid.__path__.append(str(_src / "lucid"))

from lucid.data import (  # noqa: E402
    ArrayDataset,
    Compose,
    DataLoader,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    ToFloat,
)
from lucid.datasets import CIFAR10_MEAN, CIFAR10_STD, get_cifar10_numpy  # noqa: E402


def _median_time(fn, repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        del out
    return statistics.median(times), times


def write_synthetic_cifar(root: Path, n_train=50_000, n_test=10_000, seed=0) -> None:
    """Random uint8 images in the official layout (pickled dicts of (N, 3072) uint8)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    sizes = [n_train // 5] * 5 + [n_test]
    for name, n in zip(names, sizes, strict=True):
        d = {
            b"batch_label": name.encode(),
            b"labels": rng.integers(0, 10, n).tolist(),
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [b"x.png"] * n,
        }
        (folder / name).write_bytes(pickle.dumps(d, protocol=4))


def bench_cache(root: Path, repeat: int) -> dict:
    """Cached loads through ``get_cifar10_numpy``: .npz first (before any .npy exists),
    then memory-mapped .npy, then .npy read into memory."""
    res = {}
    t0 = time.perf_counter()
    get_cifar10_numpy(root, download=False, progress=False)  # parse + the uint8 cache
    res["first_load_parse_and_cache_s"] = time.perf_counter() - t0
    for label, kw in (("uint8", {"raw": True}), ("float32_normalized", {})):
        get_cifar10_numpy(root, download=False, **kw)  # make sure this variant is cached
        for mode, extra in (("npz", {}), ("mmap", {"mmap_mode": "r"}), ("npy_in_memory", {})):
            if mode == "mmap":
                get_cifar10_numpy(root, mmap_mode="r", download=False, **kw)  # adds .npy files
            med, runs = _median_time(
                lambda kw=kw, extra=extra: get_cifar10_numpy(root, download=False, **kw, **extra),
                repeat,
            )
            res[f"{label}_{mode}_s"] = med
            res[f"{label}_{mode}_runs_s"] = runs
    res["images"] = 60_000
    return res


def _epoch(loader) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = 0
    for xb, _ in loader:
        n += len(xb)
    return time.perf_counter() - t0, n


def bench_epoch(root: Path, n: int, batch_size: int, repeat: int) -> dict:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, n)
    x_u8 = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    x_f32 = x_u8.astype(np.float32) / np.float32(255)
    aug = [RandomCrop(32, padding=4), RandomHorizontalFlip()]
    norm = Normalize(CIFAR10_MEAN, CIFAR10_STD)
    x_mm = get_cifar10_numpy(root, raw=True, mmap_mode="r", download=False)[0][:n]
    cases = {
        "float32": (x_f32, Compose([*aug, norm]), 0),
        "float32_prefetch2": (x_f32, Compose([*aug, norm]), 2),
        "uint8_tofloat": (x_u8, Compose([*aug, ToFloat(), norm]), 0),
        "uint8_memmap_tofloat": (x_mm, Compose([*aug, ToFloat(), norm]), 0),
    }
    res = {"images": n, "batch_size": batch_size}
    for name, (x, t, prefetch) in cases.items():
        loader = DataLoader(
            ArrayDataset(x, y[: len(x)]),
            batch_size=batch_size,
            shuffle=True,
            seed=0,
            transform=t,
            prefetch=prefetch,
        )
        runs = [_epoch(loader) for _ in range(repeat)]
        best = min(r[0] for r in runs)
        res[name] = {
            "images_per_s": runs[0][1] / best,
            "epoch_s": best,
            "runs_s": [r[0] for r in runs],
        }
    # no augmentation: the cost of gathering batches alone
    loader = DataLoader(ArrayDataset(x_f32, y), batch_size=batch_size, shuffle=True)
    runs = [_epoch(loader) for _ in range(repeat)]
    best = min(r[0] for r in runs)
    res["float32_no_transform"] = {"images_per_s": n / best, "epoch_s": best}
    return res


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="bench-results/data.json")
    ap.add_argument("--workdir", default=None, help="folder for the synthetic data (temp dir)")
    ap.add_argument("--epoch-images", type=int, default=50_000)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="lucid-bench-"))
    os.environ["LUCID_DATA_HOME"] = str(work / "cache")  # not the user's cache
    try:
        write_synthetic_cifar(work)
        cache = bench_cache(work, args.repeat)
        epoch = bench_epoch(work, args.epoch_images, args.batch_size, args.repeat)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)

    result = {
        "benchmark": "lucid-data",
        "cache_load": cache,
        "epoch": epoch,
        "targets": {"mmap_s": 0.1, "npz_s": 1.5, "epoch_images_per_s": 20_000},
        "environment": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "malloc_env": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
        },
    }
    print("cached CIFAR-10-sized load (60,000 images), median of", args.repeat)
    print(f"  first load (parse + cache)    {cache['first_load_parse_and_cache_s']:.2f} s")
    for label in ("uint8", "float32_normalized"):
        print(f"  {label:<20} mmap_mode='r'    {cache[f'{label}_mmap_s']:.4f} s")
        print(f"  {label:<20} from .npz        {cache[f'{label}_npz_s']:.3f} s")
        print(f"  {label:<20} .npy into memory {cache[f'{label}_npy_in_memory_s']:.3f} s")
    print(f"epoch of {epoch['images']} images, batch {epoch['batch_size']}, crop+flip+normalize")
    for name, r in epoch.items():
        if isinstance(r, dict):
            print(f"  {name:<22} {r['images_per_s']:>10,.0f} images/s  ({r['epoch_s']:.2f} s)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print("wrote", out)
    return result


if __name__ == "__main__":
    main()
