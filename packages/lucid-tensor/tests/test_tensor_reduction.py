"""Reductions and the softmax family against PyTorch: axes, keepdims, aliases, grads, dtypes."""

import math
import subprocess
import sys
import warnings

import lucid
import numpy as np
import pytest
import torch
from tensor_parity import (
    assert_close,
    check_forward,
    check_op,
    positive,
    randint,
    randn,
    uniform,
    unique,
)

AXES = [None, 0, -1, 1, (0, 2), (-1, 0), (0, 1, 2)]


def _torch_dim(axis):
    return tuple(range(3)) if axis is None else axis


# ----- sum / mean / prod / logsumexp -------------------------------------------------
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("name", ["sum", "mean", "logsumexp", "amax", "amin"])
def test_reductions_over_axes(name, axis, keepdims):
    x = unique(2, 3, 4)
    check_op(
        lambda t: getattr(lucid, name)(t, axis=axis, keepdims=keepdims),
        lambda t: getattr(torch, name)(t, dim=_torch_dim(axis), keepdim=keepdims),
        x,
    )


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)])
def test_prod_over_axes(axis, keepdims):
    x = uniform(2, 3, 4, low=0.5, high=1.5)

    def ref(t):
        if axis is None:
            out = t.prod()
            return out.reshape((1, 1, 1)) if keepdims else out
        for a in sorted([axis] if isinstance(axis, int) else axis, reverse=True):
            t = t.prod(dim=a, keepdim=True)
        return t if keepdims else t.squeeze(axis if isinstance(axis, int) else tuple(axis))

    check_op(lambda t: lucid.prod(t, axis, keepdims), ref, x)


def test_prod_gradient_with_zeros_is_exact():
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [1.0, 2.0, 3.0]], np.float32)
    check_op(lambda t: lucid.prod(t, axis=1), lambda t: torch.prod(t, dim=1), x)
    check_op(lambda t: lucid.prod(t, axis=0), lambda t: torch.prod(t, dim=0), x)
    check_op(lambda t: t[0:1].prod(), lambda t: t[0:1].prod(), x)


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "logsumexp", "amax", "amin", "var",
                                  "std", "norm", "all", "any"])
def test_dim_keepdim_aliases_and_positional_axis(name):
    x = lucid.tensor(positive(3, 4, 5))
    expected = getattr(lucid, name)(x, axis=1, keepdims=True)
    for out in (
        getattr(lucid, name)(x, dim=1, keepdim=True),
        getattr(x, name)(dim=-2, keepdim=True),
        getattr(x, name)(axis=1, keepdims=True),
    ):
        assert_close(out, expected, rtol=0, atol=0)
    if name != "norm":  # norm's second positional argument is p
        assert_close(getattr(lucid, name)(x, 1, True), expected, rtol=0, atol=0)
        assert_close(getattr(x, name)(1), getattr(lucid, name)(x, axis=1), rtol=0, atol=0)


def test_sum_and_mean_methods_match_torch():
    x = randn(4, 5)
    check_op(lambda t: t.sum(), lambda t: t.sum(), x)
    check_op(lambda t: t.sum(0), lambda t: t.sum(0), x)
    check_op(lambda t: t.mean(-1, keepdims=True), lambda t: t.mean(-1, keepdim=True), x)
    check_op(lambda t: t.sum(axis=[0, 1]), lambda t: t.sum(dim=[0, 1]), x)


def test_sum_of_integers_is_int64_like_torch():
    check_forward(lucid.sum, torch.sum, randint(0, 9, 3, 4, dtype=np.int32))
    check_forward(lambda t: t.sum(1), lambda t: t.sum(1), randint(0, 9, 3, 4))
    check_forward(lucid.sum, torch.sum, randn(3, 4) > 0)
    check_forward(lambda t: t.prod(0), lambda t: t.prod(0), randint(1, 4, 3, 4, dtype=np.int32))


def test_sum_dtype_argument():
    x = lucid.tensor(randint(0, 9, 5))
    out = lucid.sum(x, dtype=lucid.float32)
    assert out.dtype == lucid.float32 and out.item() == float(randint(0, 9, 5).sum())


def test_mean_of_integers_is_float32():
    out = lucid.tensor([1, 2, 4]).mean()
    assert out.dtype == lucid.float32
    assert abs(out.item() - 7 / 3) < 1e-6


