"""Shape ops against PyTorch: forward values and gradients, edge shapes, errors."""

import lucid
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lucid import LucidIndexError, ShapeError
from tensor_parity import check_op, randn

# ----- reshape / view / flatten -----------------------------------------------------


@pytest.mark.parametrize(
    "shape, new",
    [
        ((2, 3, 4), (6, 4)),
        ((2, 3, 4), (-1,)),
        ((2, 3, 4), (4, -1, 2)),
        ((6,), (1, 6, 1)),
        ((), (1,)),
        ((1,), ()),
        ((0, 3), (3, 0)),
        ((0, 3), (-1, 3)),
    ],
)
def test_reshape_matches_torch(shape, new):
    check_op(lambda x: x.reshape(new), lambda x: x.reshape(new), randn(*shape))
    check_op(lambda x: lucid.reshape(x, new), lambda x: torch.reshape(x, new), randn(*shape))
    check_op(lambda x: x.view(new), lambda x: x.view(new), randn(*shape))
    if new:
        check_op(lambda x: x.reshape(*new), lambda x: x.reshape(*new), randn(*shape))
        check_op(lambda x: x.view(*new), lambda x: x.view(*new), randn(*shape))


def test_reshape_keeps_integer_dtype():
    check_op(lambda x: x.reshape(3, 2), lambda x: x.reshape(3, 2),
             np.arange(6, dtype=np.int64).reshape(2, 3))


@pytest.mark.parametrize("new", [(5, -1), (-1, -1), (7,), (2, -2)])
def test_reshape_bad_shape_raises(new):
    x = lucid.zeros(2, 3)
    with pytest.raises(ShapeError, match=r"reshape.*\(2, 3\)"):
        x.reshape(*new)


def test_reshape_ambiguous_minus_one_with_no_elements():
    with pytest.raises(ShapeError, match="reshape"):
        lucid.zeros(0, 3).reshape(-1, 0)


@pytest.mark.parametrize(
    "shape, start, end",
    [((2, 3, 4), 0, -1), ((2, 3, 4), 1, -1), ((2, 3, 4, 5), 1, 2), ((2, 3, 4), -2, -1),
     ((2, 3), 1, 1), ((), 0, -1), ((0, 3, 2), 1, -1), ((2, 0, 3), 0, 1)],
)
def test_flatten_matches_torch(shape, start, end):
    check_op(lambda x: x.flatten(start, end), lambda x: x.flatten(start, end), randn(*shape))
    check_op(lambda x: lucid.flatten(x, start_dim=start, end_dim=end),
             lambda x: torch.flatten(x, start_dim=start, end_dim=end), randn(*shape))


def test_flatten_bad_dims():
    x = lucid.zeros(2, 3, 4)
    with pytest.raises(lucid.ArgumentError, match="flatten"):
        x.flatten(2, 1)
    with pytest.raises(LucidIndexError, match=r"flatten.*axis 3"):
        x.flatten(3)


# ----- squeeze / unsqueeze ----------------------------------------------------------


@pytest.mark.parametrize("axis", [None, 0, 2, -1, -3, 1, (0, 2), (1,)])
def test_squeeze_matches_torch(axis):
    x = randn(1, 3, 1)
    if axis is None:
        check_op(lambda a: a.squeeze(), lambda a: a.squeeze(), x)
    else:
        check_op(lambda a: a.squeeze(axis), lambda a: a.squeeze(axis), x)
        check_op(lambda a: lucid.squeeze(a, dim=axis), lambda a: torch.squeeze(a, dim=axis), x)


def test_squeeze_empty_and_scalar():
    check_op(lambda a: a.squeeze(), lambda a: a.squeeze(), randn(1, 0, 1))
    check_op(lambda a: a.squeeze(0), lambda a: a.squeeze(0), randn())


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -4])
def test_unsqueeze_matches_torch(axis):
    check_op(lambda a: a.unsqueeze(axis), lambda a: a.unsqueeze(axis), randn(2, 0, 3)[:, :0])
    check_op(lambda a: a.unsqueeze(axis), lambda a: a.unsqueeze(axis), randn(2, 1, 3))
    check_op(lambda a: lucid.unsqueeze(a, dim=axis), lambda a: torch.unsqueeze(a, dim=axis),
             randn(2, 4, 3))


def test_unsqueeze_out_of_range():
    with pytest.raises(LucidIndexError, match=r"unsqueeze.*axis 4"):
        lucid.zeros(2, 3).unsqueeze(4)


# ----- axis order -------------------------------------------------------------------


