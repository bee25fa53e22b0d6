"""Indexing against PyTorch (and NumPy where PyTorch has no equivalent, e.g. negative steps)."""

import lucid
import numpy as np
import pytest
import torch
from lucid import DTypeError, LucidIndexError, ShapeError
from tensor_parity import check_op, randint, randn

# ----- x[index] vs PyTorch ----------------------------------------------------------

INDICES = [
    1, -1, (0, 2), (-2, -1, 3), slice(1, None), (slice(None), slice(0, 3, 2)),
    (Ellipsis, 1), (1, Ellipsis), (None, 0), (slice(None), None, 2), (None, Ellipsis, None),
    [0, 2, 0], (slice(None), [3, 0, 3]), ([0, 1], [2, 2]), ([0, 2], slice(None), [1, 4]),
    ([[0], [2]], [1, 3]), (1, slice(None), [0, 4]), (slice(None), [1, 2], [0, 3]),
    (Ellipsis, [4, 0]), (None, [0, 1], slice(1, 3)), ([], slice(None)), (slice(5, 9),),
    (2, 1, 0), (),
]


@pytest.mark.parametrize("index", INDICES, ids=[repr(i) for i in INDICES])
def test_getitem_matches_torch(index):
    check_op(lambda a: a[index], lambda a: a[index], randn(3, 4, 5))


@pytest.mark.parametrize(
    "make_index",
    [
        lambda T: T([0, 2, 2]),
        lambda T: (T([1, 0]), T([3, 3])),
        lambda T: (slice(None), T([[0, 1], [1, 0]])),
        lambda T: T(1),
        lambda T: T([-1, -3]),
    ],
)
def test_getitem_with_integer_tensors(make_index):
    check_op(lambda a: a[make_index(lambda v: lucid.tensor(np.array(v, dtype=np.int64)))],
             lambda a: a[make_index(lambda v: torch.tensor(v, dtype=torch.int64))],
             randn(3, 4, 2))


def test_getitem_with_numpy_int_arrays_and_int32():
    idx = np.array([2, 0, 2], dtype=np.int32)
    check_op(lambda a: a[idx], lambda a: a[torch.from_numpy(idx.astype(np.int64))], randn(3, 2))
    check_op(lambda a: a[:, lucid.tensor(idx[:2], dtype=lucid.int32)],
             lambda a: a[:, torch.from_numpy(idx[:2])], randn(2, 3))


MASKS = [
    (lambda x: x > 0, ()),  # full-shape mask
    (lambda x: x[:, 0, 0] > 0, ()),  # first-axis mask
    (lambda x: x[0] > 0, (slice(None),)),  # mask on the last two axes after a slice
    (lambda x: x[0, :, 0] > 100, (slice(None),)),  # all False
]


@pytest.mark.parametrize("mask_fn, before", MASKS)
def test_boolean_masks_match_torch(mask_fn, before):
    x = randn(3, 4, 2)
    mask = mask_fn(x)
    check_op(lambda a: a[before + (lucid.tensor(mask),)],
             lambda a: a[before + (torch.from_numpy(mask),)], x)
    check_op(lambda a: a[before + (mask,)], lambda a: a[before + (torch.from_numpy(mask),)], x)


def test_boolean_mask_with_other_indices():
    x = randn(3, 4, 2)
    mask = np.array([True, False, True, True])
    check_op(lambda a: a[1, mask], lambda a: a[1, torch.from_numpy(mask)], x)
    check_op(lambda a: a[:, mask, 1], lambda a: a[:, torch.from_numpy(mask), 1], x)
    check_op(lambda a: a[[0, 2], mask[:2].tolist() + [False, True]],
             lambda a: a[[0, 2], torch.tensor(mask[:2].tolist() + [False, True])], x)


def test_mask_from_a_lucid_comparison():
    x = lucid.tensor(randn(4, 3), requires_grad=True)
    y = x[x > 0]
    assert y.ndim == 1 and (y.numpy() > 0).all()
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), (x.numpy() > 0).astype(np.float32))