def test_empty_reductions():
    x = lucid.zeros(0, 3, requires_grad=True)
    s = x.sum(0)
    assert s.shape == (3,) and not np.any(s.numpy())
    assert x.sum().item() == 0.0
    assert math.isnan(x.mean().item())
    assert np.isnan(lucid.mean(x, axis=0).numpy()).all()
    check_op(lambda t: t.sum(1), lambda t: t.sum(1), np.zeros((0, 3), np.float32))
    check_op(lambda t: t.mean(1), lambda t: t.mean(1), np.zeros((0, 3), np.float32))


def test_reducing_an_empty_tensor_made_from_numpy_does_not_hang():
    # MLX reductions over an empty axis of an array built from a NumPy buffer can spin
    # forever (mlx 0.32); a fresh process, since whether it happens varies between runs.
    code = (
        "import numpy as np, lucid\n"
        "for _ in range(2000):\n"
        "    x = lucid.tensor(np.zeros((0, 2), np.float32))\n"
        "    assert x.sum(0, keepdims=True).tolist() == [[0.0, 0.0]]\n"
        "    assert np.isnan(x.mean(0).numpy()).all()\n"
    )
    try:
        subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("sum over an empty axis of a tensor made from NumPy did not finish")


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "prod", "logsumexp", "softmax",
                                  "log_softmax", "cumsum", "std"])
def test_zero_dim_tensors_accept_axis_0_and_minus_1_like_torch(name):
    x = np.float32(1.5) + np.zeros((), np.float32)
    check_op(lambda t: getattr(lucid, name)(t), lambda t: _torch_full(name, t), x)
    for axis in (0, -1):
        check_op(lambda t, a=axis: getattr(lucid, name)(t, axis=a),
                 lambda t, a=axis: _torch_axis(name, t, a), x)


def _torch_axis(name, t, axis):
    if name == "std":  # n - 1 = 0: nan, as Lucid's; torch warns about it
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.std(t, axis)
    return getattr(torch, name)(t, axis)


def _torch_full(name, t):
    if name in ("softmax", "log_softmax", "cumsum", "logsumexp"):
        return getattr(torch, name)(t, 0)
    return _torch_axis(name, t, None) if name == "std" else getattr(torch, name)(t)


def test_size_one_axes():
    check_op(lambda t: t.sum(1), lambda t: t.sum(1), randn(3, 1, 2))
    check_op(lambda t: t.var(1, correction=0), lambda t: t.var(1, correction=0), randn(3, 1, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that the degrees of freedom are <= 0
        check_op(lambda t: t.var(1), lambda t: t.var(1), randn(3, 1, 2))


def test_logsumexp_is_stable_for_large_and_infinite_values():
    x = np.array([[1000.0, 1000.0, -1000.0], [-1e30, 0.0, 1.0]], np.float32)
    check_op(lambda t: lucid.logsumexp(t, axis=1), lambda t: torch.logsumexp(t, dim=1), x)
    inf = np.array([[-np.inf, -np.inf], [np.inf, 1.0]], np.float32)
    check_forward(lambda t: lucid.logsumexp(t, 1), lambda t: torch.logsumexp(t, 1), inf)


# ----- var / std --------------------------------------------------------------------
CORRECTIONS = [
    ({}, 1), ({"ddof": 0}, 0), ({"ddof": 1}, 1), ({"unbiased": True}, 1), ({"unbiased": False}, 0),
    ({"correction": 1}, 1), ({"correction": 0}, 0), ({"ddof": 2}, 2),
]


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("kwargs,correction", CORRECTIONS)
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)])
def test_var_std_corrections(name, kwargs, correction, axis):
    x = randn(3, 4, 5, seed=7)
    check_op(
        lambda t: getattr(lucid, name)(t, axis=axis, **kwargs),
        lambda t: getattr(torch, name)(t, dim=_torch_dim(axis), correction=correction),
        x,
    )
    check_op(
        lambda t: getattr(t, name)(axis, keepdims=True, **kwargs),
        lambda t: getattr(t, name)(dim=_torch_dim(axis), correction=correction, keepdim=True),
        x,
    )


def test_var_std_default_divide_by_n_minus_1_like_torch_not_numpy():
    x = randn(10)
    assert abs(lucid.var(lucid.tensor(x)).item() - float(np.var(x, ddof=1))) < 1e-5
    assert abs(lucid.tensor(x).std().item() - float(np.std(x, ddof=1))) < 1e-5
    assert abs(lucid.tensor(x).std().item() - float(np.std(x))) > 1e-2  # the two differ here
    assert abs(lucid.tensor(x).var(correction=0).item() - float(np.var(x))) < 1e-5


