"""PyTorch's bmm, einsum, scatter/scatter_add, isclose/allclose, clone, t, view_as,
expand_as, add/sub with alpha and the *_like random functions, against PyTorch: forward
values, gradients, broadcasting, edge shapes and bad input."""

import lucid
import numpy as np
import pytest
import torch
from lucid import DTypeError, GradError, LucidIndexError, ShapeError
from tensor_parity import assert_close, check_forward, check_op, randn

# ----- bmm ---------------------------------------------------------------------------


@pytest.mark.parametrize("shapes", [((3, 2, 4), (3, 4, 5)), ((1, 1, 1), (1, 1, 1)),
                                    ((2, 0, 3), (2, 3, 4)), ((2, 3, 0), (2, 0, 4))])
def test_bmm_matches_torch(shapes):
    a, b = randn(*shapes[0], seed=1), randn(*shapes[1], seed=2)
    check_op(lucid.bmm, torch.bmm, a, b)
    check_op(lambda x, y: x.bmm(y), lambda x, y: x.bmm(y), a, b)


@pytest.mark.parametrize("shapes", [((2, 3), (3, 4)), ((2, 3, 4), (1, 4, 5)),
                                    ((2, 3, 4), (2, 5, 4)), ((1, 2, 3, 4), (1, 2, 4, 3))])
def test_bmm_refuses_what_torch_refuses(shapes):
    a, b = lucid.tensor(randn(*shapes[0])), lucid.tensor(randn(*shapes[1]))
    with pytest.raises(RuntimeError):
        torch.bmm(torch.tensor(randn(*shapes[0])), torch.tensor(randn(*shapes[1])))
    with pytest.raises(ShapeError, match=r"bmm: .*" + str(tuple(shapes[0])).replace("(", r"\(")
                       .replace(")", r"\)")):
        lucid.bmm(a, b)


# ----- einsum ------------------------------------------------------------------------
EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),                # implicit output: ik
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),                        # a label only the input has: summed
    ("i,j->ij", [(3,), (4,)]),                  # outer product
    ("i,i->", [(5,), (5,)]),                    # dot product
    ("ii->i", [(4, 4)]),                        # diagonal
    ("ii", [(4, 4)]),                           # trace (implicit)
    ("iij->j", [(3, 3, 2)]),                    # a repeated label beside another
    ("ji,ik", [(3, 4), (4, 2)]),                # implicit output sorted: jk
    ("ba,ab", [(3, 4), (4, 3)]),                # implicit: nothing once -> scalar
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    ("...ij,...jk", [(2, 1, 3, 4), (3, 4, 5)]),  # ellipsis axes broadcast (1 vs 3)
    ("b...,b...->b", [(2, 3, 4), (2, 3, 4)]),
    ("...i->...", [(2, 3, 4)]),
    ("i...->...", [(3, 2, 4)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("i,i->i", [(4,), (1,)]),                   # a length-1 axis broadcast
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),  # attention scores
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("Aa,aB->AB", [(2, 3), (3, 4)]),            # upper-case labels
    ("ij,jk->ik", [(0, 3), (3, 4)]),            # empty
    ("i,i->", [(0,), (0,)]),
    (" ij , jk -> ik ", [(2, 3), (3, 2)]),      # spaces
]