@pytest.mark.parametrize("d0, d1", [(0, 1), (1, 0), (0, 2), (-1, -2), (1, 1), (2, -3)])
def test_transpose_matches_torch(d0, d1):
    check_op(lambda a: a.transpose(d0, d1), lambda a: a.transpose(d0, d1), randn(2, 3, 4))
    check_op(lambda a: lucid.transpose(a, d0, d1), lambda a: torch.transpose(a, d0, d1),
             randn(0, 3, 1))
    check_op(lambda a: lucid.swapaxes(a, d0, d1), lambda a: torch.swapaxes(a, d0, d1),
             randn(2, 3, 4))


def test_transpose_without_axes_and_T():
    check_op(lambda a: a.transpose(), lambda a: a.t(), randn(3, 5))
    check_op(lambda a: a.T, lambda a: a.T, randn(3, 5))
    check_op(lambda a: a.T, lambda a: a, randn(4))
    check_op(lambda a: a.T, lambda a: a.permute(2, 1, 0), randn(2, 3, 4))


@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 4), (2, 0, 3)])
def test_mT_matches_torch(shape):
    check_op(lambda a: a.mT, lambda a: a.mT, randn(*shape))


def test_mT_needs_two_dims():
    with pytest.raises(ShapeError, match="mT"):
        _ = lucid.zeros(3).mT


@pytest.mark.parametrize("axes", [(0, 1, 2), (2, 0, 1), (1, 2, 0), (-1, 0, -2)])
def test_permute_matches_torch(axes):
    check_op(lambda a: a.permute(*axes), lambda a: a.permute(*axes), randn(2, 3, 4))
    check_op(lambda a: a.permute(axes), lambda a: a.permute(axes), randn(2, 3, 4))
    check_op(lambda a: lucid.permute(a, axes), lambda a: torch.permute(a, axes), randn(2, 1, 0))


@pytest.mark.parametrize("axes", [(0, 1), (0, 0, 1), (0, 1, 3)])
def test_permute_bad_axes(axes):
    with pytest.raises((ShapeError, LucidIndexError), match="permute"):
        lucid.zeros(2, 3, 4).permute(*axes)


@pytest.mark.parametrize("src, dst", [(0, -1), (-1, 0), (1, 2), ((0, 1), (2, 0)), ([2], [0])])
def test_moveaxis_matches_torch(src, dst):
    check_op(lambda a: a.moveaxis(src, dst), lambda a: a.moveaxis(src, dst), randn(2, 3, 4))
    check_op(lambda a: lucid.movedim(a, src, dst), lambda a: torch.movedim(a, src, dst),
             randn(2, 3, 4))


# ----- broadcasting -----------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, sizes",
    [((3, 1), (3, 4)), ((3, 1), (-1, 4)), ((1,), (2, 3, 5)), ((2, 1, 3), (4, 2, 5, -1)),
     ((1, 3), (0, 3)), ((2, 3), (2, 3))],
)
def test_expand_matches_torch(shape, sizes):
    check_op(lambda a: a.expand(*sizes), lambda a: a.expand(*sizes), randn(*shape))
    check_op(lambda a: a.expand(sizes), lambda a: a.expand(sizes), randn(*shape))


@pytest.mark.parametrize("shape, target", [((3, 1), (2, 3, 4)), ((), (2, 2)), ((4,), (3, 4))])
def test_broadcast_to_matches_torch(shape, target):
    check_op(lambda a: lucid.broadcast_to(a, target), lambda a: torch.broadcast_to(a, target),
             randn(*shape))
    check_op(lambda a: a.broadcast_to(target), lambda a: a.broadcast_to(target), randn(*shape))


@pytest.mark.parametrize("sizes", [(2, 4), (4,), (-1, 3, 5)])
def test_expand_bad_sizes(sizes):
    with pytest.raises(ShapeError, match=r"(expand|broadcast_to).*\(3, 5\)|expand"):
        lucid.zeros(3, 5).expand(*sizes)


# ----- cat / stack ------------------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1, -1, 2])
def test_cat_matches_torch(axis):
    shapes = [(2, 3, 4), (2, 3, 4), (2, 3, 4)]
    sizes = [1, 2, 0]
    inputs = []
    for k, n in enumerate(sizes):
        s = list(shapes[k])
        s[axis] = n
        inputs.append(randn(*s, seed=k))
    check_op(lambda ts: lucid.cat(ts, axis), lambda ts: torch.cat(ts, axis), inputs)
    check_op(lambda ts: lucid.cat(ts, dim=axis), lambda ts: torch.cat(ts, dim=axis), inputs)
    check_op(lambda ts: lucid.concatenate(ts, axis=axis), lambda ts: torch.cat(ts, axis), inputs)


