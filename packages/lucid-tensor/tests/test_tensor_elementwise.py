"""Elementwise ops against PyTorch: values, gradients, broadcasting, dtypes, errors."""

import lucid
import numpy as np
import pytest
import torch
from tensor_parity import assert_close, check_forward, check_op, positive, randint, randn, uniform

SHAPES = [(3, 4), (2, 0, 3), ()]

UNARY = {
    # name: (lucid, torch, input)
    "abs": (lucid.abs, torch.abs, randn),
    "exp": (lucid.exp, torch.exp, randn),
    "log": (lucid.log, torch.log, positive),
    "log1p": (lucid.log1p, torch.log1p, positive),
    "log2": (lucid.log2, torch.log2, positive),
    "sqrt": (lucid.sqrt, torch.sqrt, positive),
    "rsqrt": (lucid.rsqrt, torch.rsqrt, positive),
    "square": (lucid.square, torch.square, randn),
    "reciprocal": (lucid.reciprocal, torch.reciprocal, positive),
    "sin": (lucid.sin, torch.sin, randn),
    "cos": (lucid.cos, torch.cos, randn),
    "tanh": (lucid.tanh, torch.tanh, randn),
    "sigmoid": (lucid.sigmoid, torch.sigmoid, randn),
    "relu": (lucid.relu, torch.relu, randn),
    "erf": (lucid.erf, torch.erf, randn),
    "sign": (lucid.sign, torch.sign, randn),
    "floor": (lucid.floor, torch.floor, lambda *s: 3 * randn(*s)),
    "ceil": (lucid.ceil, torch.ceil, lambda *s: 3 * randn(*s)),
    "round": (lucid.round, torch.round, lambda *s: 3 * randn(*s)),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_torch(name, shape):
    lucid_fn, torch_fn, make = UNARY[name]
    check_op(lucid_fn, torch_fn, make(*shape))


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_is_a_tensor_method(name):
    x = randn(2, 3, seed=3)
    if name in ("log", "log1p", "log2", "sqrt", "rsqrt", "reciprocal"):
        x = positive(2, 3, seed=3)
    check_op(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), x)


def test_builtin_abs_uses_dunder():
    check_op(lambda t: abs(t), lambda t: abs(t), randn(4, 5))


def test_abs_and_relu_gradient_at_zero_is_zero_like_torch():
    x = np.array([-1.0, 0.0, 2.0], np.float32)
    check_op(lucid.abs, torch.abs, x)
    check_op(lucid.relu, torch.relu, x)


def test_round_is_half_to_even_and_takes_decimals():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 0.125, 2.675], np.float32)
    check_op(lucid.round, torch.round, x)
    check_op(lambda t: lucid.round(t, 2), lambda t: torch.round(t, decimals=2), x[:5], atol=1e-6)


@pytest.mark.parametrize("fn", ["floor", "ceil", "round", "abs", "sign"])
def test_integer_inputs_keep_their_dtype(fn):
    x = randint(-5, 5, 3, 4)
    check_forward(getattr(lucid, fn), getattr(torch, fn), x)


@pytest.mark.parametrize("fn", ["exp", "sqrt", "sin", "sigmoid"])
def test_integer_inputs_promote_to_float32(fn):
    x = randint(1, 5, 6)
    check_forward(getattr(lucid, fn), getattr(torch, fn), x)


def test_float16_forward_and_grad():
    x = randn(3, 4).astype(np.float16)
    check_op(lucid.tanh, torch.tanh, x, rtol=2e-3, atol=2e-3)
    check_op(lucid.exp, torch.exp, x, rtol=2e-3, atol=2e-3)


def test_large_inputs_stay_finite_where_torch_does():
    x = np.array([-100.0, -20.0, 0.0, 20.0, 100.0], np.float32)
    check_op(lucid.sigmoid, torch.sigmoid, x)
    check_op(lucid.tanh, torch.tanh, x)


# ----- clamp ------------------------------------------------------------------------
@pytest.mark.parametrize("lo,hi", [(-0.5, 0.5), (None, 0.3), (-0.2, None), (0.5, -0.5)])
def test_clamp_scalar_bounds(lo, hi):
    x = uniform(4, 5)
    check_op(lambda t: lucid.clamp(t, lo, hi), lambda t: torch.clamp(t, lo, hi), x)
    check_op(lambda t: t.clip(min=lo, max=hi), lambda t: t.clip(min=lo, max=hi), x)


