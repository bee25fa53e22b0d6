"""conv1d, conv2d and conv_transpose2d against torch.nn.functional: values and gradients.

Tolerance: a convolution output and its weight gradient are sums of up to a few thousand
products, accumulated in a different order than PyTorch's, so these tests use
rtol = atol = 1e-4 (instead of the suite's default atol of 1e-5).
"""

import lucid
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from tensor_parity import assert_close, check_op, randn

TOL = {"rtol": 1e-4, "atol": 1e-4}
# PyTorch warns that it copies the input for 'same' padding with even kernels
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

CONV2D = [
    # (input shape, weight shape, kwargs)
    ((2, 3, 8, 8), (4, 3, 3, 3), {"stride": 1, "padding": 1}),
    ((2, 3, 8, 8), (4, 3, 3, 3), {"stride": 2, "padding": 1}),
    ((2, 3, 9, 9), (4, 3, 3, 3), {"stride": 2, "padding": 0}),
    ((2, 3, 7, 9), (5, 3, 3, 3), {"stride": 3, "padding": 3}),
    ((2, 3, 8, 8), (4, 3, 3, 3), {"padding": "same"}),
    ((2, 3, 8, 8), (4, 3, 4, 2), {"padding": "same"}),
    ((2, 3, 8, 8), (4, 3, 3, 3), {"padding": "valid"}),
    ((2, 3, 9, 7), (4, 3, 3, 3), {"stride": 1, "padding": 2, "dilation": 2}),
    ((2, 3, 11, 9), (4, 3, 3, 3), {"stride": 2, "padding": 1, "dilation": 2}),
    ((2, 3, 10, 10), (4, 3, 3, 2), {"padding": "same", "dilation": (2, 3)}),
    ((2, 4, 8, 8), (6, 2, 3, 3), {"stride": 1, "padding": 1, "groups": 2}),
    ((2, 4, 9, 7), (6, 2, 3, 2), {"stride": (2, 1), "padding": (1, 0), "groups": 2}),
    ((2, 4, 8, 8), (4, 1, 3, 3), {"stride": 1, "padding": 1, "groups": 4}),  # depthwise
    ((2, 4, 8, 8), (8, 1, 3, 3), {"stride": 2, "padding": 1, "groups": 4}),  # multiplier 2
    ((2, 4, 6, 6), (5, 4, 1, 1), {}),
    ((2, 4, 6, 6), (5, 4, 1, 1), {"stride": 2}),
    ((2, 4, 7, 9), (5, 4, 1, 1), {"stride": (2, 3), "padding": 1}),  # 1x1: a strided slice
    ((2, 4, 7, 7), (6, 2, 1, 1), {"stride": 2, "groups": 2, "dilation": 2}),
    ((1, 3, 6, 6), (4, 3, 3, 3), {"padding": 1}),  # batch 1
    ((0, 3, 6, 6), (4, 3, 3, 3), {"stride": 2, "padding": 1}),  # empty batch
    ((2, 3, 7, 6), (4, 3, 2, 5), {"stride": (1, 2), "padding": (1, 2)}),  # non-square
    ((2, 3, 5, 5), (4, 3, 5, 5), {}),  # kernel as large as the input
    ((2, 2, 6, 6), (8, 2, 3, 3), {"padding": 1}),  # many more out channels: col2im for dx
    ((2, 3, 8, 6), (4, 3, 2, 3), {"stride": (2, 3)}),  # windows tile the input (patchify)
    ((4, 16, 12, 12), (32, 16, 3, 3), {"stride": 2, "padding": 1}),  # longer sums
]


def _ids(cases):
    return [f"{x}-{w}-{kw}" for x, w, kw in cases]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("xs", "ws", "kw"), CONV2D, ids=_ids(CONV2D))
