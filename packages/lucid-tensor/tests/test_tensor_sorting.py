"""(values, indices) ops against PyTorch: max/min over one axis, sort, argsort, topk,
kthvalue, median. Values, indices, dtypes and gradients; ties, NaN, 0-d and empty inputs."""

import pickle

import lucid
import numpy as np
import pytest
import torch
from tensor_parity import assert_close, check_forward, check_op, randint, randn, unique

NAN = np.float32(np.nan)
TIES = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [5.0, -1.0, 5.0, -1.0]], np.float32)


# ----- max / min over one axis -------------------------------------------------------
@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("axis", [0, 1, -1, 2])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_over_one_axis_return_values_and_indices_like_torch(name, axis, keepdim):
    x = unique(2, 3, 4, seed=5)
    out, _ = check_op(lambda t: getattr(t, name)(axis, keepdim=keepdim),
                      lambda t: getattr(t, name)(axis, keepdim=keepdim), x)
    assert type(out) is getattr(lucid.return_types, name)
    assert out.indices.dtype == lucid.int64 and not out.indices.requires_grad
    assert out.values.requires_grad
    # the function form and every spelling of the axis and of keepdim
    for lucid_fn in (lambda t: getattr(lucid, name)(t, axis, keepdim),
                     lambda t: getattr(lucid, name)(t, dim=axis, keepdim=keepdim),
                     lambda t: getattr(t, name)(axis=axis, keepdims=keepdim)):
        check_op(lucid_fn, lambda t: getattr(torch, name)(t, dim=axis, keepdim=keepdim), x)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_ties_pick_the_first_index_and_give_it_the_whole_gradient(name):
    for axis in (0, 1):
        check_op(lambda t, a=axis: getattr(t, name)(a), lambda t, a=axis: getattr(t, name)(a),
                 TIES)
    x = lucid.tensor(TIES, requires_grad=True)
    getattr(x, name)(1).values.sum().backward()
    assert np.array_equal((x.grad.numpy() == 1).sum(1), [1, 1, 1])  # one element per row
    assert np.array_equal(x.grad.numpy().argmax(1), getattr(TIES, f"arg{name}")(1))


def test_max_min_pick_the_first_nan_like_torch():
    x = np.array([[1.0, NAN, 2.0, NAN], [3.0, 1.0, 2.0, 0.0], [NAN, 5.0, 5.0, 1.0]], np.float32)
    for name in ("max", "min"):
        check_op(lambda t, n=name: getattr(t, n)(1), lambda t, n=name: getattr(t, n)(1), x)
        check_forward(lambda t, n=name: getattr(t, n)(0), lambda t, n=name: getattr(t, n)(0), x)


def test_max_over_dim_unpacks_to_predictions_also_for_a_batch_of_two():
    logits = randn(2, 10, seed=1)
    _, pred = lucid.tensor(logits).max(1)
    assert pred.shape == (2,) and np.array_equal(pred.numpy(), logits.argmax(1))
    labels = lucid.tensor(logits.argmax(1))
    assert int((lucid.tensor(logits).max(1)[1] == labels).sum().item()) == 2
    values, indices = lucid.max(lucid.tensor(logits), dim=1, keepdim=True)
    assert values.shape == indices.shape == (2, 1)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_max_min_over_one_axis_of_integers_and_bools(dtype):
    x = randint(0, 2 if dtype is np.bool_ else 9, 3, 5, seed=2, dtype=np.int64).astype(dtype)
    for name in ("max", "min"):
        check_forward(lambda t, n=name: getattr(t, n)(1), lambda t, n=name: getattr(t, n)(1), x)


def test_max_min_of_a_0d_tensor_and_of_empty_tensors_like_torch():
    check_op(lambda t: t.max(0), lambda t: t.max(0), np.array(2.5, np.float32))
    check_op(lambda t: t.min(-1, keepdim=True), lambda t: t.min(-1, keepdim=True),
             np.array(2.5, np.float32))
    check_forward(lambda t: t.max(1), lambda t: t.max(1), np.zeros((0, 3), np.float32))
    with pytest.raises(lucid.ShapeError, match=r"max.*axis 0.*\(0, 3\).*empty"):
        lucid.zeros(0, 3).max(0)