def test_clamp_boundary_values_pass_the_gradient_like_torch():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0], np.float32)
    check_op(lambda t: lucid.clamp(t, -0.5, 0.5), lambda t: torch.clamp(t, -0.5, 0.5), x)


@pytest.mark.parametrize("which", ["min", "max", "both", "crossed"])
def test_clamp_tensor_bounds_get_gradients(which):
    x, lo, hi = uniform(3, 4, seed=1), uniform(4, seed=2) - 0.3, uniform(3, 1, seed=3) + 0.3
    if which == "crossed":
        lo, hi = hi, lo
    if which == "min":
        check_op(lambda t, a: lucid.clamp(t, min=a), lambda t, a: torch.clamp(t, min=a), x, lo)
    elif which == "max":
        check_op(lambda t, b: t.clamp(max=b), lambda t, b: t.clamp(max=b), x, hi)
    else:
        check_op(lucid.clamp, torch.clamp, x, lo, hi)


def test_clamp_tensor_bounds_ties_and_crossed_bounds_match_torch():
    grid = np.array(np.meshgrid([0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [0.0, 1.0, 2.0]), np.float32)
    x, lo, hi = grid.reshape(3, -1)
    check_op(lucid.clamp, torch.clamp, x, lo, hi)
    check_op(lambda t, a: lucid.clamp(t, min=a), lambda t, a: torch.clamp(t, min=a), x, lo)
    check_op(lambda t, b: lucid.clamp(t, max=b), lambda t, b: torch.clamp(t, max=b), x, hi)


def test_clamp_number_and_tensor_bound_mixed_acts_as_a_constant_tensor_bound():
    x = np.array([0.0, 0.5, 1.0, 1.5, 2.0], np.float32)
    hi = np.full(5, 1.5, np.float32)
    check_op(
        lambda t, b: lucid.clamp(t, 0.5, b),
        lambda t, b: torch.clamp(t, torch.full_like(t, 0.5), b),
        x, hi,
    )


def test_clamp_without_bounds_is_an_error():
    with pytest.raises(lucid.LucidError, match="clamp"):
        lucid.clamp(lucid.tensor([1.0, 2.0]))


# ----- maximum, minimum, where ------------------------------------------------------
@pytest.mark.parametrize("fn", ["maximum", "minimum"])
def test_maximum_minimum_broadcast(fn):
    check_op(getattr(lucid, fn), getattr(torch, fn), randn(2, 3, 4, seed=1), randn(3, 1, seed=2))
    check_op(getattr(lucid, fn), getattr(torch, fn), randn(1, 4, seed=1), randn(5, 1, seed=2))


@pytest.mark.parametrize("fn", ["maximum", "minimum"])
def test_maximum_minimum_split_gradient_on_ties(fn):
    x = np.array([1.0, 2.0, 3.0, 2.0], np.float32)
    y = np.array([1.0, 1.0, 4.0, 2.0], np.float32)
    check_op(getattr(lucid, fn), getattr(torch, fn), x, y)


def test_maximum_with_a_scalar_operand():
    check_op(lambda t: lucid.maximum(t, 0.0), lambda t: torch.clamp(t, min=0.0), randn(3, 3))


def test_where_gradients_flow_to_both_branches():
    cond = randn(3, 4, seed=5) > 0
    check_op(lucid.where, torch.where, cond, randn(3, 4, seed=1), randn(4, seed=2))
    check_op(lucid.where, torch.where, cond[:, :1], randn(1, 4, seed=1), randn(3, 1, seed=2))


def test_where_with_scalars_and_as_method():
    cond = randn(2, 3, seed=5) > 0
    x = randn(2, 3)
    check_op(lambda c, t: lucid.where(c, t, 0.0), lambda c, t: torch.where(c, t, 0.0), cond, x)
    check_op(lambda c, t: lucid.where(c, 1.0, t), lambda c, t: torch.where(c, 1.0, t), cond, x)
    check_op(lambda c, t, o: t.where(c, o), lambda c, t, o: t.where(c, o), cond, x, randn(3))
    check_forward(lambda c: lucid.where(c, 1.0, -1.0), lambda c: torch.where(c, 1.0, -1.0), cond)


def test_where_accepts_numpy_and_list_conditions():
    x = lucid.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = lucid.where([True, False, True], x, -x)
    assert_close(out, np.array([1.0, -2.0, 3.0], np.float32))
    out.sum().backward()
    assert_close(x.grad, np.array([1.0, -1.0, 1.0], np.float32))
    assert_close(lucid.where(np.array([0, 1, 0]), x, 0.0), np.array([0.0, 2.0, 0.0], np.float32))


def test_where_shape_mismatch_names_the_op():
    with pytest.raises(lucid.ShapeError, match="where"):
        lucid.where(lucid.tensor([True, False]), lucid.zeros(3), lucid.ones(3))


def test_maximum_shape_mismatch_names_the_op_and_shapes():
    with pytest.raises(lucid.ShapeError, match=r"maximum.*\(2, 3\).*\(4,\)"):
        lucid.maximum(lucid.zeros(2, 3), lucid.zeros(4))


# ----- comparisons and logic --------------------------------------------------------
CMP = ["eq", "ne", "lt", "le", "gt", "ge"]
OPERATORS = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
}