def test_conv2d_matches_torch(xs, ws, kw, bias):
    b = randn(ws[0], seed=3) if bias else None
    check_op(lambda x, w, b: lucid.conv2d(x, w, b, **kw),
             lambda x, w, b: F.conv2d(x, w, b, **kw),
             randn(*xs, seed=1), randn(*ws, seed=2), b, **TOL)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_conv2d_random_configurations(data):
    """Random kernel, stride, padding, dilation and groups, on small images."""
    draw = data.draw
    groups = draw(st.sampled_from([1, 2, 3]))
    c, o = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    reach = [d * (k - 1) + 1 - 2 * p for d, k, p in zip(dilation, kernel, padding, strict=True)]
    size = [max(r, 1) + draw(st.integers(0, 4)) for r in reach]
    kw = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    check_op(lambda x, w, b: lucid.conv2d(x, w, b, **kw),
             lambda x, w, b: F.conv2d(x, w, b, **kw),
             randn(2, c, *size, seed=1), randn(o, c // groups, *kernel, seed=2),
             randn(o, seed=3), **TOL)


def test_conv2d_unbatched_input():
    check_op(lambda x, w: lucid.conv2d(x, w, padding=1), lambda x, w: F.conv2d(x, w, padding=1),
             randn(3, 6, 5, seed=1), randn(4, 3, 3, 3, seed=2), **TOL)


def test_conv2d_chain_through_elementwise():
    """A conv output (an NCHW view of channel-major storage) feeds the next conv."""
    def net(conv, relu):
        return lambda x, w1, w2: conv(relu(conv(x, w1, padding=1) * 0.5), w2, stride=2)

    check_op(net(lucid.conv2d, lucid.relu), net(F.conv2d, torch.relu),
             randn(2, 3, 8, 8, seed=1), randn(5, 3, 3, 3, seed=2), randn(4, 5, 3, 3, seed=3),
             **TOL)


def test_conv2d_under_no_grad_records_no_graph():
    x, w = lucid.tensor(randn(1, 2, 5, 5)), lucid.tensor(randn(3, 2, 3, 3), requires_grad=True)
    with lucid.no_grad():
        y = lucid.conv2d(x, w, padding=1)
    assert not y.requires_grad
    assert_close(y, F.conv2d(torch.tensor(randn(1, 2, 5, 5)), torch.tensor(randn(3, 2, 3, 3)),
                             padding=1), **TOL)


CONV1D = [
    ((2, 4, 10), (5, 4, 3), {}),
    ((2, 4, 10), (5, 4, 3), {"stride": 2, "padding": 1}),
    ((2, 4, 10), (5, 4, 4), {"padding": "same"}),
    ((2, 4, 11), (6, 2, 3), {"dilation": 2, "groups": 2, "padding": 2}),
    ((1, 4, 7), (3, 4, 1), {}),
    ((4, 9), (3, 4, 3), {"padding": 1}),  # unbatched
]


@pytest.mark.parametrize(("xs", "ws", "kw"), CONV1D, ids=_ids(CONV1D))
def test_conv1d_matches_torch(xs, ws, kw):
    check_op(lambda x, w, b: lucid.conv1d(x, w, b, **kw),
             lambda x, w, b: F.conv1d(x, w, b, **kw),
             randn(*xs, seed=1), randn(*ws, seed=2), randn(ws[0], seed=3), **TOL)


CONV_T = [
    ((2, 3, 5, 5), (3, 4, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
    ((2, 3, 5, 5), (3, 4, 4, 4), {"stride": 2, "padding": 1}),
    ((2, 3, 5, 5), (3, 4, 3, 3), {"stride": 1, "padding": 1}),
    ((2, 3, 5, 5), (3, 4, 3, 3), {}),
    ((2, 8, 5, 5), (8, 2, 3, 3), {"padding": 2}),
    ((2, 4, 5, 6), (4, 3, 3, 2), {"stride": (2, 3), "padding": (1, 0),
                                  "output_padding": (0, 2), "groups": 2}),
    ((2, 4, 5, 6), (4, 3, 3, 3), {"stride": 2, "padding": 2, "dilation": 2,
                                  "output_padding": 1}),
    ((1, 4, 4, 4), (4, 2, 1, 1), {"stride": 2}),
    ((2, 3, 5, 5), (3, 4, 3, 3), {"dilation": 2, "output_padding": 1, "padding": 2}),
    ((2, 4, 3, 3), (4, 2, 2, 2), {"stride": 2}),  # outputs tile exactly
    ((4, 5, 6), (4, 3, 4, 4), {"stride": 2, "padding": 1}),  # unbatched
]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("xs", "ws", "kw"), CONV_T, ids=_ids(CONV_T))
def test_conv_transpose2d_matches_torch(xs, ws, kw, bias):
    c_out = ws[1] * kw.get("groups", 1)
    b = randn(c_out, seed=3) if bias else None
    check_op(lambda x, w, b: lucid.conv_transpose2d(x, w, b, **kw),
             lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
             randn(*xs, seed=1), randn(*ws, seed=2), b, **TOL)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_conv_transpose2d_random_configurations(data):
    draw = data.draw
    groups = draw(st.sampled_from([1, 2]))
    c_in, c_out_g = groups * draw(st.integers(1, 2)), draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    out_pad = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation,
                                                                         strict=True))
    padding = tuple(draw(st.integers(0, (d * (k - 1)) // 2)) for d, k in zip(dilation, kernel,
                                                                             strict=True))
    kw = {"stride": stride, "padding": padding, "output_padding": out_pad, "groups": groups,
          "dilation": dilation}
    size = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    check_op(lambda x, w, b: lucid.conv_transpose2d(x, w, b, **kw),
             lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
             randn(2, c_in, *size, seed=1), randn(c_in, c_out_g, *kernel, seed=2),
             randn(c_out_g * groups, seed=3), **TOL)


def test_conv_transpose2d_inverts_conv2d_shape():
    x = lucid.randn(2, 3, 16, 16)
    w = lucid.randn(8, 3, 3, 3)
    y = lucid.conv2d(x, w, stride=2, padding=1)
    up = lucid.conv_transpose2d(y, lucid.randn(8, 3, 3, 3), stride=2, padding=1,
                                output_padding=1)
    assert y.shape == (2, 8, 8, 8) and up.shape == (2, 3, 16, 16)


# ----- bad input -----------------------------------------------------------------------
def _t(*shape):
    return lucid.zeros(*shape)


def test_conv2d_wrong_channel_count_names_op_and_shapes():
    with pytest.raises(lucid.ShapeError, match="conv2d") as err:
        lucid.conv2d(_t(2, 3, 8, 8), _t(4, 5, 3, 3))
    assert "(2, 3, 8, 8)" in str(err.value) and "(4, 5, 3, 3)" in str(err.value)
    assert "channels" in str(err.value)


@pytest.mark.parametrize("xs", [(3, 8), (1, 2, 3, 8, 8)])
def test_conv2d_wrong_input_ndim(xs):
    with pytest.raises(lucid.ShapeError, match=r"conv2d.*4-D input"):
        lucid.conv2d(_t(*xs), _t(4, 3, 3, 3))


def test_conv2d_wrong_weight_ndim():
    with pytest.raises(lucid.ShapeError, match=r"conv2d.*4-D weight"):
        lucid.conv2d(_t(2, 3, 8, 8), _t(4, 3, 3))


def test_conv2d_kernel_larger_than_input():
    with pytest.raises(lucid.ShapeError, match=r"conv2d: kernel \(5, 5\).*larger"):
        lucid.conv2d(_t(1, 3, 4, 4), _t(2, 3, 5, 5))
    with pytest.raises(lucid.ShapeError, match="larger"):  # dilation widens the kernel
        lucid.conv2d(_t(1, 3, 4, 4), _t(2, 3, 3, 3), dilation=2)


def test_conv2d_bad_groups_bias_padding():
    with pytest.raises(lucid.ShapeError, match="groups"):
        lucid.conv2d(_t(1, 4, 8, 8), _t(3, 2, 3, 3), groups=2)
    with pytest.raises(lucid.ShapeError, match="bias"):
        lucid.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), _t(3))
    with pytest.raises(ValueError, match="same"):
        lucid.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="padding"):
        lucid.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), padding="full")
    with pytest.raises(lucid.ShapeError, match="padding"):
        lucid.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), padding=-1)