def test_max_min_over_one_axis_errors_name_the_op():
    x = lucid.zeros(2, 3)
    with pytest.raises(lucid.LucidIndexError, match=r"min.*axis 2.*\(2, 3\)"):
        x.min(2)
    with pytest.raises(lucid.ArgumentError, match="max.*not both"):
        x.max(axis=0, dim=1)


def test_return_types_are_named_tuples_that_pickle():
    r = lucid.tensor([[1.0, 2.0], [4.0, 3.0]]).max(1)
    assert isinstance(r, tuple) and len(r) == 2 and r[0] is r.values and r[1] is r.indices
    assert repr(r).startswith("lucid.return_types.max(values=")
    back = pickle.loads(pickle.dumps(lucid.return_types.topk(1, 2)))
    assert back == (1, 2) and type(back) is lucid.return_types.topk


# ----- sort / argsort ----------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_like_torch(dim, descending):
    x = unique(3, 4, 5, seed=6)
    out, _ = check_op(lambda t: t.sort(dim, descending),
                      lambda t: t.sort(dim, descending), x)
    assert type(out) is lucid.return_types.sort
    check_op(lambda t: lucid.sort(t, dim=dim, descending=descending),
             lambda t: torch.sort(t, dim=dim, descending=descending), x)
    check_forward(lambda t: lucid.argsort(t, dim, descending),
                  lambda t: torch.argsort(t, dim, descending), x)
    check_forward(lambda t: t.argsort(axis=dim, descending=descending),
                  lambda t: t.argsort(dim=dim, descending=descending), x)


@pytest.mark.parametrize("descending", [False, True])
def test_sort_is_stable_and_puts_nan_above_inf_like_torch_stable_sort(descending):
    x = randint(0, 4, 3, 300, seed=3).astype(np.float32)  # many ties
    x[0, ::7] = NAN
    x[1, ::5] = np.inf
    x[2, ::3] = -np.inf
    check_op(lambda t: t.sort(1, descending),
             lambda t: torch.sort(t, dim=1, descending=descending, stable=True), x)
    check_forward(lambda t: t.argsort(0, descending),
                  lambda t: torch.sort(t, dim=0, descending=descending, stable=True).indices, x)
    ints = randint(-3, 3, 4, 200, seed=4)
    check_forward(lambda t: t.sort(-1, descending),
                  lambda t: torch.sort(t, dim=-1, descending=descending, stable=True), ints)


def test_sort_default_axis_0d_empty_and_bool_like_torch():
    x = randn(3, 4, seed=8)
    check_op(lambda t: t.sort(), lambda t: t.sort(), x)
    check_op(lambda t: t.sort(), lambda t: t.sort(), np.array(1.5, np.float32))
    check_forward(lambda t: t.argsort(), lambda t: t.argsort(), np.array(1.5, np.float32))
    check_forward(lambda t: t.sort(1), lambda t: t.sort(1), np.zeros((3, 0), np.float32))
    check_forward(lambda t: t.sort(0), lambda t: t.sort(0), np.zeros((0, 3), np.float32))
    check_forward(lambda t: t.sort(descending=True), lambda t: t.sort(descending=True, stable=True),
                  np.array([True, False, True, False]))
    with pytest.raises(lucid.LucidIndexError, match=r"sort.*axis 2"):
        lucid.zeros(2, 3).sort(2)


# ----- topk --------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k", [1, 3])
def test_topk_like_torch(dim, largest, k):
    x = unique(4, 6, seed=9)
    out, _ = check_op(lambda t: t.topk(k, dim, largest),
                      lambda t: t.topk(k, dim, largest), x)
    assert type(out) is lucid.return_types.topk
    check_op(lambda t: lucid.topk(t, k, dim=dim, largest=largest, sorted=False),
             lambda t: torch.topk(t, k, dim=dim, largest=largest, sorted=True), x)


