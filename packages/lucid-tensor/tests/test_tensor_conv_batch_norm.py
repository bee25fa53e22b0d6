"""conv2d_batch_norm (a convolution, then an inference BatchNorm, then optionally a ReLU,
as one op) against torch.nn.functional's conv2d, batch_norm and relu: values, and the
gradients when they are recorded (then it runs as conv2d and batch_norm).

Tolerance as test_tensor_conv.py's (sums of up to a few thousand products).
"""

import lucid
import mlx.core as mx
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lucid.errors import ArgumentError, ShapeError
from tensor_parity import assert_close, check_op, positive, randn

TOL = {"rtol": 1e-4, "atol": 1e-4}
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

CASES = [
    # (input shape, weight shape, conv kwargs)
    ((2, 3, 8, 8), (4, 3, 3, 3), {"stride": 1, "padding": 1}),
    ((2, 3, 9, 9), (4, 3, 3, 3), {"stride": 2, "padding": 0}),
    ((2, 4, 8, 8), (8, 4, 1, 1), {"stride": 2}),  # a ResNet downsample
    ((2, 3, 8, 8), (4, 3, 4, 2), {"padding": "same"}),
    ((2, 3, 9, 7), (4, 3, 3, 3), {"padding": 2, "dilation": 2}),
    ((2, 4, 8, 8), (6, 2, 3, 3), {"padding": 1, "groups": 2}),
    ((1, 3, 6, 6), (4, 3, 3, 3), {"padding": 1}),  # batch 1
    ((0, 3, 6, 6), (4, 3, 3, 3), {"stride": 2, "padding": 1}),  # empty batch
    ((4, 16, 12, 12), (32, 16, 3, 3), {"stride": 2, "padding": 1}),  # longer sums
]


def _ids(cases):
    return [f"{x}-{w}-{kw}" for x, w, kw in cases]


def _inputs(xs, ws, bias, affine):
    o = ws[0]
    return [randn(*xs, seed=1), randn(*ws, seed=2) * 0.3,
            randn(o, seed=3) if bias else None,
            randn(o, seed=4), positive(o, seed=5),  # running mean, running variance
            randn(o, seed=6) if affine else None, randn(o, seed=7) if affine else None]


def _torch(kw, relu, eps=1e-5):
    def f(x, w, b, mean, var, gamma, beta):
        out = F.batch_norm(F.conv2d(x, w, b, **kw), mean, var, gamma, beta, False, 0.1, eps)
        return F.relu(out) if relu else out
    return f


def _lucid(kw, relu, eps=1e-5):
    def f(x, w, b, mean, var, gamma, beta):
        return lucid.conv2d_batch_norm(x, w, b, mean, var, gamma, beta, eps, relu, **kw)
    return f


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize(("bias", "affine"), [(False, True), (True, False)])
@pytest.mark.parametrize(("xs", "ws", "kw"), CASES, ids=_ids(CASES))
def test_inference_matches_torch(xs, ws, kw, bias, affine, relu):
    """Nothing records a gradient: the fused op (native epilogue or its MLX-ops path)."""
    args = _inputs(xs, ws, bias, affine)
    with lucid.no_grad():
        out = _lucid(kw, relu)(*[None if a is None else lucid.tensor(a) for a in args])
    expected = _torch(kw, relu)(*[None if a is None else torch.tensor(a) for a in args])
    assert not out.requires_grad
    assert_close(out, expected, **TOL)


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize(("xs", "ws", "kw"), CASES[:3] + CASES[5:6], ids=_ids(CASES[:3] + CASES[5:6]))
def test_recorded_gradients_match_torch(xs, ws, kw, relu):
    """With a gradient recorded it is conv2d then batch_norm: their gradients."""
    args = _inputs(xs, ws, True, True)
    check_op(_lucid(kw, relu), _torch(kw, relu), *args,
             grad=[True, True, True, False, False, True, True], **TOL)


def test_fused_and_composed_agree_with_other_eps():
    args = [lucid.tensor(a) for a in _inputs((2, 8, 10, 10), (16, 8, 3, 3), False, True)
            if a is not None]
    x, w, mean, var, gamma, beta = args
    with lucid.no_grad():
        fused = lucid.conv2d_batch_norm(x, w, None, mean, var, gamma, beta, 1e-3, True,
                                        padding=1)
        composed = lucid.batch_norm(lucid.conv2d(x, w, None, padding=1), mean, var, gamma,
                                    beta, False, 0.1, 1e-3, True)
    assert_close(fused, composed, rtol=1e-5, atol=1e-6)


def test_bad_input_is_named():
    x, w = lucid.randn(2, 3, 8, 8), lucid.randn(4, 3, 3, 3)
    ok = lucid.zeros(4)
    with pytest.raises(ShapeError, match="conv2d_batch_norm: running_var has shape"):
        lucid.conv2d_batch_norm(x, w, None, ok, lucid.ones(5))
    with pytest.raises(ArgumentError, match="running_mean and running_var are required"):
        lucid.conv2d_batch_norm(x, w, None, None, ok)
    with pytest.raises(ShapeError, match="input has 2 channels"):
        lucid.conv2d_batch_norm(lucid.randn(2, 2, 8, 8), w, None, ok, lucid.ones(4))


def test_output_is_a_plain_array_the_engine_can_use():
    """The fused result is an ordinary tensor: reshaped, reduced, donated like any other."""
    x, w = lucid.randn(2, 3, 8, 8), lucid.randn(4, 3, 3, 3)
    with lucid.no_grad():
        out = lucid.conv2d_batch_norm(x, w, None, lucid.zeros(4), lucid.ones(4), relu=True,
                                      padding=1)
        total = (out * 2).sum().item()
    assert out.shape == (2, 4, 8, 8) and out.dtype == lucid.float32
    expected = F.relu(F.conv2d(torch.tensor(x.numpy()), torch.tensor(w.numpy()), padding=1)
                      / np.sqrt(1 + 1e-5))
    assert np.isclose(total, 2 * float(expected.sum()), rtol=1e-4)
    assert isinstance(out._data, mx.array)