def test_repeated_indices_accumulate_gradient():
    x = lucid.tensor(randn(3, 2), requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[3, 3], [0, 0], [1, 1]])


def test_empty_dims():
    check_op(lambda a: a[:, 1], lambda a: a[:, 1], randn(0, 3))
    check_op(lambda a: a[[]], lambda a: a[[]], randn(0, 3))
    check_op(lambda a: a[1:1], lambda a: a[1:1], randn(4, 3))
    check_op(lambda a: a[..., None], lambda a: a[..., None], randn(2, 0))


def test_integer_tensor_indexing_keeps_dtype():
    check_op(lambda a: a[[1, 0]], lambda a: a[[1, 0]], np.arange(6, dtype=np.int64).reshape(3, 2))


def test_iterating_a_tensor_gives_rows_with_grad():
    x = lucid.tensor(randn(3, 2), requires_grad=True)
    rows = list(x)
    assert [r.shape for r in rows] == [(2,)] * 3
    (rows[0] * 2 + rows[2]).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 2], [0, 0], [1, 1]])


# ----- x[index] vs NumPy: negative steps and random combinations --------------------


def _torch_style(a, index):
    """``a[index]`` with PyTorch's rule: integers select first, then the rest applies."""
    index = index if isinstance(index, tuple) else (index,)
    used = sum(np.ndim(v) if isinstance(v, np.ndarray) and v.dtype == bool else
               (v is not None and v is not Ellipsis) for v in index)
    expanded = []
    for v in index:
        expanded += [slice(None)] * (a.ndim - used) if v is Ellipsis else [v]
    select, rest = [], []
    for v in expanded:
        if isinstance(v, int):
            select.append(v)
        elif v is not None:
            width = v.ndim if isinstance(v, np.ndarray) and v.dtype == bool else 1
            select += [slice(None)] * width
        if not isinstance(v, int):
            rest.append(v)
    return a[tuple(select)][tuple(rest)]


def _check_against_numpy(x, index):
    """Forward and gradient, the gradient via the flat positions of the elements read."""
    ref_out = _torch_style(x, index)
    g = np.random.default_rng(0).standard_normal(ref_out.shape).astype(np.float32)
    lin = _torch_style(np.arange(x.size).reshape(x.shape), index)
    ref_grad = np.bincount(lin.ravel(), weights=g.ravel(), minlength=x.size).reshape(x.shape)
    t = lucid.tensor(x, requires_grad=True)
    out = t[index]
    np.testing.assert_array_equal(out.numpy(), ref_out, err_msg=repr(index))
    out.backward(lucid.tensor(g))
    np.testing.assert_allclose(t.grad.numpy(), ref_grad, rtol=1e-5, atol=1e-6,
                               err_msg=repr(index))


@pytest.mark.parametrize(
    "index",
    [slice(None, None, -1), (slice(None), slice(3, 0, -2)), (slice(None, None, -2), 1),
     (Ellipsis, slice(None, None, -1)), (slice(-1, -4, -1), None, [0, 0, 3]),
     (1, slice(None, None, -1), [0, 0, 3])],
    ids=repr,
)
def test_negative_step_slices(index):
    _check_against_numpy(randn(3, 4, 5), index)


def _random_index(rng, shape):
    items, axis = [], 0
    while axis < len(shape) and rng.random() < 0.85:
        n = shape[axis]
        kind = rng.integers(0, 6)
        if kind == 0:
            items.append(int(rng.integers(-n, n)))
        elif kind == 1:
            items.append(slice(int(rng.integers(-n, n)), None, int(rng.choice([1, 2, -1]))))
        elif kind == 2:
            items.append(None)
            continue
        elif kind == 3:
            items.append(rng.integers(-n, n, size=int(rng.integers(1, 4))))
        elif kind == 4:
            items.append(rng.integers(-n, n, size=(2, 1)))
        else:
            items.append(rng.random(n) < 0.5)
        axis += 1
    return tuple(items)


def _to_torch_index(index):
    return tuple(torch.from_numpy(v) if isinstance(v, np.ndarray) else v for v in index)


