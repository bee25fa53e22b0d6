"""Checkpoints: lucid.save / lucid.load round trips, the safetensors format, atomic writes,
and clear errors for damaged files."""

import json
import math
import os
import struct

import lucid
import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch
from lucid import serialization
from lucid.serialization import CheckpointError


def _model_state():
    rng = np.random.default_rng(0)
    return {
        "conv.weight": lucid.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32)),
        "conv.bias": lucid.tensor(rng.standard_normal(4).astype(np.float32)),
        "bn.running_mean": lucid.zeros(4),
        "bn.num_batches_tracked": lucid.tensor(2**40 + 3),  # int64 beyond int32
        "emb.half": lucid.tensor(rng.standard_normal((2, 5)).astype(np.float32), dtype="float16"),
        "emb.bf16": lucid.tensor([1.5, -2.25, 3e-3], dtype="bfloat16"),
        "idx.int32": lucid.tensor(np.array([1, -7, 2**30], dtype=np.int32)),
        "mask": lucid.tensor(np.array([[True, False], [False, True]])),
        "scalar": lucid.tensor(0.25),
        "empty": lucid.zeros((0, 3)),
    }


def _assert_tensor_equal(a, b):
    assert isinstance(a, lucid.Tensor) and a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_model_state_dict_round_trip(tmp_path):
    state = _model_state()
    path = tmp_path / "model.safetensors"
    lucid.save(state, path)
    loaded = lucid.load(path)
    assert list(loaded) == list(state)
    for key in state:
        _assert_tensor_equal(loaded[key], state[key])
        assert loaded[key].device == "cpu" and not loaded[key].requires_grad
    assert loaded["bn.num_batches_tracked"].item() == 2**40 + 3


def test_optimizer_like_state_dict_round_trip(tmp_path):
    state = {
        "state": {0: {"step": 3, "exp_avg": lucid.ones((2, 2)), "flag": None},
                  7: {"momentum_buffer": lucid.tensor([1.0, 2.0])}},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False,
                          "nesterov": True, "params": [0, 7], "name": "head",
                          "nested": [[1, 2], (3, [4.5, None])]}],
        "inf": math.inf, "ninf": -math.inf, "@odd": {"@tensor": "not a tensor"},
        True: "bool key", None: "none key",
    }
    lucid.save(state, tmp_path / "opt.ckpt")
    loaded = lucid.load(tmp_path / "opt.ckpt")
    assert list(loaded) == list(state)
    assert list(loaded["state"]) == [0, 7] and loaded["state"][0]["step"] == 3
    assert loaded["state"][0]["flag"] is None
    _assert_tensor_equal(loaded["state"][0]["exp_avg"], state["state"][0]["exp_avg"])
    group = loaded["param_groups"][0]
    assert group["betas"] == (0.9, 0.999) and isinstance(group["betas"], tuple)
    assert group["nested"] == [[1, 2], (3, [4.5, None])]
    assert group["nesterov"] is True and group["amsgrad"] is False and group["params"] == [0, 7]
    assert loaded["inf"] == math.inf and loaded["ninf"] == -math.inf
    assert loaded["@odd"] == {"@tensor": "not a tensor"}
    assert loaded[True] == "bool key" and loaded[None] == "none key"


def test_nan_float_round_trips(tmp_path):
    lucid.save({"x": math.nan}, tmp_path / "n.safetensors")
    assert math.isnan(lucid.load(tmp_path / "n.safetensors")["x"])


def test_single_tensor_and_list_round_trip(tmp_path):
    t = lucid.arange(6, dtype="float32").reshape(2, 3)
    lucid.save(t, tmp_path / "t.safetensors")
    _assert_tensor_equal(lucid.load(tmp_path / "t.safetensors"), t)
    lucid.save([t, (1, "a")], tmp_path / "l.safetensors")
    out = lucid.load(tmp_path / "l.safetensors")
    _assert_tensor_equal(out[0], t)
    assert out[1] == (1, "a")


def test_parameters_non_contiguous_and_numpy_values(tmp_path):
    w = lucid.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    transposed = lucid.Tensor._wrap(w._data.T, "cpu")  # a strided view, not row-major
    state = {"w": w, "wt": transposed, "np": np.arange(4, dtype=np.int32), "f": np.float32(0.5)}
    lucid.save(state, tmp_path / "p.safetensors")
    loaded = lucid.load(tmp_path / "p.safetensors")
    np.testing.assert_array_equal(loaded["w"].numpy(), w.numpy())
    np.testing.assert_array_equal(loaded["wt"].numpy(), w.numpy().T)
    assert loaded["np"].dtype == lucid.int32 and loaded["np"].tolist() == [0, 1, 2, 3]
    assert loaded["f"] == 0.5 and not loaded["w"].requires_grad


