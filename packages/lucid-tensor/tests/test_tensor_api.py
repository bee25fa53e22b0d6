"""The Tensor's attributes and conversions, devices, dtype casts and in-place updates."""

import lucid
import numpy as np
import pytest
import torch
from lucid import DeviceError, GradError, ShapeError
from lucid.function import common_device
from tensor_parity import assert_close, randn

# ----- attributes --------------------------------------------------------------------


def test_basic_attributes():
    import mlx.core as mx

    t = lucid.tensor(randn(2, 3, 4))
    assert t.shape == (2, 3, 4) and isinstance(t.shape, tuple)
    assert t.ndim == 3 and t.dim() == 3 and len(t) == 2 and t.numel() == 24
    assert t.dtype == lucid.float32 and t.dtype_name == "float32"
    assert t.device == "cpu"
    assert isinstance(t._data, mx.array) and t._data.shape == (2, 3, 4)
    assert isinstance(t.data, lucid.Tensor) and t.data.shape == (2, 3, 4)
    assert t.grad is None and t.requires_grad is False and t.is_leaf and t.grad_fn is None


def test_size_is_an_int_and_callable():
    t = lucid.zeros(4, 5)
    assert t.size == 20 and isinstance(t.size, int)
    assert t.size + 1 == 21 and 3.0 * t.size == 60.0  # used as a count: total += y.size
    assert t.size(0) == 4 and t.size(1) == 5 and t.size(-1) == 5
    assert t.size() == (4, 5)
    assert lucid.tensor(3.0).size == 1 and lucid.zeros(0, 3).size == 0


def test_seed_style_reads_of_a_loss():
    """``float(loss.data)``, ``loss.item()``, ``int((preds == y).sum().data)``."""
    loss = (lucid.tensor([0.5, 1.5]) * 2).mean()
    loss.eval()
    assert float(loss.data) == 2.0 and loss.item() == 2.0 and float(loss) == 2.0
    preds = lucid.tensor([1, 2, 3, 0])
    y = lucid.tensor([1, 0, 3, 0])
    assert int((preds == y).sum().data) == 3 and int((preds == y).sum()) == 3


def test_grad_after_backward_is_a_tensor():
    x = lucid.tensor([1.0, -2.0], requires_grad=True)
    y = (x * x).sum()
    assert y.requires_grad and not y.is_leaf and y.grad_fn is not None
    y.backward()
    assert isinstance(x.grad, lucid.Tensor) and x.grad.shape == (2,)
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, -4.0])


# ----- reading values ----------------------------------------------------------------


@pytest.mark.parametrize(
    "data, kind", [(2.5, float), ([[7]], int), (True, bool), (np.float32([-1.0]), float)]
)
def test_item_and_python_scalars_on_one_element(data, kind):
    t = lucid.tensor(data)
    v = t.item()
    assert type(v) is kind and v == np.asarray(data).ravel()[0]
    assert float(t) == float(v) and int(t) == int(v) and bool(t) == bool(v)


def test_scalar_conversions_on_many_elements_raise():
    t = lucid.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"item\(\) needs a tensor with one element.*\(2,\)"):
        t.item()
    with pytest.raises(ValueError, match="one element"):
        float(t)
    with pytest.raises(ValueError, match="one element"):
        int(t)
    with pytest.raises(ValueError, match="truth value of a tensor with 2 elements is ambiguous"):
        bool(t)
    with pytest.raises(ValueError, match="one element"):
        lucid.zeros(0).item()


def test_numpy_and_array_protocol():
    a = randn(3, 2)
    t = lucid.tensor(a)
    out = t.numpy()
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out, a)
    np.testing.assert_array_equal(np.asarray(t), a)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.array(lucid.tensor([1, 2])).dtype == np.int64
    assert lucid.tensor([1.0, 2.0], dtype=lucid.bfloat16).numpy().dtype == np.float32
    assert t.tolist() == a.tolist()