def test_random_index_combinations():
    """Against PyTorch itself, and the NumPy emulation where PyTorch has no negative steps."""
    rng = np.random.default_rng(42)
    x = randn(3, 4, 5)
    checked = 0
    while checked < 120:
        index = _random_index(rng, x.shape)
        try:
            _torch_style(x, index)
        except IndexError:  # arrays that do not broadcast together
            continue
        _check_against_numpy(x, index)
        if not any(isinstance(v, slice) and v.step == -1 for v in index):
            check_op(lambda a, i=index: a[i], lambda a, i=index: a[_to_torch_index(i)], x)
            _check_assign(x, index)
        checked += 1


def _check_assign(x, index):
    """``assign`` writes where ``x[index]`` reads, as PyTorch's setitem does."""
    from lucid.ops.indexing import assign

    lin = _torch_style(np.arange(x.size).reshape(x.shape), index)
    value = -np.arange(1, lin.size + 1, dtype=np.float32).reshape(lin.shape)
    if len(np.unique(lin)) != lin.size:  # repeated positions: the winner is unspecified
        value = np.float32(-1.0)
    ref = torch.from_numpy(x.copy())
    ref[_to_torch_index(index)] = torch.as_tensor(value)
    out = assign(lucid.tensor(x)._data, index, lucid.tensor(value))
    np.testing.assert_array_equal(np.array(out), ref.numpy(), err_msg=repr(index))


def test_torch_layout_when_an_int_is_apart_from_the_arrays():
    x = randn(3, 4, 5)
    check_op(lambda a: a[1, :, [0, 4]], lambda a: a[1, :, [0, 4]], x)
    check_op(lambda a: a[None, 1, :, [0, 4]], lambda a: a[None, 1, :, [0, 4]], x)
    mask = np.array([True, False, True, False, True])
    check_op(lambda a: a[1, :, mask], lambda a: a[1, :, torch.from_numpy(mask)], x)


# ----- x[index] errors --------------------------------------------------------------


@pytest.mark.parametrize(
    "index, axis, bad",
    [(3, 0, 3), (-4, 0, -4), ((0, 5), 1, 5), ((slice(None), [0, 4]), 1, 4), ([1, -5], 0, -5),
     ((Ellipsis, 2), 1, 2)],
)
def test_out_of_range_index_raises(index, axis, bad):
    x = lucid.zeros(3, 2) if index == (Ellipsis, 2) else lucid.zeros(3, 4)
    with pytest.raises(LucidIndexError, match=rf"getitem: index {bad} .*axis {axis}.*shape"):
        x[index]
    with pytest.raises(IndexError):  # also a built-in IndexError
        x[index]


def test_out_of_range_tensor_index_raises():
    x = lucid.zeros(3, 4)
    with pytest.raises(LucidIndexError, match=r"getitem: index 7 .*axis 1 of size 4"):
        x[:, lucid.tensor([0, 7])]


def test_empty_dim_index_raises():
    with pytest.raises(LucidIndexError, match="getitem: index 0 .*size 0"):
        lucid.zeros(0, 3)[0]


def test_bad_index_kinds_raise():
    x = lucid.zeros(3, 4)
    with pytest.raises(LucidIndexError, match=r"too many indices \(3\).*\(3, 4\)"):
        x[0, 0, 0]
    with pytest.raises(LucidIndexError, match="single ellipsis"):
        x[..., ...]
    with pytest.raises(LucidIndexError, match="integers or booleans.*float"):
        x[lucid.tensor([0.0, 1.0])]
    with pytest.raises(LucidIndexError, match="unsupported index 'a'"):
        x["a"]
    with pytest.raises(LucidIndexError, match=r"boolean mask of shape \(2,\).*\(3, 4\)"):
        x[np.array([True, False])]
    with pytest.raises(LucidIndexError, match="True/False"):
        x[True]


