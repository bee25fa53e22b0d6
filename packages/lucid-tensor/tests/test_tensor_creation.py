"""Creating tensors: from data, constants, ranges, random draws; dtypes and seeding."""

import lucid
import numpy as np
import pytest
import torch
from lucid import DTypeError
from tensor_parity import assert_close

# ----- lucid.tensor and dtypes -------------------------------------------------------


@pytest.mark.parametrize(
    "data, dtype_name",
    [
        ([1, 2, 3], "int64"),  # Python ints -> int64, as PyTorch
        ([[1.0, 2.0]], "float32"),  # Python floats -> float32
        ([1, 2.5], "float32"),
        (3.5, "float32"),
        (7, "int64"),
        ([True, False], "bool"),
        (np.arange(4, dtype=np.float64), "float32"),  # float64 NumPy -> float32
        (np.arange(4, dtype=np.float32), "float32"),
        (np.arange(4, dtype=np.int32), "int32"),
        (np.arange(4, dtype=np.int64), "int64"),
        (np.zeros((2, 0)), "float32"),
    ],
)
def test_tensor_infers_dtype_and_keeps_values(data, dtype_name):
    t = lucid.tensor(data)
    assert t.dtype_name == dtype_name
    expected = np.asarray(data)
    assert t.shape == expected.shape
    np.testing.assert_array_equal(t.numpy(), expected.astype(t.numpy().dtype))


def test_python_scalars_and_lists_match_torch_dtypes():
    for data in ([1, 2], [1.0, 2.0], [True], 5, 2.0):
        assert_close(lucid.tensor(data), torch.tensor(data))


@pytest.mark.parametrize(
    "dtype, name",
    [
        (lucid.Float32, "float32"), (lucid.float32, "float32"), ("float32", "float32"),
        (lucid.Int64, "int64"), (lucid.int64, "int64"), (lucid.long, "int64"),
        (lucid.Int32, "int32"), (lucid.int32, "int32"), (lucid.Float16, "float16"),
        (lucid.half, "float16"), (lucid.BFloat16, "bfloat16"), (lucid.Bool, "bool"),
        (lucid.bool_, "bool"), (np.float32, "float32"), (np.int64, "int64"),
        (torch.float32, "float32"), (torch.int64, "int64"), ("long", "int64"),
    ],
)
def test_dtype_argument_spellings(dtype, name):
    t = lucid.tensor([1.0, 2.0, 3.0], dtype=dtype)
    assert t.dtype_name == name
    np.testing.assert_array_equal(t.numpy(), np.array([1, 2, 3]).astype(t.numpy().dtype))


def test_seed_style_conversion_of_a_batch():
    """The seed's loop: NumPy batch -> lucid.tensor(..., dtype=lucid.Float32 / Int64)."""
    images = np.random.default_rng(0).random((4, 3, 8, 8))  # float64
    labels = np.array([3, 1, 0, 9], dtype=np.int64)
    x = lucid.tensor(images, dtype=lucid.Float32, device="cpu")
    y = lucid.tensor(labels, dtype=lucid.Int64, device="cpu")
    assert x.dtype == lucid.float32 and x.shape == (4, 3, 8, 8) and x.device == "cpu"
    assert y.dtype == lucid.int64 and y.tolist() == [3, 1, 0, 9]
    np.testing.assert_allclose(x.numpy(), images.astype(np.float32))


def test_float_to_int_dtype_truncates_like_torch():
    assert_close(lucid.tensor([1.7, -2.7], dtype=lucid.int64),
                 torch.tensor([1.7, -2.7], dtype=torch.int64))


def test_tensor_from_tensor_is_a_new_leaf():
    a = lucid.tensor([1.0, 2.0], requires_grad=True)
    b = lucid.tensor(a)
    assert not b.requires_grad and b.is_leaf
    with lucid.no_grad():
        b.add_(1.0)
    np.testing.assert_array_equal(a.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(b.numpy(), [2.0, 3.0])


def test_as_tensor_and_from_numpy():
    a = lucid.tensor([1.0, 2.0])
    assert lucid.as_tensor(a) is a
    assert lucid.as_tensor(a, dtype=lucid.int64).dtype == lucid.int64
    f = lucid.from_numpy(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert f.shape == (2, 3) and f.dtype == lucid.float32


def test_requires_grad_at_creation():
    t = lucid.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad is None
    (t * t).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [2.0, 4.0])


def test_creation_errors():
    with pytest.raises(DTypeError, match="floating-point.*int64"):
        lucid.tensor([1, 2], requires_grad=True)
    with pytest.raises(DTypeError, match="unknown dtype 'float99'"):
        lucid.tensor([1.0], dtype="float99")
    with pytest.raises(ValueError):  # a ragged nested list has no shape
        lucid.tensor([[1, 2], [3]])
    with pytest.raises(DTypeError, match="mixed objects"):
        lucid.tensor(np.array([1, "a", None], dtype=object))
    with pytest.raises(TypeError):  # DTypeError is also a TypeError
        lucid.zeros(2, dtype="nope")


# ----- constants ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["zeros", "ones", "empty"])
@pytest.mark.parametrize("shape", [(2, 3), (0, 4), (5,), ()])
def test_zeros_ones_empty_match_torch_shape_and_dtype(name, shape):
    for args in ((shape,), shape) if shape else ((shape,),):
        out = getattr(lucid, name)(*args)
        ref = getattr(torch, name)(*args)
        assert out.shape == tuple(ref.shape) and out.dtype_name == "float32"
        if name != "empty":
            assert_close(out, ref)
    assert getattr(lucid, name)(2, 3, dtype=lucid.int64).dtype == lucid.int64


def test_constants_with_requires_grad():
    w = lucid.zeros(2, 3, requires_grad=True)
    assert w.requires_grad and w.is_leaf
    (w + 1).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.ones((2, 3)))