def test_cat_one_tensor_and_tuple_input():
    check_op(lambda ts: lucid.cat(tuple(ts)), lambda ts: torch.cat(tuple(ts)), [randn(2, 3)])


def test_cat_grad_only_for_some_inputs():
    a = lucid.tensor(randn(2, 3), requires_grad=True)
    b = lucid.tensor(randn(1, 3, seed=1))
    out = lucid.cat([b, a, b])
    assert out.shape == (4, 3)
    out.backward(lucid.tensor(np.arange(12, dtype=np.float32).reshape(4, 3)))
    np.testing.assert_array_equal(a.grad.numpy(), np.arange(3, 9, dtype=np.float32).reshape(2, 3))
    assert b.grad is None


def test_cat_errors():
    with pytest.raises(ShapeError, match=r"concatenate.*\(2, 3\).*\(2, 4\)"):
        lucid.cat([lucid.zeros(2, 3), lucid.zeros(2, 4)])
    with pytest.raises(ShapeError, match="concatenate"):
        lucid.cat([lucid.zeros(2, 3), lucid.zeros(3)])
    with pytest.raises(lucid.ArgumentError, match="concatenate"):
        lucid.cat([])
    with pytest.raises(lucid.ArgumentTypeError, match="concatenate"):
        lucid.cat(lucid.zeros(2, 3))
    with pytest.raises(LucidIndexError, match=r"concatenate.*axis 2"):
        lucid.cat([lucid.zeros(2, 3)], 2)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_stack_matches_torch(axis):
    inputs = [randn(2, 3, seed=k) for k in range(3)]
    check_op(lambda ts: lucid.stack(ts, axis), lambda ts: torch.stack(ts, axis), inputs)
    check_op(lambda ts: lucid.stack(ts, dim=axis), lambda ts: torch.stack(ts, dim=axis), inputs)


def test_stack_scalars_and_empty():
    check_op(lambda ts: lucid.stack(ts), lambda ts: torch.stack(ts), [randn(), randn(seed=1)])
    check_op(lambda ts: lucid.stack(ts, 1), lambda ts: torch.stack(ts, 1),
             [randn(0, 2), randn(0, 2, seed=1)])


def test_stack_errors():
    with pytest.raises(ShapeError, match=r"stack.*\(2, 3\).*\(3, 2\)"):
        lucid.stack([lucid.zeros(2, 3), lucid.zeros(3, 2)])
    with pytest.raises(LucidIndexError, match="stack"):
        lucid.stack([lucid.zeros(2, 3)], 3)


# ----- split / chunk / unbind -------------------------------------------------------


@pytest.mark.parametrize(
    "shape, size, dim",
    [((7, 3), 2, 0), ((6, 3), 3, 0), ((2, 5), 2, 1), ((2, 5), [1, 3, 1], -1),
     ((4, 2), [4, 0], 0), ((3, 2), 5, 0), ((0, 2), 1, 0)],
)
def test_split_matches_torch(shape, size, dim):
    check_op(lambda a: a.split(size, dim), lambda a: a.split(size, dim), randn(*shape))
    check_op(lambda a: lucid.split(a, size, dim=dim), lambda a: torch.split(a, size, dim=dim),
             randn(*shape))


def test_split_errors():
    x = lucid.zeros(5, 2)
    with pytest.raises(ShapeError, match=r"split.*\[2, 2\].*5"):
        x.split([2, 2])
    with pytest.raises(lucid.ArgumentError, match="split"):
        x.split(0)
    with pytest.raises(LucidIndexError, match="split"):
        x.split(1, 2)


@pytest.mark.parametrize("n, chunks", [(6, 3), (7, 3), (5, 2), (2, 4), (1, 1)])
def test_chunk_matches_torch(n, chunks):
    check_op(lambda a: a.chunk(chunks, 1), lambda a: a.chunk(chunks, 1), randn(2, n))
    check_op(lambda a: lucid.chunk(a, chunks, dim=-1), lambda a: torch.chunk(a, chunks, dim=-1),
             randn(2, n))


def test_chunk_bad_count():
    with pytest.raises(lucid.ArgumentError, match="chunk"):
        lucid.zeros(4).chunk(0)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unbind_matches_torch(dim):
    check_op(lambda a: a.unbind(dim), lambda a: a.unbind(dim), randn(2, 3, 4))
    check_op(lambda a: lucid.unbind(a, dim), lambda a: torch.unbind(a, dim), randn(3, 1))


def test_split_pieces_used_twice_accumulate():
    x = lucid.tensor(randn(4, 2), requires_grad=True)
    a, b = x.split(2)
    (a * 2 + a + b * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.array([[3, 3], [3, 3], [3, 3], [3, 3]]))