@pytest.mark.parametrize("equation, shapes", EINSUM_CASES)
def test_einsum_matches_torch_forward_and_gradients(equation, shapes):
    arrays = [randn(*s, seed=i) for i, s in enumerate(shapes)]
    check_op(lambda *t: lucid.einsum(equation, *t), lambda *t: torch.einsum(equation, *t),
             *arrays, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_einsum_on_integers_is_exact_like_torch(dtype):
    a = np.random.default_rng(1).integers(-10**6, 10**6, (3, 4)).astype(dtype)
    b = np.random.default_rng(2).integers(-10**6, 10**6, (4, 5)).astype(dtype)
    check_forward(lambda x, y: lucid.einsum("ij,jk->ik", x, y),
                  lambda x, y: torch.einsum("ij,jk->ik", x, y), a.astype(np.int64),
                  b.astype(np.int64))
    check_forward(lambda x, y: lucid.einsum("ij,jk->ik", x, y),
                  lambda x, y: torch.einsum("ij,jk->ik", x, y), a // 100, b // 100)
    check_forward(lambda x: lucid.einsum("ii", x), lambda x: torch.einsum("ii", x),
                  a[:, :3].astype(np.int64))


def test_einsum_takes_a_list_of_operands():
    a, b = randn(2, 3, seed=1), randn(3, 4, seed=2)
    check_op(lambda x, y: lucid.einsum("ij,jk->ik", [x, y]),
             lambda x, y: torch.einsum("ij,jk->ik", [x, y]), a, b)


@pytest.mark.parametrize("equation, shapes, pattern", [
    ("ij,jk->ik", [(2, 3), (4, 5)], r"label 'j' has lengths 3 and 4"),
    ("ij,jk->ik", [(2, 3)], r"2 operand\(s\), but 1"),
    ("ijk->i", [(2, 3)], r"name 3 axes, but the operand has shape \(2, 3\)"),
    ("ii->i", [(2, 3)], r"repeated in one operand"),
])
def test_einsum_bad_equations_raise_shape_errors(equation, shapes, pattern):
    with pytest.raises(ShapeError, match="einsum: .*" + pattern):
        lucid.einsum(equation, *[lucid.zeros(*s) for s in shapes])


@pytest.mark.parametrize("equation, shapes, pattern", [
    ("ij->ii", [(2, 2)], r"output subscripts repeat"),
    ("ij->k", [(2, 2)], r"appear in no operand"),
    ("i1->i", [(2, 2)], r"invalid subscripts"),
])
def test_einsum_invalid_equations_raise_argument_errors(equation, shapes, pattern):
    with pytest.raises(lucid.ArgumentError, match="einsum: .*" + pattern):
        lucid.einsum(equation, *[lucid.zeros(*s) for s in shapes])


def test_einsum_and_bmm_wrong_argument_types():
    with pytest.raises(lucid.ArgumentTypeError, match="einsum: the first argument must be the "
                       "equation string, got Tensor"):
        lucid.einsum(lucid.zeros(2), "i->")
    with pytest.raises(lucid.ArgumentTypeError, match="einsum: needs at least one operand"):
        lucid.einsum("i->")
    with pytest.raises(lucid.ArgumentTypeError, match="bmm: both operands must be tensors, "
                       "got Tensor and list"):
        lucid.bmm(lucid.zeros(1, 2, 2), [[[1.0, 2.0], [3.0, 4.0]]])


# ----- scatter / scatter_add ----------------------------------------------------------
def _distinct_index(shape, dim, n, seed):
    """An index of ``shape`` whose entries along ``dim`` are distinct in [0, n) (no two
    writes to one position, where PyTorch's scatter leaves the winner unspecified)."""
    rng = np.random.default_rng(seed)
    moved = list(shape)
    moved.append(moved.pop(dim))
    rows = [rng.permutation(n)[: moved[-1]] for _ in range(int(np.prod(moved[:-1])))]
    idx = np.array(rows, dtype=np.int64).reshape(moved)
    return np.moveaxis(idx, -1, dim)


def _covered(index_shape):
    """The part of src an index reads. torch's scatter backward fails when src is longer
    than the index ("invalid gradient"), so torch is given that part alone: its gradient
    then reaches the whole src, zero elsewhere, which is what Lucid gives src itself."""
    return tuple(slice(0, n) for n in index_shape)


SCATTER_CASES = [  # (input shape, dim, index shape, src shape)
    ((4, 5), 0, (3, 5), (3, 5)),
    ((4, 5), 1, (4, 2), (4, 3)),      # src longer than index: only its covered part is read
    ((4, 5), -1, (2, 3), (3, 4)),     # index shorter than the input on the other axis
    ((3, 4, 5), 1, (3, 2, 5), (3, 2, 5)),
    ((3, 4, 5), 2, (2, 4, 3), (2, 4, 5)),
    ((5,), 0, (3,), (4,)),
    ((4, 5), 0, (0, 5), (2, 5)),      # empty index: nothing written
]


@pytest.mark.parametrize("shape, dim, ishape, sshape", SCATTER_CASES)
def test_scatter_matches_torch(shape, dim, ishape, sshape):
    x, src = randn(*shape, seed=1), randn(*sshape, seed=2)
    idx = _distinct_index(ishape, dim % len(shape), shape[dim], seed=3)
    check_op(lambda a, i, s: a.scatter(dim, i, s),
             lambda a, i, s: a.scatter(dim, i, s[_covered(ishape)]), x, idx, src)
    check_op(lambda a, i, s: lucid.scatter(a, dim, i, s),
             lambda a, i, s: torch.scatter(a, dim, i, s[_covered(ishape)]), x, idx, src)


@pytest.mark.parametrize("shape, dim, ishape, sshape", SCATTER_CASES)
def test_scatter_add_matches_torch_with_repeated_indices(shape, dim, ishape, sshape):
    x, src = randn(*shape, seed=4), randn(*sshape, seed=5)
    idx = np.random.default_rng(6).integers(0, shape[dim], ishape)  # repeats accumulate
    check_op(lambda a, i, s: a.scatter_add(dim, i, s),
             lambda a, i, s: a.scatter_add(dim, i, s[_covered(ishape)]), x, idx, src)
    check_op(lambda a, i, s: lucid.scatter_add(a, dim, i, s),
             lambda a, i, s: torch.scatter_add(a, dim, i, s[_covered(ishape)]), x, idx, src)


def test_scatter_a_number_and_value_keyword():
    x, idx = randn(3, 4, seed=1), _distinct_index((2, 4), 0, 3, seed=2)
    check_op(lambda a, i: a.scatter(0, i, 2.5), lambda a, i: a.scatter(0, i, 2.5), x, idx)
    check_op(lambda a, i: lucid.scatter(a, 0, i, value=-1.0),
             lambda a, i: torch.scatter(a, 0, i, value=-1.0), x, idx)


def test_scatter_into_integers_and_one_hot_idiom():
    labels = np.array([2, 0, 1, 2], np.int64)
    out = lucid.zeros(4, 3).scatter(1, lucid.tensor(labels).unsqueeze(1), 1.0)
    ref = torch.zeros(4, 3).scatter(1, torch.tensor(labels).unsqueeze(1), 1.0)
    assert_close(out, ref)
    counts = lucid.zeros(3, dtype=lucid.int64).scatter_add(
        0, lucid.tensor(labels), lucid.ones(4, dtype=lucid.int64))
    assert_close(counts, torch.zeros(3, dtype=torch.int64).scatter_add(
        0, torch.tensor(labels), torch.ones(4, dtype=torch.int64)))


def test_scatter_on_0d_tensors_like_torch():
    check_op(lambda a, i, s: a.scatter(0, i, s), lambda a, i, s: a.scatter(0, i, s),
             np.float32(1.5), np.array(0), np.float32(3.0))
    check_op(lambda a, i, s: a.scatter_add(0, i, s), lambda a, i, s: a.scatter_add(0, i, s),
             np.float32(1.5), np.array(0), np.float32(3.0))


def test_scatter_in_place_forms_mutate_every_reference():
    x, src = randn(3, 4, seed=1), randn(2, 4, seed=2)
    idx = _distinct_index((2, 4), 0, 3, seed=3)
    lx, tx = lucid.tensor(x), torch.tensor(x)
    alias = lx
    assert lx.scatter_(0, lucid.tensor(idx), lucid.tensor(src)) is lx
    tx.scatter_(0, torch.tensor(idx), torch.tensor(src))
    assert_close(alias, tx)
    assert lx.scatter_add_(1, lucid.tensor(idx[:, :2]), lucid.tensor(src)) is lx
    tx.scatter_add_(1, torch.tensor(idx[:, :2]), torch.tensor(src))
    assert_close(alias, tx)
    leaf = lucid.tensor(x, requires_grad=True)
    with pytest.raises(GradError, match="scatter_"):
        leaf.scatter_(0, lucid.tensor(idx), lucid.tensor(src))


def test_scatter_in_place_in_the_graph_gives_torchs_gradients():
    x, src = randn(3, 4, seed=1), randn(2, 4, seed=2)
    idx = _distinct_index((2, 4), 0, 3, seed=3)

    def lucid_fn(a, s):
        y = a * 2
        y.scatter_(0, lucid.tensor(idx), s)
        return y.scatter_add_(1, lucid.tensor(idx[:, :2]), s[:, :2] * 3)

    def torch_fn(a, s):
        y = a * 2
        y.scatter_(0, torch.tensor(idx), s)
        return y.scatter_add_(1, torch.tensor(idx[:, :2]), s[:, :2] * 3)

    check_op(lucid_fn, torch_fn, x, src)


@pytest.mark.parametrize("call, error, pattern", [
    (lambda x: x.scatter(0, lucid.tensor([[3, 0]]), lucid.ones(1, 2)), LucidIndexError,
     r"index 3 is out of range for axis 0 of size 3"),
    (lambda x: x.scatter(2, lucid.tensor([[0]]), lucid.ones(1, 1)), LucidIndexError, "axis 2"),
    (lambda x: x.scatter(0, lucid.tensor([0, 1]), lucid.ones(2)), ShapeError,
     r"index of shape \(2,\) must have as many dims"),
    (lambda x: x.scatter(0, lucid.tensor([[0, 1, 2, 0, 1]]), lucid.ones(1, 5)), ShapeError,
     "longer than the input"),
    (lambda x: x.scatter(0, lucid.tensor([[0, 1]]), lucid.ones(1, 1)), ShapeError,
     "longer than src"),
    (lambda x: x.scatter(0, lucid.tensor([[0.0]]), lucid.ones(1, 1)), DTypeError,
     "index must be an integer"),
    (lambda x: x.scatter_add(0, lucid.tensor([[0]]), lucid.ones(1, 1, dtype=lucid.int64)),
     DTypeError, r"src dtype int64 differs from the input's float32"),
])
def test_scatter_bad_input_raises_lucid_errors(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(lucid.zeros(3, 4))


# ----- isclose / allclose ------------------------------------------------------------
CLOSE_A = np.array([1.0, 1.0, 1e10, np.inf, -np.inf, np.inf, np.nan, np.nan, 0.0, 1e-9],
                   np.float32)
CLOSE_B = np.array([1.0, 1.0 + 1e-6, 1.00001e10, np.inf, np.inf, 1.0, np.nan, 1.0, 1e-9, 0.0],
                   np.float32)


@pytest.mark.parametrize("kwargs", [{}, {"equal_nan": True}, {"rtol": 0.0, "atol": 0.0},
                                    {"rtol": 1e-3}, {"atol": 1e-2}, {"rtol": 0, "atol": 1e-8}])
def test_isclose_and_allclose_match_torch(kwargs):
    check_forward(lambda a, b: lucid.isclose(a, b, **kwargs),
                  lambda a, b: torch.isclose(a, b, **kwargs), CLOSE_A, CLOSE_B)
    check_forward(lambda a, b: a.isclose(b, **kwargs), lambda a, b: a.isclose(b, **kwargs),
                  CLOSE_A, CLOSE_B)
    for a, b in ((CLOSE_A, CLOSE_B), (CLOSE_A[:2], CLOSE_B[:2]), (CLOSE_A[6:7], CLOSE_A[6:7])):
        got = lucid.allclose(lucid.tensor(a), lucid.tensor(b), **kwargs)
        assert type(got) is bool
        assert got == torch.allclose(torch.tensor(a), torch.tensor(b), **kwargs)
        assert lucid.tensor(a).allclose(lucid.tensor(b), **kwargs) == got


def test_isclose_broadcasts_compares_integers_and_records_no_gradient():
    a, b = randn(3, 1, seed=1), randn(1, 4, seed=2)
    check_forward(lucid.isclose, torch.isclose, a, b)
    x = lucid.tensor(a, requires_grad=True)
    out = lucid.isclose(x, x + 1e-7)
    assert out.dtype == lucid.bool_ and not out.requires_grad
    assert bool(out.all())
    i, j = np.array([1, 2, 100000000]), np.array([1, 3, 100000001])
    check_forward(lucid.isclose, torch.isclose, i, j)
    check_forward(lambda p, q: lucid.isclose(p, q, rtol=0.4, atol=0),
                  lambda p, q: torch.isclose(p, q, rtol=0.4, atol=0), i, j)
    assert lucid.allclose(lucid.ones(0), lucid.zeros(0))  # empty: vacuously true
    with pytest.raises(ShapeError, match="isclose"):
        lucid.isclose(lucid.ones(3), lucid.ones(4))
    with pytest.raises(lucid.ArgumentError, match="isclose: rtol and atol must be non-negative"):
        lucid.isclose(lucid.ones(3), lucid.ones(3), rtol=-1)


# ----- clone, t, view_as, expand_as --------------------------------------------------
def test_clone_is_a_differentiable_copy_with_its_own_storage():
    check_op(lambda a: a.clone() * 3, lambda a: a.clone() * 3, randn(2, 3))
    check_op(lambda a: lucid.clone(a), lambda a: torch.clone(a), randn(0, 3))
    x = lucid.tensor([1.0, 2.0])
    y = x.clone()
    y += 1
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])
    x.mul_(10)
    np.testing.assert_array_equal(y.numpy(), [2.0, 3.0])
    i = lucid.tensor([1, 2])
    assert i.clone().dtype == lucid.int64 and not i.clone().requires_grad


@pytest.mark.parametrize("shape", [(3, 4), (1, 5), (4,), (), (0, 2)])
def test_t_matches_torch(shape):
    check_op(lambda a: a.t(), lambda a: a.t(), randn(*shape))
    check_op(lucid.t, torch.t, randn(*shape))


def test_t_refuses_more_than_two_dims():
    with pytest.raises(ShapeError, match=r"t: expects a tensor with <= 2 dimensions.*\(2, 3, 4\)"):
        lucid.zeros(2, 3, 4).t()


@pytest.mark.parametrize("shape, other", [((2, 6), (3, 4)), ((12,), (2, 2, 3)), ((1,), ()),
                                          ((0, 3), (3, 0))])
def test_view_as_matches_torch(shape, other):
    o = randn(*other)
    check_op(lambda a, b: a.view_as(b), lambda a, b: a.view_as(b), randn(*shape), o,
             grad=[True, False])


@pytest.mark.parametrize("shape, other", [((3, 1), (3, 4)), ((4,), (2, 3, 4)), ((), (2, 2)),
                                          ((1, 1), (0, 5)), ((2, 3), (2, 3))])
def test_expand_as_matches_torch(shape, other):
    o = randn(*other)
    check_op(lambda a, b: a.expand_as(b), lambda a, b: a.expand_as(b), randn(*shape), o,
             grad=[True, False])


def test_view_as_and_expand_as_bad_shapes():
    with pytest.raises(ShapeError, match="reshape"):
        lucid.zeros(2, 3).view_as(lucid.zeros(4))
    with pytest.raises(ShapeError, match="broadcast"):
        lucid.zeros(2, 3).expand_as(lucid.zeros(3, 2))
    with pytest.raises(lucid.ArgumentTypeError, match="expand_as: other must be a Tensor"):
        lucid.zeros(2).expand_as((2,))


# ----- add / sub with alpha ----------------------------------------------------------
@pytest.mark.parametrize("alpha", [1, 2, -0.5, 0])
@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((2, 3), (3,)), ((4, 1), (1, 5)), ((), (2,))])
def test_add_and_sub_with_alpha_match_torch(alpha, shapes):
    a, b = randn(*shapes[0], seed=1), randn(*shapes[1], seed=2)
    for name in ("add", "sub"):
        check_op(lambda x, y, n=name: getattr(lucid, n)(x, y, alpha=alpha),
                 lambda x, y, n=name: getattr(torch, n)(x, y, alpha=alpha), a, b)
        check_op(lambda x, y, n=name: getattr(x, n)(y, alpha=alpha),
                 lambda x, y, n=name: getattr(x, n)(y, alpha=alpha), a, b)
    check_op(lambda x: x.add(3.0, alpha=alpha), lambda x: x.add(3.0, alpha=alpha), a)
    check_op(lambda x: x.sub(3.0, alpha=alpha), lambda x: x.sub(3.0, alpha=alpha), a)