def test_conv1d_bad_input():
    with pytest.raises(lucid.ShapeError, match=r"conv1d.*3-D input"):
        lucid.conv1d(_t(2, 3, 8, 8), _t(4, 3, 3))
    with pytest.raises(lucid.ShapeError, match=r"conv1d.*channels"):
        lucid.conv1d(_t(2, 3, 8), _t(4, 2, 3))
    with pytest.raises(lucid.ShapeError, match=r"conv1d: kernel \(5,\)"):
        lucid.conv1d(_t(2, 3, 4), _t(4, 3, 5))


def test_conv_transpose2d_bad_input():
    with pytest.raises(lucid.ShapeError, match=r"conv_transpose2d.*channels"):
        lucid.conv_transpose2d(_t(1, 3, 4, 4), _t(4, 2, 3, 3))
    with pytest.raises(lucid.ShapeError, match="output_padding"):
        lucid.conv_transpose2d(_t(1, 3, 4, 4), _t(3, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(lucid.ShapeError, match="4-D"):
        lucid.conv_transpose2d(_t(3, 4), _t(3, 2, 3, 3))


def test_conv_dtype_mismatch():
    with pytest.raises(lucid.DTypeError, match=r"conv2d.*float16.*float32"):
        lucid.conv2d(_t(1, 3, 4, 4).astype(lucid.float16), _t(2, 3, 3, 3))
    with pytest.raises(lucid.DTypeError, match="conv_transpose2d"):
        lucid.conv_transpose2d(_t(1, 3, 4, 4), _t(3, 2, 3, 3), _t(2).astype(lucid.float16))
    with pytest.raises(lucid.DTypeError, match="conv1d"):
        lucid.conv1d(lucid.zeros(1, 3, 4, dtype=lucid.int32), lucid.zeros(2, 3, 3, dtype=lucid.int32))


def test_conv2d_float16_runs_in_float16():
    y = lucid.conv2d(lucid.randn(1, 3, 6, 6).astype(lucid.float16),
                     lucid.randn(4, 3, 3, 3).astype(lucid.float16), padding=1)
    assert y.dtype == lucid.float16 and y.shape == (1, 4, 6, 6)


def test_conv_rejects_non_tensors():
    with pytest.raises(TypeError, match="conv2d"):
        lucid.conv2d(np.zeros((1, 3, 4, 4), np.float32), _t(2, 3, 3, 3))


# ----- Winograd path (float32 3x3 stride-1 convs with >= 32 channels, output >= 8x8) -----
WINOGRAD = [
    ((2, 32, 8, 8), (32, 32, 3, 3), {"padding": 1}),
    ((1, 32, 9, 11), (40, 32, 3, 3), {"padding": 1}),  # ragged tiles: padded up, cropped
    ((2, 32, 10, 10), (32, 32, 3, 3), {"padding": 0}),
    ((1, 36, 8, 9), (32, 36, 3, 3), {"padding": (2, 1)}),
    ((1, 32, 8, 8), (32, 32, 3, 3), {"padding": "same"}),
    ((0, 32, 8, 8), (32, 32, 3, 3), {"padding": 1}),  # empty batch
]


def test_winograd_is_chosen_for_these_shapes():
    from lucid.ops.nn import winograd

    for xs, ws, _ in WINOGRAD:
        m = winograd.tile_size(ws, (1, 1), (1, 1), 1, xs[2:], lucid.float32)
        assert m == winograd.TILE > 0, xs
    assert winograd.tile_size((32, 32, 3, 3), (2, 2), (1, 1), 1, (8, 8), lucid.float32) == 0
    assert winograd.tile_size((32, 16, 3, 3), (1, 1), (1, 1), 1, (8, 8), lucid.float32) == 0


@pytest.mark.parametrize(("xs", "ws", "kw"), WINOGRAD, ids=_ids(WINOGRAD))
def test_conv2d_winograd_matches_torch(xs, ws, kw):
    """All inputs require grad: forward, dW and dx by Winograd."""
    check_op(lambda x, w, b: lucid.conv2d(x, w, b, **kw),
             lambda x, w, b: F.conv2d(x, w, b, **kw),
             randn(*xs, seed=1), randn(*ws, seed=2), randn(ws[0], seed=3), **TOL)


@pytest.mark.parametrize(("xs", "ws", "kw"), WINOGRAD, ids=_ids(WINOGRAD))
def test_conv2d_winograd_forward_when_weight_is_frozen(xs, ws, kw):
    """Weight without grad (or under no_grad): im2col forward, dx by Winograd."""
    check_op(lambda x, w, b: lucid.conv2d(x, w, b, **kw),
             lambda x, w, b: F.conv2d(x, w, b, **kw),
             randn(*xs, seed=1), randn(*ws, seed=2), randn(ws[0], seed=3),
             grad=(True, False, False), **TOL)
    x, w = randn(*xs, seed=4), randn(*ws, seed=5)
    with lucid.no_grad():
        out = lucid.conv2d(lucid.tensor(x), lucid.tensor(w, requires_grad=True), **kw)
    assert_close(out, F.conv2d(torch.from_numpy(x), torch.from_numpy(w), **kw), **TOL)


@pytest.mark.parametrize("m", [2, 4])
def test_winograd_conv3x3_tile_sizes(m):
    """F(2x2, 3x3) and F(4x4, 3x3) directly, channel-major, small channel counts."""
    import mlx.core as mx
    from lucid.ops.nn import winograd

    x, w = randn(2, 3, 7, 9, seed=1), randn(5, 3, 3, 3, seed=2)
    out = winograd.conv3x3(mx.array(x).transpose(1, 0, 2, 3),
                           winograd.kernel_transform(mx.array(w), m), (1, 0, 2, 1), (6, 10), m)
    ref = F.conv2d(F.pad(torch.from_numpy(x), (2, 1, 1, 0)), torch.from_numpy(w))
    np.testing.assert_allclose(np.array(out.transpose(1, 0, 2, 3)), ref.numpy(), **TOL)


# ----- shifted products (3x3, stride 1, padding 1, >= 16 channels, images >= 16x16) -----
SHIFTED = [
    ((2, 16, 16, 16), (16, 16, 3, 3)),
    ((1, 16, 16, 19), (24, 16, 3, 3)),  # non-square, batch 1, more out channels
    ((3, 20, 17, 16), (16, 20, 3, 3)),  # odd height, fewer out channels
    ((0, 16, 16, 16), (16, 16, 3, 3)),  # empty batch
]


def test_shifted_is_chosen_for_these_shapes_only():
    from lucid.ops.nn import shifted

    for xs, ws in SHIFTED:
        assert shifted.applies(ws, (1, 1), (1, 1), (1, 1, 1, 1), 1, xs[2:]), xs
    assert not shifted.applies((16, 16, 3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 1, (16, 16))
    assert not shifted.applies((16, 16, 3, 3), (1, 1), (1, 1), (0, 0, 0, 0), 1, (16, 16))
    assert not shifted.applies((16, 3, 3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1, (32, 32))
    assert not shifted.applies((16, 16, 3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1, (8, 8))
    assert shifted.applies((16, 16, 3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1, (8, 8),
                           weight_grad=False)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("xs", "ws"), SHIFTED, ids=[f"{x}-{w}" for x, w in SHIFTED])
def test_conv2d_shifted_matches_torch(xs, ws, bias):
    b = randn(ws[0], seed=3) if bias else None
    check_op(lambda x, w, b: lucid.conv2d(x, w, b, padding=1),
             lambda x, w, b: F.conv2d(x, w, b, padding=1),
             randn(*xs, seed=1), randn(*ws, seed=2), b, **TOL)


@pytest.mark.parametrize("xs", [(1, 16, 16, 19), (2, 16, 8, 9)])
def test_conv2d_shifted_frozen_weight_and_no_grad(xs):
    ws = (24, 16, 3, 3)
    check_op(lambda x, w: lucid.conv2d(x, w, padding=1),
             lambda x, w: F.conv2d(x, w, padding=1),
             randn(*xs, seed=1), randn(*ws, seed=2), grad=(True, False), **TOL)
    x, w = randn(*xs, seed=4), randn(*ws, seed=5)
    with lucid.no_grad():
        out = lucid.conv2d(lucid.tensor(x), lucid.tensor(w, requires_grad=True), padding=1)
    assert_close(out, F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1), **TOL)


@pytest.mark.parametrize("wants", [(True, False, True), (False, True, True), (True, True, False),
                                   (False, False, True)])
@pytest.mark.parametrize("case", ["conv1d", "conv1d unbatched", "conv2d unbatched"])
def test_gradients_of_only_some_inputs(case, wants):
    """A frozen weight, a constant input or no bias: the others' gradients still match (and
    nothing is computed for the frozen ones)."""
    fn = case.split()[0]
    xs = {"conv1d": (2, 3, 9), "conv1d unbatched": (3, 9), "conv2d unbatched": (3, 7, 6)}[case]
    ws = (4, 3, 3) if fn == "conv1d" else (4, 3, 3, 3)
    check_op(lambda x, w, b: getattr(lucid, fn)(x, w, b, padding=1),
             lambda x, w, b: getattr(F, fn)(x, w, b, padding=1),
             randn(*xs, seed=1), randn(*ws, seed=2), randn(4, seed=3), grad=list(wants), **TOL)