@pytest.mark.parametrize("fill", [3, 2.5, True, -1])
def test_full_matches_torch(fill):
    assert_close(lucid.full((2, 3), fill), torch.full((2, 3), fill))
    assert_close(lucid.full(4, fill), torch.full((4,), fill))
    assert lucid.full((2,), fill, dtype=lucid.float32).dtype == lucid.float32


@pytest.mark.parametrize("dtype", [None, lucid.int64, lucid.float16])
def test_like_functions_keep_shape_dtype_and_device(dtype):
    src = lucid.tensor(np.arange(6, dtype=np.int32).reshape(2, 3))
    for fn, value in ((lucid.zeros_like, 0), (lucid.ones_like, 1), (lucid.empty_like, None)):
        out = fn(src, dtype=dtype)
        assert out.shape == (2, 3) and out.device == src.device
        assert out.dtype == (dtype or lucid.int32)
        if value is not None:
            assert (out.numpy() == value).all()
    out = lucid.full_like(src, 7, dtype=dtype)
    assert out.dtype == (dtype or lucid.int32) and (out.numpy() == 7).all()
    assert lucid.zeros_like(lucid.zeros(2, 2), requires_grad=True).requires_grad


# ----- ranges ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [(5,), (2, 7), (1, 10, 3), (10, 0, -2), (0.0, 1.0, 0.25), (0, 1, 0.3), (3, 3), (-1.5, 2)],
)
def test_arange_matches_torch(args):
    assert_close(lucid.arange(*args), torch.arange(*args))


def test_arange_with_dtype():
    assert_close(lucid.arange(4, dtype=lucid.float32), torch.arange(4, dtype=torch.float32))
    assert lucid.arange(0, 6, 2, dtype=lucid.int32).tolist() == [0, 2, 4]


@pytest.mark.parametrize("args", [(0, 1, 5), (-2, 3, 11), (1, 1, 3), (0, 1, 1), (0, 10, 0)])
def test_linspace_matches_torch(args):
    assert_close(lucid.linspace(*args), torch.linspace(*args), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("args", [(3,), (2, 4), (4, 2), (0,)])
def test_eye_matches_torch(args):
    assert_close(lucid.eye(*args), torch.eye(*args))
    assert lucid.eye(*args, dtype=lucid.int64).dtype == lucid.int64


# ----- random ------------------------------------------------------------------------


def test_randn_shape_dtype_and_moments():
    x = lucid.randn(200, 50)
    assert x.shape == (200, 50) and x.dtype == lucid.float32 and x.device == "cpu"
    v = x.numpy()
    assert abs(v.mean()) < 0.05 and abs(v.std() - 1.0) < 0.05
    assert lucid.randn((3, 2)).shape == (3, 2)
    assert lucid.randn(2, dtype=lucid.float16).dtype == lucid.float16


def test_rand_is_uniform_on_unit_interval():
    v = lucid.rand(100, 100).numpy()
    assert v.min() >= 0.0 and v.max() < 1.0
    assert abs(v.mean() - 0.5) < 0.02
    assert lucid.rand((4,)).shape == (4,)


def test_randint_range_and_dtype():
    x = lucid.randint(3, 7, (50, 4))
    assert x.shape == (50, 4) and x.dtype == lucid.int64
    v = x.numpy()
    assert v.min() >= 3 and v.max() < 7 and set(np.unique(v)) == {3, 4, 5, 6}
    y = lucid.randint(5, size=(100,))
    assert y.numpy().min() >= 0 and y.numpy().max() < 5
    assert lucid.randint(0, 2, 8).shape == (8,)


def test_random_requires_grad_flag():
    w = lucid.randn(3, requires_grad=True)
    assert w.requires_grad and w.is_leaf


@pytest.mark.parametrize("seed_fn", [lucid.random.seed, lucid.manual_seed, lucid.seed])
def test_seeding_makes_draws_reproducible(seed_fn):
    seed_fn(123)
    a = (lucid.randn(4, 3).numpy(), lucid.rand(5).numpy(), lucid.randint(0, 100, (6,)).numpy())
    seed_fn(123)
    b = (lucid.randn(4, 3).numpy(), lucid.rand(5).numpy(), lucid.randint(0, 100, (6,)).numpy())
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    seed_fn(124)
    assert not np.array_equal(lucid.randn(4, 3).numpy(), a[0])


def test_consecutive_draws_differ():
    lucid.manual_seed(0)
    assert not np.array_equal(lucid.randn(8).numpy(), lucid.randn(8).numpy())