def test_add_alpha_on_integers_and_half_keeps_the_dtype():
    i, j = np.array([1, 2, 3]), np.array([4, 5, 6])
    check_forward(lambda x, y: x.add(y, alpha=3), lambda x, y: x.add(y, alpha=3), i, j)
    h = lucid.ones(3, dtype=lucid.float16)
    assert h.sub(h, alpha=2).dtype == lucid.float16
    assert h.add(1.0, alpha=2).dtype == lucid.float16


# ----- random *_like and randperm ----------------------------------------------------
def test_randn_like_and_rand_like_take_shape_dtype_and_seed():
    x = lucid.zeros(200, 50, dtype=lucid.float16)
    lucid.manual_seed(3)
    a = lucid.randn_like(x)
    lucid.manual_seed(3)
    b = lucid.randn(200, 50, dtype=lucid.float16)
    assert a.shape == x.shape and a.dtype == lucid.float16 and a.device == x.device
    np.testing.assert_array_equal(a.numpy(), b.numpy())  # the same generator as randn
    v = a.numpy().astype(np.float64)
    assert abs(v.mean()) < 0.05 and abs(v.std() - 1) < 0.05
    u = lucid.rand_like(x, dtype=lucid.float32).numpy()
    assert u.dtype == np.float32 and u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.02
    r = lucid.randn_like(lucid.zeros(2, 3), requires_grad=True)
    assert r.requires_grad and r.is_leaf
    assert lucid.randn_like(lucid.zeros(0, 3)).shape == (0, 3)
    with pytest.raises(DTypeError, match=r"randn_like: needs a floating-point dtype, got int64"):
        lucid.randn_like(lucid.zeros(2, dtype=lucid.int64))
    with pytest.raises(DTypeError, match="rand_like"):
        lucid.rand_like(lucid.zeros(2), dtype=lucid.int32)