def test_var_std_dim_tuple_keepdim_and_unbiased_like_torch():
    x = randn(4, 3, 5, seed=3)
    for kwargs in ({}, {"unbiased": False}, {"unbiased": True}, {"correction": 2}):
        check_op(lambda t, k=kwargs: t.var(dim=(0, 2), keepdim=True, **k),
                 lambda t, k=kwargs: t.var(dim=(0, 2), keepdim=True, **k), x)
        check_op(lambda t, k=kwargs: lucid.std(t, 1, **k), lambda t, k=kwargs: torch.std(t, 1, **k),
                 x)


def test_var_of_one_element_with_correction_is_nan_like_torch():
    out = lucid.var(lucid.tensor([3.0]), ddof=1)
    assert math.isnan(out.item())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that the degrees of freedom are <= 0
        assert math.isnan(torch.var(torch.tensor([3.0]), correction=1).item())


def test_var_with_conflicting_corrections_is_an_error():
    with pytest.raises(lucid.LucidError, match="var"):
        lucid.var(lucid.zeros(3), ddof=1, unbiased=True)


# ----- max / min / argmax / argmin --------------------------------------------------
# (values, indices) over one axis: test_tensor_sorting.py
@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("axis", [None, (0, 2), (-1,)])
def test_max_min_without_an_axis_or_over_a_tuple_give_values_only(name, axis):
    x = unique(2, 3, 4, seed=2)
    torch_name = "amax" if name == "max" else "amin"
    out, _ = check_op(
        lambda t: getattr(t, name)(axis),
        lambda t: getattr(torch, torch_name)(t, dim=_torch_dim(axis)),
        x,
    )
    assert isinstance(out, lucid.Tensor)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_ties_share_gradient_like_torch_amax(name):
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [5.0, -1.0, 5.0, -1.0]], np.float32)
    torch_name = "amax" if name == "max" else "amin"
    for axis in ((0,), (1,), (0, 1)):
        check_op(
            lambda t, a=axis: getattr(lucid, name)(t, axis=a),
            lambda t, a=axis: getattr(torch, torch_name)(t, dim=a),
            x,
        )
    check_op(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), x)  # full: also split


def test_max_of_two_tensors_is_maximum():
    check_op(lambda a, b: lucid.max(a, b), lambda a, b: torch.max(a, b), randn(3, 4), randn(4))
    check_op(lambda a, b: a.min(b), lambda a, b: a.min(b), randn(3, 4), randn(4))


def test_max_of_integers_and_of_an_empty_tensor():
    check_forward(lambda t: t.max(1), lambda t: t.max(1), randint(-9, 9, 3, 4))
    check_forward(lambda t: t.max(), lambda t: t.max(), randint(-9, 9, 3, 4))
    with pytest.raises(lucid.ShapeError, match="max.*empty"):
        lucid.zeros(0, 3).max()


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_argmin(name, axis, keepdims):
    x = unique(3, 4, 5, seed=4)
    out, _ = check_forward(
        lambda t: getattr(lucid, name)(t, axis=axis, keepdims=keepdims),
        lambda t: getattr(torch, name)(t, dim=axis, keepdim=keepdims),
        x,
    )
    assert out.dtype == lucid.int64
    check_forward(lambda t: getattr(t, name)(dim=axis), lambda t: getattr(t, name)(dim=axis), x)


def test_argmax_ties_pick_the_first_index():
    x = np.array([[1, 3, 3], [2, 2, 2], [0, 0, 5]], np.int64)
    check_forward(lambda t: t.argmax(1), lambda t: t.argmax(1), x)
    check_forward(lambda t: t.argmin(0), lambda t: t.argmin(0), x)


def test_argmax_rejects_a_tuple_of_axes():
    with pytest.raises(lucid.ArgumentTypeError, match="argmax"):
        lucid.argmax(lucid.zeros(2, 3), axis=(0, 1))


# ----- all / any --------------------------------------------------------------------
@pytest.mark.parametrize("name", ["all", "any"])
@pytest.mark.parametrize("axis", [None, 0, -1])
def test_all_any(name, axis):
    b = randn(3, 4, seed=1) > -0.5
    kwargs = {} if axis is None else {"dim": axis}
    out, _ = check_forward(lambda t: getattr(t, name)(axis), lambda t: getattr(t, name)(**kwargs),
                           b)
    assert out.dtype == lucid.bool_
    f = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
    check_forward(lambda t: getattr(lucid, name)(t, axis), lambda t: getattr(t, name)(**kwargs), f)