def test_detach_stops_the_gradient():
    x = lucid.tensor([1.0, 2.0, 3.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    np.testing.assert_array_equal(d.numpy(), x.numpy())
    (d * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 3.0])  # not 2x


def test_eval_returns_the_tensor_with_its_values():
    t = lucid.tensor([1.0, 2.0]) + 1
    assert t.eval() is t
    np.testing.assert_array_equal(t.numpy(), [2.0, 3.0])


def test_repr():
    assert repr(lucid.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(lucid.tensor([1, 2])) == "tensor([1, 2])"
    assert "dtype=int32" in repr(lucid.tensor([1, 2], dtype=lucid.int32))
    assert "dtype=float16" in repr(lucid.tensor([1.0], dtype=lucid.float16))
    assert repr(lucid.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    y = lucid.tensor([1.0], requires_grad=True) * 2
    assert "grad_fn=<" in repr(y) and "mul" in repr(y)


# ----- dtype casts -------------------------------------------------------------------


CASTS = [
    (lambda t: t.float(), lambda t: t.float(), "float32"),
    (lambda t: t.long(), lambda t: t.long(), "int64"),
    (lambda t: t.int(), lambda t: t.int(), "int32"),
    (lambda t: t.half(), lambda t: t.half(), "float16"),
    (lambda t: t.bool(), lambda t: t.bool(), "bool"),
    (lambda t: t.to(lucid.int64), lambda t: t.to(torch.int64), "int64"),
    (lambda t: t.to(dtype=lucid.float16), lambda t: t.to(dtype=torch.float16), "float16"),
    (lambda t: t.to("cpu", lucid.int64), lambda t: t.to("cpu", torch.int64), "int64"),
    (lambda t: t.type(lucid.int32), lambda t: t.type(torch.int32), "int32"),
    (lambda t: t.to(lucid.bfloat16), lambda t: t.to(torch.bfloat16), "bfloat16"),
    (lambda t: t.astype(lucid.Int64), lambda t: t.long(), "int64"),
]


@pytest.mark.parametrize("cast, torch_cast, name", CASTS, ids=[c[2] for c in CASTS])
def test_casts_match_torch(cast, torch_cast, name):
    a = np.array([[1.7, -2.2, 0.0]], dtype=np.float32)
    out = cast(lucid.tensor(a))
    assert out.dtype_name == name and out.shape == (1, 3)
    assert_close(out, torch_cast(torch.from_numpy(a)))


def test_cast_is_differentiable_and_grad_keeps_input_dtype():
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(lucid.float16)
    assert y.requires_grad and y.dtype == lucid.float16
    (y * 3).sum().backward()
    assert x.grad.dtype == lucid.float32
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_to_same_dtype_and_device_is_a_no_op():
    t = lucid.tensor([1.0, 2.0])
    assert t.to("cpu") is t and t.to(lucid.float32) is t and t.cpu() is t
    assert t.to(device="cpu", dtype=lucid.float32) is t


def test_long_labels_from_floats():
    assert lucid.tensor([0.0, 3.0]).long().tolist() == [0, 3]


# ----- devices -----------------------------------------------------------------------


def test_default_device_is_cpu():
    assert lucid.get_default_device() == "cpu"
    assert lucid.zeros(2).device == "cpu" and lucid.tensor([1]).device == "cpu"
    assert lucid.tensor([1], device="cpu").device == "cpu"


@pytest.mark.skipif(lucid.gpu_available(), reason="this machine has a GPU for MLX")
@pytest.mark.parametrize(
    "make",
    [lambda: lucid.tensor([1.0], device="gpu"), lambda: lucid.zeros(2, device="cuda"),
     lambda: lucid.randn(2, device="mps"), lambda: lucid.tensor([1.0]).to("gpu"),
     lambda: lucid.tensor([1.0]).cuda(), lambda: lucid.tensor([1.0]).gpu(),
     lambda: lucid.set_default_device("gpu")],
)
def test_gpu_without_a_gpu_raises_a_clear_error(make):
    with pytest.raises(DeviceError, match="'gpu' was asked for but MLX has no GPU here"):
        make()
    assert lucid.get_default_device() == "cpu"


def test_unknown_device_raises():
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        lucid.tensor([1.0], device="tpu")
    with pytest.raises(RuntimeError):  # DeviceError is also a RuntimeError
        lucid.zeros(1, device="tpu")


@pytest.mark.skipif(not lucid.gpu_available(), reason="MLX has no GPU on this machine")
def test_gpu_round_trip_and_gradient():
    a = randn(3, 4)
    x = lucid.tensor(a, requires_grad=True)
    g = x.to("gpu")
    assert g.device == "gpu"
    y = (g * g).sum()
    assert y.device == "gpu"
    y.backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), 2 * a, rtol=1e-5)
    np.testing.assert_allclose(g.cpu().numpy(), a)


def _fake_gpu(values) -> lucid.Tensor:
    """A tensor labelled as living on the GPU (its device is checked before anything runs)."""
    return lucid.Tensor._wrap(lucid.tensor(values)._data, "gpu")


def test_ops_on_different_devices_raise():
    cpu, gpu = lucid.tensor([1.0, 2.0]), _fake_gpu([3.0, 4.0])
    with pytest.raises(DeviceError, match=r"add: tensors are on different devices.*cpu.*gpu.*\.to"):
        cpu + gpu
    with pytest.raises(DeviceError, match="mul: tensors are on different devices"):
        gpu * cpu
    with pytest.raises(DeviceError, match="concatenate: tensors are on different devices"):
        lucid.cat([cpu, gpu])
    with pytest.raises(DeviceError, match="stack: tensors are on different devices"):
        lucid.stack([cpu, gpu])


def test_common_device():
    cpu = lucid.tensor([1.0])
    assert common_device("op", [cpu, lucid.zeros(2)]) == "cpu"
    assert common_device("op", []) == lucid.get_default_device()
    with pytest.raises(DeviceError, match="myop: tensors are on different devices"):
        common_device("myop", [cpu, _fake_gpu([1.0])])


# ----- in-place updates --------------------------------------------------------------

INPLACE = [
    ("add_", lambda t: t.add_(lucid.tensor([1.0, 2.0, 3.0])), [2.0, 4.0, 6.0]),
    ("add_", lambda t: t.add_(1.0, alpha=2), [3.0, 4.0, 5.0]),
    ("sub_", lambda t: t.sub_(1.0), [0.0, 1.0, 2.0]),
    ("mul_", lambda t: t.mul_(2.0), [2.0, 4.0, 6.0]),
    ("div_", lambda t: t.div_(lucid.tensor([1.0, 2.0, 4.0])), [1.0, 1.0, 0.75]),
    ("zero_", lambda t: t.zero_(), [0.0, 0.0, 0.0]),
    ("fill_", lambda t: t.fill_(7.5), [7.5, 7.5, 7.5]),
    ("copy_", lambda t: t.copy_(lucid.tensor([9.0, 8.0, 7.0])), [9.0, 8.0, 7.0]),
    ("copy_", lambda t: t.copy_(np.array([4.0, 5.0, 6.0])), [4.0, 5.0, 6.0]),
    ("clamp_", lambda t: t.clamp_(1.5, 2.5), [1.5, 2.0, 2.5]),
]


@pytest.mark.parametrize("name, update, expected", INPLACE, ids=[n for n, _, _ in INPLACE])
def test_inplace_on_a_leaf_under_no_grad(name, update, expected):
    w = lucid.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with lucid.no_grad():
        out = update(w)
    assert out is w and w.requires_grad and w.is_leaf and w.dtype == lucid.float32
    np.testing.assert_allclose(w.numpy(), expected)
    (w * 2).sum().backward()  # still a working leaf
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 2.0, 2.0])