def test_randint_like_follows_torchs_signature():
    x = lucid.zeros(1000, dtype=lucid.int32)
    hi = lucid.randint_like(x, 5).numpy()
    assert hi.dtype == np.int32 and set(np.unique(hi)) == set(range(5))
    lo = lucid.randint_like(x, 3, 6, dtype=lucid.int64).numpy()
    assert lo.dtype == np.int64 and set(np.unique(lo)) == {3, 4, 5}
    f = lucid.randint_like(lucid.zeros(100, 2), 10)
    assert f.dtype == lucid.float32 and f.shape == (100, 2)
    assert np.array_equal(f.numpy(), np.floor(f.numpy())) and f.numpy().max() <= 9
    with pytest.raises(lucid.LucidError, match="randint: low must be less than high"):
        lucid.randint_like(x, 4, 4)


@pytest.mark.parametrize("n", [0, 1, 7, 1000])
def test_randperm_is_a_permutation(n):
    p = lucid.randperm(n)
    assert p.dtype == lucid.int64 and p.shape == (n,)
    np.testing.assert_array_equal(np.sort(p.numpy()), np.arange(n))


def test_randperm_is_seeded_and_takes_a_dtype():
    lucid.manual_seed(7)
    a = lucid.randperm(50).numpy()
    lucid.manual_seed(7)
    b = lucid.randperm(50).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, np.arange(50))
    f = lucid.randperm(5, dtype=lucid.float32, requires_grad=True)
    assert f.dtype == lucid.float32 and f.requires_grad
    with pytest.raises(ShapeError, match="randperm: n must be non-negative, got -1"):
        lucid.randperm(-1)
    for bad in (2.5, True, "3"):
        with pytest.raises(lucid.ArgumentTypeError, match="randperm: n must be an int"):
            lucid.randperm(bad)
    assert lucid.randperm(np.int64(3)).shape == (3,)


