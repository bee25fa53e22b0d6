"""Binary arithmetic against PyTorch: + - * / // % ** @, reflected forms, broadcasting."""

import operator

import lucid
import numpy as np
import pytest
import torch
from tensor_parity import check_forward, check_op, positive, randint, randn

OPS = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv,
}

BROADCAST_PAIRS = [
    ((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((4,), (2, 3, 4)),
    ((), (3, 2)), ((1,), (5,)), ((2, 0, 3), (3,)),
]


@pytest.mark.parametrize("xs,ys", BROADCAST_PAIRS)
@pytest.mark.parametrize("name", sorted(OPS))
def test_binary_ops_broadcast(name, xs, ys):
    f = OPS[name]
    y = positive(*ys, seed=2) if name == "div" else randn(*ys, seed=2)
    check_op(f, f, randn(*xs, seed=1), y)


@pytest.mark.parametrize("name", sorted(OPS))
def test_functions_and_methods(name):
    x, y = randn(3, 4, seed=1), positive(4, seed=2)
    check_op(getattr(lucid, name), getattr(torch, name), x, y)
    check_op(lambda a, b: getattr(a, name)(b), lambda a, b: getattr(a, name)(b), x, y)


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("scalar", [2, 0.5, -3.0])
def test_scalar_operands_and_reflected_forms(name, scalar):
    f = OPS[name]
    x = positive(3, 4)
    check_op(lambda t: f(t, scalar), lambda t: f(t, scalar), x)
    check_op(lambda t: f(scalar, t), lambda t: f(scalar, t), x)


def test_negation():
    check_op(lambda t: -t, lambda t: -t, randn(3, 4))
    check_op(lucid.neg, torch.neg, randn(5))


def test_numpy_array_operands_on_either_side():
    x, a = randn(3, 4, seed=1), randn(4, seed=2)
    check_op(lambda t: t * a, lambda t: t * torch.from_numpy(a), x)
    check_op(lambda t: a - t, lambda t: torch.from_numpy(a) - t, x)
    assert isinstance(a + lucid.tensor(x), lucid.Tensor)


def test_same_tensor_on_both_sides():
    check_op(lambda t: t * t + t / (t * t + 1), lambda t: t * t + t / (t * t + 1), randn(3, 3))


# ----- floor division and remainder --------------------------------------------------
def test_floor_divide_and_remainder_follow_python_signs_like_torch():
    a = np.array([-7, -3, 3, 7, 0], np.int64)
    b = np.array([2, -2, 2, -2, 3], np.int64)
    for f in (operator.floordiv, operator.mod):
        check_forward(f, f, a, b)
        check_forward(f, f, a.astype(np.float32), b.astype(np.float32))
    check_forward(lambda t: t // 2, lambda t: t // 2, a)
    check_forward(lambda t: 7 // t, lambda t: 7 // t, b)
    check_forward(lambda t: 7 % t, lambda t: 7 % t, b)
    check_forward(lucid.floor_divide, torch.floor_divide, a, b)


def test_remainder_gradients():
    x, y = randn(3, 4, seed=1) * 3, positive(4, seed=2)
    check_op(lambda a, b: a % b, lambda a, b: a % b, x, y)
    check_op(lucid.remainder, torch.remainder, x, y)
    check_op(lambda a: a % 0.7, lambda a: a % 0.7, x)


def test_floor_divide_records_no_graph():
    x = lucid.tensor([3.0, 5.0], requires_grad=True)
    assert not (x // 2).requires_grad


# ----- integer and mixed dtypes ------------------------------------------------------
@pytest.mark.parametrize("name", sorted(OPS))
def test_integer_tensors_promote_like_torch(name):
    f = OPS[name]
    a, b = randint(1, 9, 3, 4, seed=1), randint(1, 9, 4, seed=2)
    check_forward(f, f, a, b)  # int64 result, except true division: float32
    check_forward(lambda t: f(t, 2), lambda t: f(t, 2), a)
    check_forward(lambda t: f(t, 1.5), lambda t: f(t, 1.5), a)


def test_integer_power():
    a = randint(-3, 4, 6)
    check_forward(lambda t: t**2, lambda t: t**2, a)
    check_forward(lambda t: t**3, lambda t: t**3, a)


def test_float16_stays_float16_with_python_scalars():
    x = randn(4).astype(np.float16)
    out, _ = check_op(lambda t: t * 2.5 + 1, lambda t: t * 2.5 + 1, x, rtol=1e-3, atol=1e-3)
    assert out.dtype == lucid.float16


# ----- powers -----------------------------------------------------------------------
@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1, -1.5, 0, 1])
def test_power_with_a_number_exponent(exponent):
    check_op(lambda t: t**exponent, lambda t: t**exponent, positive(3, 4))


def test_power_with_a_tensor_exponent_gets_both_gradients():
    check_op(lambda a, b: a**b, lambda a, b: a**b, positive(3, 4, seed=1), randn(4, seed=2))
    check_op(lucid.pow, torch.pow, positive(2, 3, seed=1), randn(2, 1, seed=2))


def test_reflected_power():
    check_op(lambda t: 2**t, lambda t: 2**t, randn(3, 4))
    check_op(lambda t: 0.5**t, lambda t: 0.5**t, randn(5))


def test_square_of_negative_values_and_zero():
    check_op(lambda t: t**2, lambda t: t**2, np.array([-2.0, 0.0, 3.0], np.float32))


def test_power_exponent_gradient_at_zero_base_is_zero_like_torch():
    x = np.array([0.0, 1.0, 2.0], np.float32)
    y = np.array([2.0, 2.0, 2.0], np.float32)
    check_op(lambda a, b: a**b, lambda a, b: a**b, x, y)


# ----- matmul -----------------------------------------------------------------------
MATMUL_SHAPES = [
    ((3, 4), (4, 5)),  # matrix @ matrix
    ((4,), (4,)),  # dot product -> scalar
    ((3, 4), (4,)),  # matrix @ vector
    ((4,), (4, 5)),  # vector @ matrix
    ((2, 3, 4), (4, 5)),  # batch @ matrix
    ((3, 4), (2, 4, 5)),  # matrix @ batch
    ((2, 3, 4), (2, 4, 5)),  # batch @ batch
    ((2, 1, 3, 4), (5, 4, 2)),  # broadcast batch dims
    ((2, 3, 4), (4,)),  # batch @ vector
    ((4,), (2, 4, 5)),  # vector @ batch
    ((1, 4), (4, 1)),
    ((3, 0), (0, 2)),  # empty inner dimension -> zeros
]


@pytest.mark.parametrize("xs,ys", MATMUL_SHAPES)
def test_matmul_shapes_and_gradients(xs, ys):
    x, y = randn(*xs, seed=1), randn(*ys, seed=2)
    check_op(lambda a, b: a @ b, lambda a, b: a @ b, x, y)


def test_matmul_function_and_method():
    x, y = randn(3, 4, seed=1), randn(4, 2, seed=2)
    check_op(lucid.matmul, torch.matmul, x, y)
    check_op(lambda a, b: a.matmul(b), lambda a, b: a.matmul(b), x, y)


def test_matmul_of_integers_like_torch():
    check_forward(lambda a, b: a @ b, lambda a, b: a @ b, randint(-3, 3, 2, 3), randint(-3, 3, 3))
    check_forward(lambda a, b: a @ b, lambda a, b: a @ b, randint(-3, 3, 2, 3), randint(-3, 3, 3, 2))


def test_matmul_of_one_input_that_needs_no_grad():
    check_op(lambda a, b: a @ b, lambda a, b: a @ b, randn(3, 4), randn(4, 2), grad=[True, False])
    check_op(lambda a, b: a @ b, lambda a, b: a @ b, randn(3, 4), randn(4, 2), grad=[False, True])


def test_matmul_with_a_numpy_operand_on_the_left():
    a, x = randn(3, 4, seed=1), randn(4, 2, seed=2)
    check_op(lambda t: a @ t, lambda t: torch.from_numpy(a) @ t, x)


def test_matmul_with_a_numpy_operand_on_the_right():
    x, b = randn(3, 4, seed=1), randn(4, 2, seed=2)
    check_op(lambda t: t @ b, lambda t: t @ torch.from_numpy(b), x)


# ----- errors -----------------------------------------------------------------------
def test_broadcast_mismatch_names_op_and_shapes():
    with pytest.raises(lucid.ShapeError, match=r"add.*\(2, 3\).*\(4,\)"):
        lucid.ones(2, 3) + lucid.ones(4)
    with pytest.raises(lucid.ShapeError, match="mul"):
        lucid.ones(2, 3) * lucid.ones(2)


def test_matmul_mismatch_names_op_and_shapes():
    with pytest.raises(lucid.ShapeError, match=r"matmul.*\(2, 3\).*\(4, 2\)"):
        lucid.ones(2, 3) @ lucid.ones(4, 2)
    with pytest.raises(lucid.ShapeError, match="matmul"):
        lucid.ones(()) @ lucid.ones(3)