def _ties():
    return randint(0, 3, 3, 4, seed=1).astype(np.float32), randint(0, 3, 4, seed=2).astype(
        np.float32
    )


@pytest.mark.parametrize("name", CMP)
def test_comparison_functions_and_methods(name):
    x, y = _ties()
    out, _ = check_forward(getattr(lucid, name), getattr(torch, name), x, y)
    assert out.dtype == lucid.bool_
    check_forward(lambda a, b: getattr(a, name)(b), lambda a, b: getattr(a, name)(b), x, y)


@pytest.mark.parametrize("name", CMP)
def test_comparison_operators_with_tensors_scalars_and_reflected(name):
    f = OPERATORS[name]
    x, y = _ties()
    check_forward(f, f, x, y)
    check_forward(lambda a: f(a, 1.0), lambda a: f(a, 1.0), x)
    check_forward(lambda a: f(1, a), lambda a: f(1, a), x)
    check_forward(f, f, randint(0, 3, 5), randint(0, 3, 5, seed=4))


def test_comparisons_record_no_graph():
    x = lucid.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for f in OPERATORS.values():
        out = f(x, 2.0)
        assert not out.requires_grad and out.grad_fn is None


def test_equality_with_unrelated_objects_is_python_equality():
    x = lucid.tensor([1.0, 2.0])
    assert (x == None) is False  # noqa: E711
    assert (x != "a") is True
    assert x in [x]


def test_tensor_stays_hashable():
    x = lucid.tensor([1.0])
    assert {x: 1}[x] == 1


def test_accuracy_idiom_from_the_seed():
    logits = lucid.tensor(randn(8, 5, seed=3))
    targets = lucid.tensor(randint(0, 5, 8, seed=4))
    preds = lucid.argmax(logits, axis=1)
    correct = int((preds == targets).sum().item())
    expected = int((randn(8, 5, seed=3).argmax(1) == randint(0, 5, 8, seed=4)).sum())
    assert correct == expected


@pytest.mark.parametrize("name", ["logical_and", "logical_or"])
def test_logical_binary(name):
    a, b = randn(3, 4, seed=1) > 0, randn(4, seed=2) > 0
    check_forward(getattr(lucid, name), getattr(torch, name), a, b)
    check_forward(getattr(lucid, name), getattr(torch, name), randn(3, 4, seed=1), b)


def test_logical_not_and_invert():
    b = randn(3, 4) > 0
    check_forward(lucid.logical_not, torch.logical_not, b)
    check_forward(lucid.logical_not, torch.logical_not, np.array([0.0, 1.5, -2.0], np.float32))
    check_forward(lambda t: ~t, lambda t: ~t, b)
    check_forward(lambda t: ~t, lambda t: ~t, randint(-4, 4, 6))


def test_invert_of_a_float_tensor_is_a_dtype_error():
    with pytest.raises(lucid.DTypeError, match="invert"):
        ~lucid.tensor([1.0])


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite"])
def test_nan_inf_predicates(name):
    x = np.array([0.0, np.nan, np.inf, -np.inf, -1.5], np.float32)
    out, _ = check_forward(getattr(lucid, name), getattr(torch, name), x)
    assert out.dtype == lucid.bool_
    check_forward(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), x)


def test_chain_of_elementwise_ops_gradient():
    def f(lib):
        return lambda x, y: lib.sqrt(lib.exp(x) + lib.square(y)) * lib.sigmoid(x - y)

    check_op(f(lucid), f(torch), randn(3, 4, seed=1), randn(4, seed=2))


def test_erf_builds_gelu_like_torch():
    def gelu(t, lib):
        return 0.5 * t * (1 + lib.erf(t / 2**0.5))

    out, _ = check_op(lambda t: gelu(t, lucid), torch.nn.functional.gelu, randn(5, 6))
    assert_close(out, torch.nn.functional.gelu(torch.from_numpy(randn(5, 6))))