def test_topk_ties_agree_in_values_and_take_the_lowest_indices():
    x = np.array([[3.0, 1.0, 3.0, 2.0, 3.0]], np.float32)
    values, indices = lucid.tensor(x).topk(2)
    assert_close(values, torch.tensor(x).topk(2).values)
    assert indices.numpy().tolist() == [[0, 2]]
    values, indices = lucid.tensor(x).topk(1, largest=False)
    assert values.numpy().tolist() == [[1.0]] and indices.numpy().tolist() == [[1]]


def test_topk_edge_cases():
    check_forward(lambda t: t.topk(0), lambda t: t.topk(0), randn(3, 4))
    check_forward(lambda t: t.topk(4), lambda t: t.topk(4), randn(3, 4))
    check_op(lambda t: t.topk(1), lambda t: t.topk(1), np.array(1.5, np.float32))
    check_forward(lambda t: t.topk(2, 0), lambda t: t.topk(2, 0), np.zeros((2, 0), np.float32))
    with pytest.raises(lucid.LucidIndexError, match=r"topk.*k=5.*\(3, 4\)"):
        lucid.zeros(3, 4).topk(5)
    with pytest.raises(lucid.LucidIndexError, match="topk.*k=-1"):
        lucid.zeros(3, 4).topk(-1)


# ----- kthvalue / median -------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 5])
@pytest.mark.parametrize("keepdim", [False, True])
def test_kthvalue_like_torch(k, keepdim):
    x = unique(3, 5, seed=11)
    out, _ = check_op(lambda t: t.kthvalue(k, 1, keepdim), lambda t: t.kthvalue(k, 1, keepdim), x)
    assert type(out) is lucid.return_types.kthvalue
    check_op(lambda t: lucid.kthvalue(t, k, dim=-1), lambda t: torch.kthvalue(t, k, dim=-1), x)
    check_op(lambda t: t.kthvalue(2, 0), lambda t: t.kthvalue(2, 0), x)
    with pytest.raises(lucid.LucidIndexError, match=r"kthvalue.*k=6"):
        lucid.tensor(x).kthvalue(6)


def test_kthvalue_ties_agree_in_values_and_index_a_tied_element():
    values, indices = lucid.tensor(TIES).kthvalue(2, 1)
    assert_close(values, torch.tensor(TIES).kthvalue(2, 1).values)
    assert np.array_equal(np.take_along_axis(TIES, indices.numpy()[:, None], 1)[:, 0],
                          values.numpy())


@pytest.mark.parametrize("n", [5, 6])
def test_median_is_the_lower_median_like_torch(n):
    x = unique(3, n, seed=12)
    check_op(lambda t: t.median(), lambda t: t.median(), x)
    out, _ = check_op(lambda t: t.median(1), lambda t: t.median(1), x)
    assert type(out) is lucid.return_types.median
    check_op(lambda t: lucid.median(t, dim=0, keepdim=True),
             lambda t: torch.median(t, dim=0, keepdim=True), x)


def test_median_ties_and_nan_like_torch():
    check_op(lambda t: t.median(), lambda t: t.median(), TIES)  # full: gradient split evenly
    check_op(lambda t: t.median(1), lambda t: t.median(1), TIES)  # indices agree here
    x = np.array([[1.0, NAN, 2.0, NAN], [3.0, 1.0, 2.0, 2.0], [5.0, 5.0, 5.0, 1.0]], np.float32)
    check_op(lambda t: t.median(1), lambda t: t.median(1), x)
    check_op(lambda t: t.median(), lambda t: t.median(), x)
    check_forward(lambda t: t.median(0), lambda t: t.median(0), randint(0, 3, 4, 3, seed=1))
    check_op(lambda t: t.median(), lambda t: t.median(), np.array(2.0, np.float32))
    with pytest.raises(lucid.ShapeError, match="median.*empty"):
        lucid.zeros(0, 2).median()
