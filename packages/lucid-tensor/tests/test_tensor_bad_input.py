"""Bad input to tensor creation, random draws and integer division: Lucid errors, no crash."""

from __future__ import annotations

import subprocess
import sys

import lucid
import numpy as np
import pytest
from lucid import creation
from lucid.errors import DTypeError, LucidError, ShapeError
from lucid.ops.arithmetic import IntegerDivisionByZeroError


@pytest.mark.parametrize("data", [["a"], [b"x"], np.array(["1", "2"]), [np.datetime64(1, "D")]])
def test_non_numeric_data_is_a_dtype_error_naming_it(data):
    with pytest.raises(DTypeError, match="cannot make a tensor from"):
        lucid.tensor(data)


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8, reason="long double is float64 here")
def test_numpy_dtype_without_lucid_equivalent_is_a_dtype_error():
    with pytest.raises(DTypeError, match="longdouble|float128|float96"):
        lucid.tensor(np.ones(2, np.longdouble))


@pytest.mark.parametrize(
    "make",
    [
        lambda: lucid.zeros(2.5, 3),
        lambda: lucid.ones(1e5, 1e5),
        lambda: lucid.full((2, 2.5), 1.0),
        lambda: lucid.randn(3, "4"),
        lambda: lucid.rand((2, None)),
        lambda: lucid.empty(True, 2),
        lambda: lucid.eye(2.0),
        lambda: lucid.linspace(0, 1, 4.5),
    ],
)
def test_sizes_must_be_ints(make):
    with pytest.raises(lucid.ArgumentTypeError, match="sizes must be ints"):
        make()


def test_negative_size_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"negative size -1 in \(2, -1\)"):
        lucid.zeros(2, -1)


@pytest.mark.parametrize(
    "make",
    [
        lambda: lucid.zeros(10**6, 10**6),
        lambda: lucid.ones(10**6, 10**6, dtype=lucid.int64),
        lambda: lucid.full((10**6, 10**6), 2.0),
        lambda: lucid.randn(10**6, 10**6),
        lambda: lucid.rand(10**6, 10**6),
        lambda: lucid.randint(0, 5, (10**6, 10**6)),
        lambda: lucid.eye(10**7),
        lambda: lucid.arange(3 * 10**9),
    ],
)
def test_oversized_tensor_is_a_lucid_memory_error(make):
    with pytest.raises(creation.TensorTooLargeError) as info:
        make()
    assert isinstance(info.value, (LucidError, MemoryError))
    assert isinstance(info.value, MemoryError) and isinstance(info.value, ShapeError)
    text = str(info.value)
    assert "bytes" in text or "2**31" in text


def test_size_error_names_shape_and_bytes():
    with pytest.raises(MemoryError, match=r"\(1000000, 1000000\).*4,000,000,000,000 bytes"):
        lucid.zeros(10**6, 10**6)


def test_oversized_reduction_does_not_kill_the_process():
    code = (
        "import lucid\n"
        "try:\n"
        "    lucid.zeros(10**6, 10**6).sum().item()\n"
        "except MemoryError as e:\n"
        "    print('refused', type(e).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "refused TensorTooLargeError" in out.stdout


def test_sizes_that_fit_still_work():
    assert lucid.zeros(np.int64(2), 3).shape == (2, 3)
    assert lucid.full(4, 1).shape == (4,)
    assert lucid.randn((2, 0)).shape == (2, 0)
    assert lucid.eye(3, 2).shape == (3, 2)
    assert lucid.arange(0, 1, 0.25).shape == (4,)
    assert lucid.randint(3, size=5).shape == (5,)


@pytest.mark.parametrize("low, high", [(5, 1), (3, 3), (0, 0)])
def test_randint_needs_low_below_high(low, high):
    with pytest.raises(creation.ArgumentError, match=f"low={low} >= high={high}"):
        lucid.randint(low, high, (3,))


def test_randint_bounds_must_be_ints():
    with pytest.raises(lucid.ArgumentTypeError, match="high must be an int") as info:
        lucid.randint(0, 2.5, (3,))
    assert isinstance(info.value, TypeError)


@pytest.mark.parametrize(
    "compute",
    [
        lambda: lucid.tensor([5, 6]) // 0,
        lambda: lucid.tensor([5, 6]) // lucid.tensor([1, 0]),
        lambda: 7 // lucid.tensor([0, 2]),
        lambda: lucid.floor_divide(lucid.tensor([5], dtype=lucid.int32), lucid.tensor(0)),
    ],
)
def test_integer_floor_division_by_zero_raises(compute):
    with pytest.raises(IntegerDivisionByZeroError, match="floor_divide: integer division by zero"):
        compute()
    assert issubclass(IntegerDivisionByZeroError, (LucidError, ZeroDivisionError))


@pytest.mark.parametrize(
    "compute",
    [
        lambda: lucid.tensor([5, 6]) % 0,
        lambda: lucid.tensor([5, 6]) % lucid.tensor([1, 0]),
        lambda: 7 % lucid.tensor([0, 2]),
        lambda: lucid.remainder(lucid.tensor([5], dtype=lucid.int32), lucid.tensor(0)),
    ],
)
def test_integer_remainder_by_zero_raises(compute):
    """PyTorch raises ZeroDivisionError; MLX would return a value."""
    with pytest.raises(IntegerDivisionByZeroError, match="remainder: integer division by zero"):
        compute()


def test_float_remainder_by_zero_is_nan_and_ints_still_divide():
    assert np.isnan(lucid.tensor([5.0]) % 0).all().item()
    assert (lucid.tensor([7, -7]) % 3).tolist() == [1, 2]


def test_inplace_integer_floor_division_by_zero_raises():
    t = lucid.tensor([5, 6])
    with pytest.raises(ZeroDivisionError):
        t //= 0


def test_float_floor_division_by_zero_follows_ieee_and_ints_still_divide():
    torch = pytest.importorskip("torch")
    a, b = np.array([5.0, -5.0, 0.0], np.float32), np.array([0.0, 0.0, 0.0], np.float32)
    got = (lucid.tensor(a) // lucid.tensor(b)).numpy()
    want = (torch.tensor(a) // torch.tensor(b)).numpy()
    np.testing.assert_array_equal(got, want)
    x, y = np.array([7, -7, 9]), np.array([2, 2, -4])
    np.testing.assert_array_equal((lucid.tensor(x) // lucid.tensor(y)).numpy(),
                                  (torch.tensor(x) // torch.tensor(y)).numpy())
