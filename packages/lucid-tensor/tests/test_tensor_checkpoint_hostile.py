"""Checkpoints from hostile or broken files, and saves that cannot be written."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time

import lucid
import mlx.core as mx
import numpy as np
import pytest
from lucid import serialization
from lucid.errors import CheckpointError
from test_tensor_serialization import _assert_failed_save_keeps_the_old_file, _failing_save


def _write(path, header, arrays=None):
    """A safetensors file whose Lucid header is ``header`` (a JSON-able value or raw text)."""
    arrays = arrays if arrays is not None else {"x": mx.ones((4,))}
    text = header if isinstance(header, str) else json.dumps(header)
    mx.save_safetensors(str(path), arrays, metadata={"format": "lucid", "lucid": text})
    return path


def _crc(a):
    import zlib

    return zlib.crc32(memoryview(a))


def _good_header(tree=None):
    return {"version": 1, "tree": tree or {"x": {"@tensor": "x"}},
            "crc32": {"x": _crc(mx.ones((4,)))}}


def test_crafted_good_header_loads(tmp_path):
    out = lucid.load(_write(tmp_path / "ok.safetensors", _good_header()))
    np.testing.assert_array_equal(out["x"].numpy(), np.ones(4))


@pytest.mark.parametrize(
    "edit",
    [
        {"version": "2"},
        {"version": True},
        {"version": 0},
        {"version": None},
        {"crc32": "abc"},
        {"crc32": {"x": "abc"}},
        {"crc32": {"x": -1}},
        {"crc32": [1]},
        {"tree": {"x": {"@float": "abc"}}},
        {"tree": {"x": {"@float": 5}}},
        {"tree": {"x": {"@dict": "x"}}},
        {"tree": {"x": {"@dict": [[1]]}}},
        {"tree": {"x": {"@dict": [[[1], 2]]}}},
        {"tree": {"x": {"@dict": [[{"a": 1}, 2]]}}},
        {"tree": {"x": {"@tensor": 5}}},
        {"tree": {"x": {"@tensor": ["x"]}}},
        {"tree": {"x": {"@tensor": "missing"}}},
        {"tree": {"x": {"@tuple": 3}}},
        {"tree": {"x": {"@what": 3}}},
    ],
    ids=lambda e: json.dumps(e)[:40],
)
def test_malformed_header_entries_raise_checkpoint_error(tmp_path, edit):
    path = _write(tmp_path / "bad.safetensors", {**_good_header(), **edit})
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        lucid.load(path)


@pytest.mark.parametrize("header", ["[]", "5", '"text"', "{", '{"tree": {}}'])
def test_header_that_is_not_an_object_raises_checkpoint_error(tmp_path, header):
    with pytest.raises(CheckpointError, match="h.safetensors"):
        lucid.load(_write(tmp_path / "h.safetensors", header))


@pytest.mark.parametrize("depth", [150, 5000])
def test_deep_tree_raises_checkpoint_error_not_recursion_error(tmp_path, depth):
    head = json.dumps({"version": 1, "crc32": {"x": _crc(mx.ones((4,)))}})[:-1]
    text = head + ', "tree": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(CheckpointError, match="deep.safetensors"):
        lucid.load(_write(tmp_path / "deep.safetensors", text))


def _flip_tensor_byte(path, name="x"):
    raw = bytearray(path.read_bytes())
    (n,) = struct.unpack("<Q", raw[:8])
    start, _ = json.loads(raw[8 : 8 + n])[name]["data_offsets"]
    raw[8 + n + start + 1] ^= 0x40
    path.write_bytes(bytes(raw))


def test_header_without_crc_does_not_let_a_flipped_byte_load(tmp_path):
    header = _good_header()
    del header["crc32"]
    path = _write(tmp_path / "nocrc.safetensors", header)
    _flip_tensor_byte(path)
    with pytest.raises(CheckpointError, match="nocrc.safetensors.*crc32"):
        lucid.load(path)


def test_crc_missing_for_one_tensor_is_refused(tmp_path):
    header = _good_header()
    path = _write(tmp_path / "part.safetensors", header,
                  {"x": mx.ones((4,)), "y": mx.zeros((2,))})
    with pytest.raises(CheckpointError, match="no CRC-32 for tensor 'y'"):
        lucid.load(path)


def test_file_written_without_crc_by_design_loads(tmp_path):
    header = {**_good_header(), "crc32": False}
    out = lucid.load(_write(tmp_path / "free.safetensors", header))
    np.testing.assert_array_equal(out["x"].numpy(), np.ones(4))


def test_self_referencing_object_cannot_be_saved(tmp_path):
    a = []
    a.append(a)
    with pytest.raises(CheckpointError, match="nested deeper"):
        lucid.save({"a": a}, tmp_path / "cyc.safetensors")
    assert os.listdir(tmp_path) == []


# ----- saves that cannot be written ---------------------------------------------------
def test_mlx_write_failure_is_a_checkpoint_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    full_disk = _failing_save(b"\x10\x00", RuntimeError(
        "[save_safetensors] Failed to write: No space left on device"))
    _assert_failed_save_keeps_the_old_file(tmp_path, monkeypatch, full_disk,
                                           serialization.CheckpointWriteError,
                                           "ckpt.safetensors.*No space")
    assert issubclass(serialization.CheckpointWriteError, (CheckpointError, OSError))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs a POSIX user for whom a read-only folder is read-only")
def test_read_only_folder_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    lucid.save({"x": lucid.ones(3)}, path)
    before = path.read_bytes()
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(CheckpointError, match="ckpt.safetensors"):
            lucid.save({"x": lucid.zeros(3)}, path)
    finally:
        tmp_path.chmod(0o755)
    assert path.read_bytes() == before


def test_stale_temporaries_are_removed_by_the_next_save(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    two_minutes, two_days = time.time() - 120, time.time() - 2 * 86400
    dead_tmp = tmp_path / f".ckpt.safetensors.{dead_pid}.0123456789ab.tmp.safetensors"
    old_style = tmp_path / ".ckpt.safetensors.0123456789ab.tmp.safetensors"
    live = tmp_path / f".ckpt.safetensors.{os.getpid()}.0123456789ac.tmp.safetensors"
    other = tmp_path / ".notes.tmp.safetensors"
    for p, t in ((dead_tmp, two_minutes), (old_style, two_days), (live, two_minutes),
                 (other, two_days)):
        p.write_bytes(b"x" * 10)
        os.utime(p, (t, t))
    lucid.save({"x": lucid.ones(2)}, tmp_path / "ckpt.safetensors")
    assert not dead_tmp.exists() and not old_style.exists()
    assert live.exists() and other.exists()


def test_real_mlx_write_failure_is_a_checkpoint_write_error(tmp_path):
    with pytest.raises(serialization.CheckpointWriteError, match="missing/ckpt.safetensors"):
        lucid.save({"x": lucid.ones(2)}, tmp_path / "missing" / "ckpt.safetensors")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's read-only /proc")
def test_folder_read_only_even_for_root_is_a_checkpoint_write_error():
    with pytest.raises(serialization.CheckpointWriteError, match="/proc/ckpt.safetensors"):
        lucid.save({"x": lucid.ones(2)}, "/proc/ckpt.safetensors")