# ----- float64 -----------------------------------------------------------------------
def test_float64_names_and_conversions():
    assert lucid.float64 == lucid.double == lucid.Float64
    for name in ("float64", "double", torch.float64):
        assert lucid.zeros(2, dtype=name).dtype == lucid.float64
    x = lucid.tensor([1.5, -2.0]).double()
    assert x.dtype == lucid.float64 and x.dtype_name == "float64" and x.is_floating_point
    assert x.double() is x
    assert lucid.tensor([1, 2]).double().dtype == lucid.float64
    assert lucid.zeros(3, dtype=lucid.float64).to(lucid.float32).dtype == lucid.float32
    y = lucid.ones(1, dtype=lucid.float64) + 1e-12  # a difference float32 cannot hold
    assert y.item() != 1.0 and abs(y.item() - (1 + 1e-12)) < 1e-15


# MLX 0.32.4's CPU float64 exp, sin, cos, erf and sigmoid are accurate to float32 only
# (relative error up to 3e-7 for exp, 3e-5 for cos, against torch); log, tanh, sqrt,
# +-*/, sums and products are float64-exact. Ops built on exp get a float32 tolerance.
FLOAT32_ACCURATE = {"exp_mul_sum", "softmax"}


@pytest.mark.parametrize("name", ["exp_mul_sum", "tanh_log", "matmul", "softmax", "einsum",
                                  "scatter_add", "var"])