@pytest.mark.parametrize("name, update, expected", INPLACE, ids=[n for n, _, _ in INPLACE])
def test_inplace_on_a_leaf_with_grad_raises(name, update, expected):
    w = lucid.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(GradError, match=rf"{name}: in-place update.*requires grad.*no_grad"):
        update(w)
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0, 3.0])


@pytest.mark.parametrize("name, update, expected", INPLACE, ids=[n for n, _, _ in INPLACE])
def test_inplace_on_a_plain_tensor_needs_no_no_grad(name, update, expected):
    t = lucid.tensor([1.0, 2.0, 3.0])
    update(t)
    np.testing.assert_allclose(t.numpy(), expected)


def test_inplace_keeps_integer_dtype():
    t = lucid.tensor([1, 2, 3])
    t.mul_(2)
    t.fill_(4)
    assert t.dtype == lucid.int64 and t.tolist() == [4, 4, 4]


def test_inplace_on_a_non_leaf_is_recorded():
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert y.mul_(3.0) is y and not y.is_leaf
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])


def test_copy_shape_mismatch_raises():
    with pytest.raises(ShapeError, match=r"copy_.*\(2,\).*\(3,\)"):
        lucid.zeros(3).copy_(lucid.zeros(2))


SETITEMS = [
    (1, 5.0),
    ((slice(None), 0), np.array([1.0, 2.0, 3.0], dtype=np.float32)),
    ((slice(0, 2), slice(1, None)), -1.0),
    (Ellipsis, 0.0),
    ([0, 2], np.array([7.0, 8.0, 9.0, 10.0], dtype=np.float32)),
    ((slice(None), [3, 1]), 4.0),
    (np.array([True, False, True]), 2.0),
    ((1, -1), 3.0),
]