def test_normalize_index_converts_and_checks():
    from lucid.ops.indexing import normalize_index

    idx = normalize_index((lucid.tensor([0, 2]), Ellipsis, np.array([True, False])), (3, 4, 2))
    assert len(idx) == 3
    assert idx[0].tolist() == [0, 2] and idx[1] == slice(None) and idx[2].tolist() == [0]
    with pytest.raises(LucidIndexError, match="myop: index 9"):
        normalize_index(9, (3,), "myop")


# ----- gather / index_select / take -------------------------------------------------


@pytest.mark.parametrize(
    "shape, dim, index_shape",
    [((3, 4), 0, (2, 4)), ((3, 4), 1, (3, 6)), ((3, 4), -1, (2, 2)), ((2, 3, 4), 1, (2, 5, 4)),
     ((2, 3, 4), 2, (1, 3, 1)), ((3, 4), 0, (0, 4)), ((5,), 0, (7,))],
)
def test_gather_matches_torch(shape, dim, index_shape):
    n = shape[dim]
    index = randint(0, n, *index_shape)
    check_op(lambda a: a.gather(dim, lucid.tensor(index)),
             lambda a: a.gather(dim, torch.from_numpy(index)), randn(*shape))
    check_op(lambda a: lucid.gather(a, dim, index),
             lambda a: torch.gather(a, dim, torch.from_numpy(index)), randn(*shape))


def test_gather_errors():
    x = lucid.zeros(3, 4)
    with pytest.raises(LucidIndexError, match=r"gather: index 4 .*axis 1 of size 4"):
        x.gather(1, lucid.tensor([[0, 4]]))
    with pytest.raises(ShapeError, match=r"gather.*\(2,\).*\(3, 4\)"):
        x.gather(1, lucid.tensor([0, 1]))
    with pytest.raises(ShapeError, match="gather"):
        x.gather(1, lucid.tensor([[0], [0], [0], [0]]))
    with pytest.raises(DTypeError, match="gather: index must be an integer"):
        x.gather(0, lucid.tensor([[0.0]]))
    with pytest.raises(LucidIndexError, match="gather: axis 2"):
        x.gather(2, lucid.tensor([[0]]))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_select_matches_torch(dim):
    x = randn(3, 4, 2)
    index = randint(0, x.shape[dim], 5)
    check_op(lambda a: a.index_select(dim, lucid.tensor(index)),
             lambda a: a.index_select(dim, torch.from_numpy(index)), x)
    check_op(lambda a: lucid.index_select(a, dim, index),
             lambda a: torch.index_select(a, dim, torch.from_numpy(index)), x)


def test_index_select_errors():
    with pytest.raises(LucidIndexError, match=r"index_select: index -4 .*axis 0 of size 3"):
        lucid.zeros(3).index_select(0, [0, -4])
    with pytest.raises(ShapeError, match="index_select: index must be 1-D"):
        lucid.zeros(3).index_select(0, [[0]])


def test_take_flat_matches_torch():
    index = np.array([[0, 11], [5, 5]])
    check_op(lambda a: a.take(lucid.tensor(index)), lambda a: a.take(torch.from_numpy(index)),
             randn(3, 4))
    with pytest.raises(LucidIndexError, match=r"take: index 12 .*size 12"):
        lucid.zeros(3, 4).take([12])


def test_take_along_axis_matches_index_select():
    index = np.array([[0, 2], [2, 2]])
    check_op(lambda a: lucid.take(a, index, axis=1),
             lambda a: a.index_select(1, torch.from_numpy(index.ravel())).reshape(3, 2, 2, 2),
             randn(3, 4, 2))


# ----- masked_fill / nonzero --------------------------------------------------------


@pytest.mark.parametrize("mask_shape", [(3, 4), (4,), (3, 1), ()])
@pytest.mark.parametrize("value", [0.0, -1e9, 2.5])
def test_masked_fill_matches_torch(mask_shape, value):
    mask = np.random.default_rng(1).random(mask_shape) < 0.5
    check_op(lambda a: a.masked_fill(lucid.tensor(mask), value),
             lambda a: a.masked_fill(torch.from_numpy(np.asarray(mask)), value), randn(3, 4))
    check_op(lambda a: lucid.masked_fill(a, mask, value),
             lambda a: torch.masked_fill(a, torch.from_numpy(np.asarray(mask)), value),
             randn(3, 4))