def test_colliding_and_reserved_tensor_names(tmp_path):
    a, b, c = lucid.tensor([1.0]), lucid.tensor([2.0]), lucid.tensor([3.0])
    state = {"a.b": a, "a": {"b": b}, "__metadata__": c}
    lucid.save(state, tmp_path / "c.safetensors")
    loaded = lucid.load(tmp_path / "c.safetensors")
    assert loaded["a.b"].item() == 1.0 and loaded["a"]["b"].item() == 2.0
    assert loaded["__metadata__"].item() == 3.0


def test_file_is_standard_safetensors_not_pickle(tmp_path):
    path = tmp_path / "model.pt"
    state = _model_state()
    lucid.save(state, path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert raw[8:9] == b"{" and not raw.startswith((b"\x80", b"PK"))
    assert header["conv.weight"] == {"dtype": "F32", "shape": [4, 3, 3, 3],
                                     "data_offsets": header["conv.weight"]["data_offsets"]}
    assert header["bn.num_batches_tracked"]["dtype"] == "I64"
    assert header["emb.bf16"]["dtype"] == "BF16" and header["mask"]["dtype"] == "BOOL"
    assert header["__metadata__"]["format"] == "lucid"
    assert json.loads(header["__metadata__"]["lucid"])["version"] == serialization.FORMAT_VERSION


def test_a_torch_user_can_read_the_file(tmp_path):
    state = _model_state()
    path = tmp_path / "model.safetensors"
    lucid.save(state, path)
    no_bf16 = {k: v for k, v in state.items() if k != "emb.bf16"}  # NumPy has no bfloat16
    lucid.save(no_bf16, tmp_path / "nobf16.safetensors")
    arrays = safetensors.numpy.load_file(str(tmp_path / "nobf16.safetensors"))
    assert set(arrays) == set(no_bf16)
    for key, value in no_bf16.items():
        assert arrays[key].shape == value.shape
        np.testing.assert_array_equal(arrays[key], value.numpy())
    tensors = safetensors.torch.load_file(str(path))
    assert tensors["emb.bf16"].dtype == torch.bfloat16
    np.testing.assert_array_equal(tensors["emb.bf16"].float().numpy(), state["emb.bf16"].numpy())
    assert torch.equal(tensors["emb.bf16"], torch.tensor([1.5, -2.25, 3e-3], dtype=torch.bfloat16))
    assert tensors["bn.num_batches_tracked"].item() == 2**40 + 3
    module = torch.nn.Conv2d(3, 4, 3)
    module.load_state_dict({"weight": tensors["conv.weight"], "bias": tensors["conv.bias"]})
    np.testing.assert_array_equal(module.weight.detach().numpy(), state["conv.weight"].numpy())


def test_nested_tensors_are_named_by_their_path(tmp_path):
    sd = {"state": {0: {"exp_avg": lucid.ones(2)}}, "param_groups": [{"params": [0]}]}
    lucid.save(sd, tmp_path / "o.safetensors")
    assert list(safetensors.numpy.load_file(str(tmp_path / "o.safetensors"))) == ["state.0.exp_avg"]


def test_files_written_by_torch_load_as_a_flat_dict(tmp_path):
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file({"w": torch.arange(6.0).reshape(2, 3),
                                 "n": torch.tensor([5], dtype=torch.int64)}, str(path))
    loaded = lucid.load(path)
    assert set(loaded) == {"w", "n"} and loaded["w"].shape == (2, 3)
    np.testing.assert_array_equal(loaded["w"].numpy(), np.arange(6.0).reshape(2, 3))
    assert loaded["n"].dtype == lucid.int64


def test_device_argument(tmp_path):
    lucid.save({"x": lucid.ones(2)}, tmp_path / "d.safetensors")
    assert lucid.load(tmp_path / "d.safetensors", device="cpu")["x"].device == "cpu"
    assert lucid.load(tmp_path / "d.safetensors", map_location="cpu")["x"].device == "cpu"
    with pytest.raises(lucid.DeviceError):
        lucid.load(tmp_path / "d.safetensors", device="tpu")


@pytest.mark.skipif(not lucid.gpu_available(), reason="no MLX GPU on this machine")
def test_load_onto_the_gpu(tmp_path):
    lucid.save({"x": lucid.ones(2)}, tmp_path / "g.safetensors")
    x = lucid.load(tmp_path / "g.safetensors", device="gpu")["x"]
    assert x.device == "gpu" and (x + 1).tolist() == [2.0, 2.0]


# ----- atomic writes ----------------------------------------------------------------
def test_unsupported_object_leaves_previous_checkpoint_intact(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    lucid.save({"x": lucid.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match="cannot store an object of type .*Unpicklable"):
        lucid.save({"x": lucid.zeros(3), "bad": Unpicklable()}, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ckpt.safetensors"]


class Unpicklable:
    pass


def _failing_save(written: bytes, error: Exception):
    """A stand-in for ``mx.save_safetensors`` that writes ``written`` (the start of a file)
    into its target, then raises ``error``."""

    def save(file, arrays, metadata=None):
        with open(file, "wb") as f:
            f.write(written)
        raise error

    return save


def _assert_failed_save_keeps_the_old_file(tmp_path, monkeypatch, save, raises, match):
    """Saving over ``ckpt.safetensors`` through the failing ``save`` raises ``raises``
    (matching ``match``) and leaves the old file as it was, and nothing else, in the folder."""
    path = tmp_path / "ckpt.safetensors"
    lucid.save({"x": lucid.ones(3)}, path)
    before = path.read_bytes()
    monkeypatch.setattr(serialization.mx, "save_safetensors", save)
    with pytest.raises(raises, match=match):
        lucid.save({"x": lucid.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ckpt.safetensors"]


def test_failure_while_writing_leaves_no_partial_file(tmp_path, monkeypatch):
    failing_write = _failing_save(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"partial",  # half a header
                                  OSError("disk full"))
    _assert_failed_save_keeps_the_old_file(tmp_path, monkeypatch, failing_write, OSError,
                                           "disk full")
    lucid.save({"y": lucid.zeros(1)}, tmp_path / "new.safetensors")  # a fresh path works too
    with monkeypatch.context() as m:
        m.setattr(serialization.mx, "save_safetensors", failing_write)
        with pytest.raises(OSError):
            lucid.save({"x": lucid.zeros(3)}, tmp_path / "never.safetensors")
    assert not (tmp_path / "never.safetensors").exists()


def test_overwrite_replaces_the_file(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    lucid.save({"x": lucid.ones(3)}, path)
    lucid.save({"y": lucid.zeros(2)}, str(path))
    assert list(lucid.load(str(path))) == ["y"]


# ----- damaged files ----------------------------------------------------------------
@pytest.mark.parametrize("keep", [4, 30, -3], ids=["in-length", "in-header", "in-data"])
def test_truncated_file_raises_a_clear_error(tmp_path, keep):
    path = tmp_path / "ckpt.safetensors"
    lucid.save(_model_state(), path)
    raw = path.read_bytes()
    path.write_bytes(raw[:keep])
    with pytest.raises(CheckpointError, match="ckpt.safetensors.*(truncated|corrupted)"):
        lucid.load(path)


def test_corrupted_tensor_bytes_fail_the_checksum(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    lucid.save({"w": lucid.ones((8, 8)), "b": lucid.zeros(8)}, path)
    raw = bytearray(path.read_bytes())
    (n,) = struct.unpack("<Q", raw[:8])
    start, _ = json.loads(raw[8:8 + n])["b"]["data_offsets"]
    raw[8 + n + start + 5] ^= 0x40  # flip one bit inside tensor "b"
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="ckpt.safetensors.*corrupted.*'b'.*checksum"):
        lucid.load(path)


def test_garbage_and_damaged_header(tmp_path):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(b"this is not a checkpoint at all, just some text" * 3)
    with pytest.raises(CheckpointError, match="junk.safetensors"):
        lucid.load(path)
    good = tmp_path / "good.safetensors"
    lucid.save({"x": lucid.ones(1)}, good)
    raw = good.read_bytes()
    damaged = raw.replace(b'\\"version\\"', b'\\"versiom\\"').replace(b'\\"tree\\"', b'\\"trex\\"')
    (tmp_path / "bad.safetensors").write_bytes(damaged)
    with pytest.raises(CheckpointError, match="bad.safetensors.*damaged Lucid header"):
        lucid.load(tmp_path / "bad.safetensors")
    assert issubclass(CheckpointError, lucid.LucidError)


def test_missing_file_and_bad_path():
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        lucid.load("/nonexistent/dir/ckpt.safetensors")
    with pytest.raises(CheckpointError, match="path must be a str or os.PathLike"):
        lucid.save({}, 12)


def test_newer_format_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(serialization, "FORMAT_VERSION", 99)
    lucid.save({"x": 1}, tmp_path / "future.safetensors")
    monkeypatch.undo()
    with pytest.raises(CheckpointError, match="format 99"):
        lucid.load(tmp_path / "future.safetensors")
