"""Property tests: broadcasting binary ops and reductions over random shapes and axes.

Forward values are compared with NumPy (its axis and broadcasting rules are the reference
Lucid follows) and with PyTorch, gradients with PyTorch.
"""

import lucid
import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tensor_parity import assert_close, check_op

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FLOATS = st.floats(-3, 3, width=32, allow_nan=False, allow_infinity=False)
POSITIVE = st.floats(0.25, 3, width=32)


def arrays(shape, elements=FLOATS):
    return hnp.arrays(np.float32, shape, elements=elements)


@st.composite
def broadcast_pair(draw, elements_x=FLOATS, elements_y=FLOATS):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4))
    x, y = shapes.input_shapes
    return draw(arrays(x, elements_x)), draw(arrays(y, elements_y))


BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "maximum": (None, np.maximum),
    "minimum": (None, np.minimum),
}


@SETTINGS
@given(pair=broadcast_pair(), name=st.sampled_from(sorted(BINARY)))
def test_broadcasting_binary_ops(pair, name):
    x, y = pair
    fn, ref = BINARY[name]
    lucid_fn = fn or getattr(lucid, name)
    torch_fn = fn or getattr(torch, name)
    out, _ = check_op(lucid_fn, torch_fn, x, y)
    assert_close(out, ref(x, y).astype(np.float32))


@SETTINGS
@given(pair=broadcast_pair(FLOATS, POSITIVE))
def test_broadcasting_division_and_power(pair):
    x, y = pair
    check_op(lambda a, b: a / b, lambda a, b: a / b, x, y)
    check_op(lambda a, b: b**a, lambda a, b: b**a, x, y, rtol=2e-4)


@SETTINGS
@given(pair=broadcast_pair(), data=st.data())
def test_broadcasting_where(pair, data):
    x, y = pair
    shape = np.broadcast_shapes(x.shape, y.shape)
    cond_shape = data.draw(hnp.broadcastable_shapes(shape, max_dims=len(shape)))
    cond = data.draw(hnp.arrays(np.bool_, cond_shape))
    if np.broadcast_shapes(cond.shape, shape) != shape:
        return
    out, _ = check_op(lucid.where, torch.where, cond, x, y)
    assert_close(out, np.where(cond, x, y))


@st.composite
def shape_and_axis(draw, min_side=1, max_dims=4):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=max_dims, min_side=min_side, max_side=4))
    ndim = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-ndim, ndim - 1))
    else:
        picked = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        axis = tuple(a - ndim if draw(st.booleans()) else a for a in picked)
    return shape, axis, draw(st.booleans())


def _dims(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


REDUCTIONS = {
    # name: (torch reference taking (t, dim, keepdim), numpy reference or None)
    "sum": (lambda t, d, k: torch.sum(t, d, keepdim=k), np.sum),
    "mean": (lambda t, d, k: torch.mean(t, d, keepdim=k), np.mean),
    "max": (lambda t, d, k: torch.amax(t, d, keepdim=k), np.max),
    "min": (lambda t, d, k: torch.amin(t, d, keepdim=k), np.min),
    "var": (lambda t, d, k: torch.var(t, d, correction=0, keepdim=k), np.var),
    "std": (lambda t, d, k: torch.std(t, d, correction=0, keepdim=k), None),
    "logsumexp": (lambda t, d, k: torch.logsumexp(t, d, keepdim=k), None),
    "norm": (lambda t, d, k: torch.linalg.vector_norm(t, 2, d, keepdim=k), None),
    "prod": (None, np.prod),
}


@SETTINGS
@given(spec=shape_and_axis(), name=st.sampled_from(sorted(REDUCTIONS)), data=st.data())
def test_reductions_over_random_axes(spec, name, data):
    shape, axis, keepdims = spec
    elements = st.floats(0.5, 1.5, width=32) if name in ("prod", "norm") else FLOATS
    x = data.draw(arrays(shape, elements))
    if name == "std":  # keep the variance away from 0, where the gradient is unbounded
        x = x + np.arange(x.size, dtype=np.float32).reshape(shape)
    torch_ref, numpy_ref = REDUCTIONS[name]

    def lucid_fn(t):
        if name in ("var", "std"):  # the population statistics; n - 1 is in test_tensor_reduction
            return getattr(lucid, name)(t, axis=axis, keepdims=keepdims, correction=0)
        if name in ("max", "min") and isinstance(axis, int):  # one int gives (values, indices)
            return getattr(lucid, name)(t, axis=(axis,), keepdims=keepdims)
        return getattr(lucid, name)(t, axis=axis, keepdims=keepdims)

    if numpy_ref is not None:
        expected = numpy_ref(x.astype(np.float64), axis=axis, keepdims=keepdims)
        assert_close(lucid_fn(lucid.tensor(x)), np.asarray(expected, np.float32), atol=1e-4)
    if torch_ref is not None:
        check_op(lucid_fn, lambda t: torch_ref(t, _dims(axis, x.ndim), keepdims), x,
                 rtol=1e-4, atol=1e-4)
    else:  # prod: gradient is prod / x (no zeros drawn), checked by finite difference
        _check_prod_grad(x, axis, keepdims)


def _check_prod_grad(x, axis, keepdims):
    t = lucid.tensor(x, requires_grad=True)
    lucid.prod(t, axis=axis, keepdims=keepdims).sum().backward()
    prod = np.prod(x.astype(np.float64), axis=axis, keepdims=True)
    assert_close(t.grad, (prod / x).astype(np.float32), rtol=1e-4, atol=1e-4)


@SETTINGS
@given(spec=shape_and_axis(min_side=0), data=st.data())
def test_sum_and_mean_with_empty_axes(spec, data):
    shape, axis, keepdims = spec
    x = data.draw(arrays(shape))
    check_op(lambda t: lucid.sum(t, axis, keepdims),
             lambda t: torch.sum(t, _dims(axis, x.ndim), keepdim=keepdims), x)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.mean(x, axis=axis, keepdims=keepdims) if x.size else None
    if expected is not None:
        assert_close(lucid.mean(lucid.tensor(x), axis, keepdims), np.asarray(expected, np.float32))


@st.composite
def shape_and_one_axis(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5))
    return shape, draw(st.integers(-len(shape), len(shape) - 1))


@SETTINGS
@given(spec=shape_and_one_axis(), name=st.sampled_from(["softmax", "log_softmax", "cumsum"]),
       data=st.data())
def test_axis_wise_ops(spec, name, data):
    shape, axis = spec
    x = data.draw(arrays(shape, st.floats(-20, 20, width=32)))
    check_op(lambda t: getattr(lucid, name)(t, axis=axis),
             lambda t: getattr(torch, name)(t, dim=axis), x, rtol=1e-4, atol=1e-4)


@SETTINGS
@given(spec=shape_and_one_axis(), keepdims=st.booleans(), data=st.data())
def test_argmax_argmin_match_numpy(spec, keepdims, data):
    shape, axis = spec
    x = data.draw(arrays(shape, st.integers(-3, 3).map(float)))  # many ties: first index wins
    for name in ("argmax", "argmin"):
        out = getattr(lucid, name)(lucid.tensor(x), axis=axis, keepdims=keepdims)
        expected = getattr(np, name)(x, axis=axis, keepdims=keepdims)
        assert out.dtype == lucid.int64
        np.testing.assert_array_equal(out.numpy(), expected)