# ----- pad --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, widths",
    [((2, 3), (1, 2)), ((2, 3, 4), (1, 0, 2, 1)), ((2, 3, 4), (0, 0, 0, 0, 1, 1)),
     ((2, 3), (-1, 1)), ((2, 5), (-2, -1, 1, 0)), ((0, 3), (1, 1)), ((2, 3), ())],
)
@pytest.mark.parametrize("value", [0.0, -1.5])
def test_pad_constant_matches_torch(shape, widths, value):
    check_op(lambda a: lucid.pad(a, widths, value=value),
             lambda a: F.pad(a, widths, value=value), randn(*shape))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("widths", [(1, 2, 0, 1), (2, 0, 1, 1), (0, 3, 2, 2)])
def test_pad_modes_match_torch(mode, widths):
    check_op(lambda a: lucid.pad(a, widths, mode=mode), lambda a: F.pad(a, widths, mode=mode),
             randn(2, 3, 4, 5))


def test_pad_modes_on_3d_input():
    for mode in ("reflect", "replicate", "circular"):
        check_op(lambda a, m=mode: lucid.pad(a, (2, 1), mode=m),
                 lambda a, m=mode: F.pad(a, (2, 1), mode=m), randn(1, 2, 4))


def test_pad_errors():
    x = lucid.zeros(2, 3)
    with pytest.raises(ShapeError, match=r"pad.*pairs"):
        lucid.pad(x, (1, 2, 3))
    with pytest.raises(ShapeError, match=r"pad.*pairs"):
        lucid.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(lucid.ArgumentError, match=r"pad.*unknown mode"):
        lucid.pad(x, (1, 1), mode="wrap")
    with pytest.raises(ShapeError, match=r"pad.*reflect.*\(2, 3\)"):
        lucid.pad(x, (3, 0), mode="reflect")


# ----- repeat / tile / flip ---------------------------------------------------------


@pytest.mark.parametrize(
    "shape, reps",
    [((2, 3), (2, 1)), ((2, 3), (1, 3)), ((2, 3), (2, 2, 2)), ((3,), (4, 2)), ((2, 1), (1, 1)),
     ((2, 3), (0, 2)), ((), (3,))],
)
def test_repeat_matches_torch(shape, reps):
    check_op(lambda a: a.repeat(*reps), lambda a: a.repeat(*reps), randn(*shape))
    check_op(lambda a: a.repeat(reps), lambda a: a.repeat(reps), randn(*shape))


@pytest.mark.parametrize("shape, reps", [((2, 3), (2,)), ((2, 3, 2), (2, 1)), ((2,), (3, 2))])
def test_tile_matches_torch(shape, reps):
    check_op(lambda a: lucid.tile(a, reps), lambda a: torch.tile(a, reps), randn(*shape))


def test_repeat_negative_raises():
    with pytest.raises(ShapeError, match="repeat"):
        lucid.zeros(2).repeat(-1)


@pytest.mark.parametrize("dims", [(0,), (1,), (-1,), (0, 2), (0, 1, 2)])
def test_flip_matches_torch(dims):
    check_op(lambda a: a.flip(dims), lambda a: a.flip(dims), randn(2, 3, 4))
    check_op(lambda a: a.flip(*dims), lambda a: a.flip(*dims), randn(2, 0, 4))
    check_op(lambda a: lucid.flip(a, dims=dims), lambda a: torch.flip(a, dims=dims), randn(2, 3, 4))


def test_flip_bad_axis():
    with pytest.raises(LucidIndexError, match="flip"):
        lucid.zeros(2, 3).flip(2)


def test_contiguous_is_the_same_values():
    x = lucid.tensor(randn(2, 3))
    np.testing.assert_array_equal(x.T.contiguous().numpy(), randn(2, 3).T)


# ----- chains -----------------------------------------------------------------------


def test_chain_of_shape_ops_matches_torch():
    def chain(a, b):
        y = lucid.cat([a.permute(0, 2, 1), b.unsqueeze(1).expand(-1, 1, 4)], 1) \
            if isinstance(a, lucid.Tensor) else \
            torch.cat([a.permute(0, 2, 1), b.unsqueeze(1).expand(-1, 1, 4)], 1)
        return y.flatten(1).reshape(2, 4, -1).transpose(0, 1).flip(0)

    check_op(chain, chain, randn(2, 4, 3), randn(2, 4, seed=1))


def test_shape_ops_record_no_graph_under_no_grad():
    x = lucid.tensor(randn(2, 3), requires_grad=True)
    with lucid.no_grad():
        y = lucid.cat([x.T.reshape(-1), x.flatten()])
    assert not y.requires_grad and y.grad_fn is None