def test_float64_ops_and_gradients_match_torch_in_float64(name):
    a, b = randn(3, 4, seed=1), randn(4, 3, seed=2)
    fns = {
        "exp_mul_sum": lambda x, y, m: ((x.double().exp() * 2).sum(0) + y.double().T),
        "tanh_log": lambda x, y, m: (x.double().tanh() + 2).log() * (y.double().T ** 2 + 1).sqrt(),
        "matmul": lambda x, y, m: x.double() @ y.double(),
        "softmax": lambda x, y, m: m.softmax(x.double(), dim=1),
        "einsum": lambda x, y, m: m.einsum("ij,jk->ik", x.double(), y.double()),
        "scatter_add": lambda x, y, m: x.double().scatter_add(
            0, (m.tensor if m is lucid else torch.tensor)([[0, 2, 1, 0]]), y.double().T[:1]),
        "var": lambda x, y, m: x.double().var(1),
    }
    fn = fns[name]
    tol = (1e-6, 1e-7) if name in FLOAT32_ACCURATE else (1e-10, 1e-12)
    out, _ = check_op(lambda x, y: fn(x, y, lucid), lambda x, y: fn(x, y, torch), a, b,
                      rtol=tol[0], atol=tol[1])
    assert out.dtype == lucid.float64
    x = lucid.tensor(a, requires_grad=True)
    fn(x, lucid.tensor(b), lucid).sum().backward()
    assert x.grad.dtype == lucid.float32  # the gradient is cast back to the input's dtype


