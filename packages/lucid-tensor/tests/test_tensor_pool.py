"""max_pool2d, avg_pool2d and adaptive_avg_pool2d against torch.nn.functional."""

import lucid
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from tensor_parity import assert_close, check_op, randn, unique

MAX = [
    # (input shape, args, kwargs)
    ((2, 3, 8, 8), (2,), {}),
    ((2, 3, 9, 7), (3, 2, 1), {}),
    ((2, 3, 9, 7), (3,), {"stride": 1}),
    ((2, 3, 9, 7), ((3, 2), (2, 1), (1, 0)), {}),
    ((2, 3, 9, 7), (3, 2, 1), {"ceil_mode": True}),
    ((2, 3, 10, 10), (2, 2), {"ceil_mode": True}),
    ((2, 3, 9, 7), (3, 1, 1), {"dilation": 2}),
    ((1, 2, 5, 5), (5,), {}),
    ((0, 2, 6, 6), (3, 2, 1), {}),  # empty batch
    ((3, 9, 7), (2,), {}),  # unbatched
]


def _ids(cases):
    return [f"{x}-{a}-{kw}" for x, a, kw in cases]


@pytest.mark.parametrize(("xs", "args", "kw"), MAX, ids=_ids(MAX))
def test_max_pool2d_matches_torch(xs, args, kw):
    check_op(lambda x: lucid.max_pool2d(x, *args, **kw),
             lambda x: F.max_pool2d(x, *args, **kw), unique(*xs))


@pytest.mark.parametrize(("args", "kw"), [((2,), {}), ((3, 1, 1), {}), ((3, 2), {})])
def test_max_pool2d_ties_send_the_gradient_to_one_element(args, kw):
    """Ties (integer-valued input): one element per window gets the gradient, as torch."""
    x = np.random.default_rng(0).integers(0, 3, (2, 2, 7, 7)).astype(np.float32)
    check_op(lambda x: lucid.max_pool2d(x, *args, **kw),
             lambda x: F.max_pool2d(x, *args, **kw), x)
    flat = lucid.tensor(np.ones((1, 1, 4, 4), np.float32), requires_grad=True)
    lucid.max_pool2d(flat, 2).backward(lucid.ones(1, 1, 2, 2))
    assert flat.grad.numpy().sum() == 4 and flat.grad.numpy()[0, 0, 0, 0] == 1


@pytest.mark.parametrize(("xs", "args", "kw"), MAX[:7], ids=_ids(MAX[:7]))
def test_max_pool2d_return_indices(xs, args, kw):
    x = unique(*xs)
    out, idx = lucid.max_pool2d(lucid.tensor(x), *args, return_indices=True, **kw)
    t_out, t_idx = F.max_pool2d(torch.tensor(x), *args, return_indices=True, **kw)
    assert_close(out, t_out)
    assert_close(idx, t_idx)


AVG = [
    ((2, 3, 8, 8), (2,), {}),
    ((2, 3, 9, 7), (3, 2, 1), {}),
    ((2, 3, 9, 7), (3, 2, 1), {"count_include_pad": False}),
    ((2, 3, 9, 7), (3, 2, 1), {"ceil_mode": True}),
    ((2, 3, 10, 7), (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}),
    ((2, 3, 9, 7), ((3, 2), (2, 3), (1, 1)), {}),
    ((2, 3, 9, 7), ((3, 2), (2, 3), (1, 1)), {"divisor_override": 5}),
    ((2, 3, 8, 8), (3,), {"stride": 1}),
    ((3, 8, 6), (2,), {}),  # unbatched
]


@pytest.mark.parametrize(("xs", "args", "kw"), AVG, ids=_ids(AVG))
def test_avg_pool2d_matches_torch(xs, args, kw):
    check_op(lambda x: lucid.avg_pool2d(x, *args, **kw),
             lambda x: F.avg_pool2d(x, *args, **kw), randn(*xs))


ADAPTIVE = [
    ((2, 3, 8, 8), (1, 1)),
    ((2, 3, 9, 7), 1),
    ((2, 3, 9, 7), (2, 3)),
    ((2, 3, 8, 6), (2, 3)),
    ((2, 3, 8, 8), (4, 4)),
    ((2, 3, 10, 7), (3, None)),
    ((2, 3, 3, 3), (5, 4)),  # larger than the input: windows overlap
    ((3, 8, 6), (1, 1)),  # unbatched
]


@pytest.mark.parametrize(("xs", "size"), ADAPTIVE, ids=[f"{x}-{s}" for x, s in ADAPTIVE])
def test_adaptive_avg_pool2d_matches_torch(xs, size):
    check_op(lambda x: lucid.adaptive_avg_pool2d(x, size),
             lambda x: F.adaptive_avg_pool2d(x, size), randn(*xs))


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_pools_random_configurations(data):
    draw = data.draw
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    ceil_mode = draw(st.booleans())
    size = [k + draw(st.integers(0, 5)) for k in kernel]
    x = unique(2, 3, *size)
    args = (kernel, stride, padding)
    check_op(lambda x: lucid.max_pool2d(x, *args, ceil_mode=ceil_mode),
             lambda x: F.max_pool2d(x, *args, ceil_mode=ceil_mode), x)
    include = draw(st.booleans())
    check_op(lambda x: lucid.avg_pool2d(x, *args, ceil_mode, include),
             lambda x: F.avg_pool2d(x, *args, ceil_mode, include), x)


def test_pool_after_conv_matches_torch():
    """Pooling a conv output (channel-major storage) and pooling into a conv."""
    def net(conv, pool):
        return lambda x, w: conv(pool(conv(x, w, padding=1), 3, 2, 1), w, padding=1)

    check_op(net(lucid.conv2d, lucid.max_pool2d), net(F.conv2d, F.max_pool2d),
             randn(2, 3, 8, 8, seed=1), randn(3, 3, 3, 3, seed=2), rtol=1e-4, atol=1e-4)


# ----- bad input -----------------------------------------------------------------------
@pytest.mark.parametrize("fn", [lucid.max_pool2d, lucid.avg_pool2d])
def test_pool_bad_input(fn):
    name = fn.__name__
    with pytest.raises(lucid.ShapeError, match=rf"{name}.*4-D input"):
        fn(lucid.zeros(4, 4), 2)
    with pytest.raises(lucid.ShapeError, match=rf"{name}: padding.*half"):
        fn(lucid.zeros(1, 1, 8, 8), 2, 2, 2)
    with pytest.raises(lucid.ShapeError, match=rf"{name}: kernel \(5, 5\) is larger"):
        fn(lucid.zeros(1, 1, 3, 3), 5)
    with pytest.raises(lucid.ShapeError, match=name):
        fn(lucid.zeros(1, 1, 3, 3), 2, 0)


def test_adaptive_avg_pool2d_bad_input():
    with pytest.raises(lucid.ShapeError, match="adaptive_avg_pool2d.*4-D"):
        lucid.adaptive_avg_pool2d(lucid.zeros(4, 4), 1)
    with pytest.raises(lucid.ShapeError, match="adaptive_avg_pool2d.*positive"):
        lucid.adaptive_avg_pool2d(lucid.zeros(1, 1, 4, 4), (0, 2))