@pytest.mark.parametrize("index, value", SETITEMS, ids=[repr(i) for i, _ in SETITEMS])
def test_setitem_matches_numpy_and_torch(index, value):
    a = randn(3, 4)
    expected = a.copy()
    expected[index] = value
    t = lucid.tensor(a)
    t[index] = value
    np.testing.assert_array_equal(t.numpy(), expected)
    ref = torch.from_numpy(a.copy())
    tindex = torch.from_numpy(index) if isinstance(index, np.ndarray) else index
    ref[tindex] = torch.as_tensor(value)
    assert_close(t, ref)


def test_setitem_with_a_tensor_value_and_index():
    t = lucid.zeros(2, 3)
    t[lucid.tensor([1])] = lucid.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(t.numpy(), [[0, 0, 0], [1, 2, 3]])
    t[t > 1.5] = 0.0
    np.testing.assert_array_equal(t.numpy(), [[0, 0, 0], [1, 0, 0]])


def test_setitem_on_a_leaf_needs_no_grad():
    w = lucid.zeros(2, 2, requires_grad=True)
    with pytest.raises(GradError, match="__setitem__: in-place update"):
        w[0] = 1.0
    with lucid.no_grad():
        w[0, 1] = 1.0
    np.testing.assert_array_equal(w.numpy(), [[0, 1], [0, 0]])
    assert w.requires_grad and w.is_leaf


def test_setitem_out_of_range_raises():
    t = lucid.zeros(2, 2)
    with pytest.raises(lucid.LucidIndexError, match=r"index 2 is out of range for axis 0"):
        t[2] = 1.0


def test_lucid_tensor_is_the_function_whatever_was_imported_first():
    """``lucid.tensor`` is the creation function even when an engine module was imported
    before any engine name (no module of that name can shadow it)."""
    import subprocess
    import sys

    code = ("import lucid\nfrom lucid import autograd\nimport lucid.ops\n"
            "print(lucid.tensor([1.0, 2.0]).sum().item())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3.0"