def test_float64_check_refuses_other_devices():
    from lucid.ops.float64 import check_device

    class OnGpu:  # what a tensor on MLX's GPU reports
        device, shape, dtype_name = "gpu", (2, 3), "float32"

    with pytest.raises(DTypeError, match=r"double: float64 is supported on the CPU only.*'gpu'"):
        check_device("double", OnGpu())
    check_device("double", lucid.zeros(2))  # the CPU: no error


@pytest.mark.skipif(not lucid.gpu_available(), reason="MLX has no GPU on this machine")
def test_double_on_the_gpu_raises_a_dtype_error():
    with pytest.raises(DTypeError, match="CPU only"):
        lucid.ones(3, device="gpu").double()


def test_float64_from_numpy_keeps_its_precision_and_saving_it_is_refused(tmp_path):
    x = lucid.tensor(np.array([0.1, 1e-12]), dtype=lucid.float64)
    assert x.numpy().tolist() == [0.1, 1e-12]  # not rounded through float32 first
    assert lucid.tensor(np.array([0.1])).dtype == lucid.float32  # PyTorch's default
    with pytest.raises(lucid.CheckpointError, match="'w' is float64.*cast it with .float"):
        lucid.save({"w": x}, tmp_path / "f64.safetensors")
    assert not (tmp_path / "f64.safetensors").exists()