# ----- norm -------------------------------------------------------------------------
@pytest.mark.parametrize("p", [2, 1, 3, 0.5, math.inf, -math.inf, "fro"])
@pytest.mark.parametrize("axis", [None, 1, (0, 1)])
def test_norm(p, axis):
    x = unique(3, 4, 2, seed=5) + 0.05
    torch_p = 2 if p == "fro" else p
    check_op(
        lambda t: lucid.norm(t, p=p, axis=axis),
        lambda t: torch.linalg.vector_norm(t, ord=torch_p, dim=axis),
        x,
    )
    check_op(
        lambda t: t.norm(p, dim=axis, keepdim=True),
        lambda t: torch.linalg.vector_norm(t, ord=torch_p, dim=axis, keepdim=True),
        x,
    )


def test_norm_of_a_zero_vector_has_zero_gradient_like_torch():
    x = np.zeros((2, 3), np.float32)
    x[1] = [3.0, 4.0, 0.0]
    check_op(lambda t: lucid.norm(t, axis=1), lambda t: torch.norm(t, dim=1), x)


def test_norm_of_an_integer_tensor_is_a_dtype_error():
    with pytest.raises(lucid.DTypeError, match="norm"):
        lucid.norm(lucid.tensor([3, 4]))


# ----- softmax / log_softmax / cumsum -----------------------------------------------
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [-1, 0, 1, 2, -2])
def test_softmax_family(name, axis):
    x = randn(2, 3, 4, seed=3) * 3
    check_op(
        lambda t: getattr(lucid, name)(t, axis=axis),
        lambda t: getattr(torch, name)(t, dim=axis),
        x,
    )
    check_op(lambda t: getattr(t, name)(dim=axis), lambda t: getattr(t, name)(dim=axis), x)
    check_op(lambda t: getattr(lucid, name)(t, axis), lambda t: getattr(t, name)(axis), x)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_default_axis_is_last_and_is_stable(name):
    x = np.array([[1000.0, 0.0, -1000.0], [1e4, 1e4, 1e4]], np.float32)
    out, _ = check_op(getattr(lucid, name), lambda t: getattr(torch, name)(t, dim=-1), x)
    assert np.isfinite(out.numpy()).all()


def test_softmax_rows_sum_to_one_and_log_softmax_is_its_log():
    x = lucid.tensor(randn(4, 7, seed=9) * 5)
    p = lucid.softmax(x, axis=1)
    assert_close(p.sum(1), np.ones(4, np.float32), atol=1e-6)
    assert_close(lucid.log_softmax(x, dim=1), np.log(p.numpy()), atol=1e-5)


def test_softmax_of_an_integer_tensor_is_a_dtype_error():
    with pytest.raises(lucid.DTypeError, match="softmax"):
        lucid.softmax(lucid.tensor([1, 2, 3]))


@pytest.mark.parametrize("axis", [0, 1, -1, 2])
def test_cumsum(axis):
    x = randn(3, 4, 2)
    check_op(lambda t: lucid.cumsum(t, axis), lambda t: torch.cumsum(t, dim=axis), x)
    check_op(lambda t: t.cumsum(dim=axis), lambda t: t.cumsum(dim=axis), x)


def test_cumsum_without_axis_flattens_like_numpy_and_keeps_int64():
    x = randn(3, 4)
    check_op(lucid.cumsum, lambda t: torch.cumsum(t.reshape(-1), 0), x)
    check_forward(lambda t: t.cumsum(1), lambda t: t.cumsum(1), randint(0, 5, 3, 4, dtype=np.int32))


# ----- errors -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "prod", "max", "min", "argmax",
                                  "argmin", "all", "any", "norm", "logsumexp", "softmax",
                                  "log_softmax", "cumsum"])
def test_axis_out_of_range_names_the_op_axis_and_shape(name):
    x = lucid.zeros(2, 3)
    with pytest.raises(lucid.LucidIndexError, match=rf"{name}.*axis 2.*\(2, 3\)"):
        getattr(lucid, name)(x, axis=2)
    with pytest.raises(lucid.LucidIndexError, match=rf"{name}.*axis -3"):
        getattr(x, name)(dim=-3)


def test_repeated_axis_and_axis_with_dim_are_errors():
    x = lucid.zeros(2, 3)
    with pytest.raises(lucid.ArgumentError, match="sum.*repeats"):
        x.sum(axis=(1, -1))
    with pytest.raises(lucid.ArgumentError, match="mean.*not both"):
        x.mean(axis=0, dim=1)
    with pytest.raises(lucid.ArgumentTypeError, match="sum.*axis"):
        x.sum(axis=0.5)
