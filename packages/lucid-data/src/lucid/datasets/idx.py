"""The IDX format of MNIST and Fashion-MNIST, parsed with its header validated.

Layout (big-endian): two zero bytes, a type code, the number of dimensions ``d``, then
``d`` uint32 sizes, then the data. MNIST images are magic 2051 (``0x00000803``: uint8, 3
dims), labels 2049 (``0x00000801``: uint8, 1 dim). The file size must be exactly
``4 + 4 d + prod(sizes) * itemsize``: a truncated or padded file is an error naming it.
Gzipped files are recognised by their content (``1f 8b``), not by their name.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from .errors import CorruptFileError

#: IDX type code -> big-endian NumPy dtype.
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


def read_bytes(path: str | os.PathLike) -> bytes:
    """A file's bytes, gunzipped when it is gzip (by magic number)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CorruptFileError(f"cannot read {path}: {e}") from e
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise CorruptFileError(f"{path}: damaged or truncated gzip data ({e})") from e
    return data


def parse_idx(data: bytes, name: str = "<bytes>", expect_magic: int | None = None) -> np.ndarray:
    """Decode IDX bytes into a native-endian array, validating magic, rank and size."""
    if len(data) < 4:
        raise CorruptFileError(f"{name}: {len(data)} bytes, too short for an IDX header")
    magic = int.from_bytes(data[:4], "big")
    zero, code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if expect_magic is not None and magic != expect_magic:
        raise CorruptFileError(
            f"{name}: IDX magic number {magic} (0x{magic:08x}), expected {expect_magic} "
            f"(0x{expect_magic:08x}); wrong or mislabelled file"
        )
    if zero != 0 or code not in IDX_TYPES or ndim == 0:
        raise CorruptFileError(f"{name}: not an IDX file (header 0x{magic:08x})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise CorruptFileError(f"{name}: truncated IDX header ({len(data)} bytes, needs {header})")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_TYPES[code]
    expected = header + math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise CorruptFileError(
            f"{name}: {what}: header says shape {shape} ({expected} bytes with header), "
            f"file has {len(data)} bytes"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike, expect_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (plain or gzipped); see :func:`parse_idx`."""
    return parse_idx(read_bytes(path), str(path), expect_magic)


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as IDX (gzipped when ``compress`` or the name ends in ``.gz``)."""
    path = Path(path)
    array = np.asarray(array)
    codes = {v.newbyteorder("="): k for k, v in IDX_TYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise CorruptFileError(f"{path}: dtype {array.dtype} has no IDX type code")
    head = bytes([0, 0, codes[native], array.ndim])
    head += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    data = head + array.astype(IDX_TYPES[codes[native]], copy=False).tobytes()
    if compress or (compress is None and path.suffix == ".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    path.write_bytes(data)
    return path