def test_masked_fill_with_tensor_value_gets_gradient():
    mask = np.array([[True, False, True], [False, False, True]])
    check_op(lambda a, v: a.masked_fill(lucid.tensor(mask), v),
             lambda a, v: a.masked_fill(torch.from_numpy(mask), v), randn(2, 3),
             np.float32(0.5).reshape(()))


def test_masked_fill_integer_tensor():
    mask = np.array([True, False, True])
    check_op(lambda a: a.masked_fill(lucid.tensor(mask), 7),
             lambda a: a.masked_fill(torch.from_numpy(mask), 7), np.arange(3, dtype=np.int64))


def test_masked_fill_errors():
    x = lucid.zeros(3, 4)
    with pytest.raises(DTypeError, match="masked_fill: mask must be a bool"):
        x.masked_fill(lucid.ones(3, 4), 0.0)
    with pytest.raises(ShapeError, match=r"masked_fill.*\(2,\).*\(3, 4\)"):
        x.masked_fill(lucid.tensor([True, False]), 0.0)


def test_nonzero_matches_torch():
    x = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]], dtype=np.float32)
    assert np.array_equal(lucid.tensor(x).nonzero().numpy(), torch.from_numpy(x).nonzero().numpy())
    assert lucid.tensor(x).nonzero().dtype == lucid.int64
    for a, b in zip(lucid.nonzero(lucid.tensor(x), as_tuple=True),
                    torch.nonzero(torch.from_numpy(x), as_tuple=True), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert lucid.zeros(2, 3).nonzero().shape == (0, 2)


# ----- assign: the write counterpart of x[index] ------------------------------------


@pytest.mark.parametrize(
    "index",
    [(1, slice(None), [0, 4]), (slice(None), [2, 0]), ([0, 2], 1), (None, 1, slice(1, 3), [4]),
     (2, slice(None), np.array([True, False, True, False, True]))],
    ids=repr,
)
def test_assign_matches_torch_setitem(index):
    from lucid.ops.indexing import assign

    a = randn(3, 4, 5)
    shape = tuple(torch.from_numpy(a)[_to_torch_index(index)].shape)
    value = randn(*shape, seed=3)
    ref = torch.from_numpy(a.copy())
    ref[_to_torch_index(index)] = torch.from_numpy(value)
    data = lucid.tensor(a)._data
    out = assign(data, index, lucid.tensor(value))
    np.testing.assert_array_equal(np.array(out), ref.numpy())
    np.testing.assert_array_equal(np.array(data), a)  # the input is left as it was
    scalar = assign(data, index, 2.0)
    ref[_to_torch_index(index)] = 2.0
    np.testing.assert_array_equal(np.array(scalar), ref.numpy())


def test_assign_casts_and_checks_the_value():
    from lucid.ops.indexing import assign

    data = lucid.tensor([[1, 2], [3, 4]])._data
    out = assign(data, (slice(None), 0), lucid.tensor([7.9, 8.2]))
    assert out.dtype == lucid.int64 and np.array(out).tolist() == [[7, 2], [8, 4]]
    with pytest.raises(ShapeError, match=r"setitem: value of shape \(3,\).*\(2,\)"):
        assign(data, 0, lucid.tensor([1, 2, 3]))
    with pytest.raises(LucidIndexError, match="setitem: index 2 is out of range"):
        assign(data, (0, 2), 1)


def test_negative_indices_count_from_the_end():
    neg, pos = np.array([[-1, 0], [-4, -2], [1, -3]]), np.array([[3, 0], [0, 2], [1, 1]])
    check_op(lambda a: a.gather(1, neg), lambda a: a.gather(1, torch.from_numpy(pos)),
             randn(3, 4))
    check_op(lambda a: a.index_select(0, [-1, -3]),
             lambda a: a.index_select(0, torch.tensor([2, 0])), randn(3, 4))
    check_op(lambda a: a.take(neg), lambda a: a.take(torch.from_numpy(neg % 12)), randn(3, 4))
