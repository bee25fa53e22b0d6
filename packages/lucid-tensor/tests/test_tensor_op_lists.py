"""``@op`` with a list of tensors as one argument: every tensor is an input of the graph,
and the backward's sequence of gradients in that position reaches each one (the path
``cat`` and ``stack`` take)."""

import lucid
import numpy as np
import pytest
import torch
from lucid.function import op


@op("weighted_sum")
def _weighted_sum(arrays, scale, bias):
    """out = scale * sum_i (i + 1) * x_i + bias;  dx_i = (i + 1) * scale * g, dbias = g."""
    out = sum((i + 1) * a for i, a in enumerate(arrays)) * scale + bias
    return out, lambda g: ([(i + 1) * scale * g for i in range(len(arrays))], None, g)


def test_every_tensor_of_the_list_gets_its_gradient():
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(3)]
    b = rng.standard_normal((3,)).astype(np.float32)
    lx = [lucid.tensor(x, requires_grad=True) for x in xs]
    lb = lucid.tensor(b, requires_grad=True)
    out = _weighted_sum(lx, 0.5, lb)
    out.sum().backward()
    tx = [torch.tensor(x, requires_grad=True) for x in xs]
    tb = torch.tensor(b, requires_grad=True)
    ref = sum((i + 1) * t for i, t in enumerate(tx)) * 0.5 + tb
    ref.sum().backward()
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-6)
    for lt, tt in zip(lx, tx, strict=True):
        np.testing.assert_allclose(lt.grad.numpy(), tt.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(lb.grad.numpy(), tb.grad.numpy(), rtol=1e-6)  # broadcast undone


def test_tensors_that_need_no_grad_are_skipped():
    a = lucid.ones(2, requires_grad=True)
    c = lucid.ones(2)
    out = _weighted_sum([c, a], 1.0, lucid.zeros(2))
    assert out.requires_grad
    out.sum().backward()
    assert a.grad.tolist() == [2.0, 2.0] and c.grad is None


def test_a_list_of_constants_records_nothing():
    out = _weighted_sum([lucid.ones(2), lucid.ones(2)], 1.0, lucid.zeros(2))
    assert not out.requires_grad and out.grad_fn is None
    assert out.tolist() == [3.0, 3.0]


def test_mlx_errors_name_the_op_and_every_shape():
    with pytest.raises(lucid.ShapeError, match=r"weighted_sum.*\[\(2,\), \(3,\)\]"):
        _weighted_sum([lucid.ones(2), lucid.ones(3)], 1.0, 0.0)


def test_cat_and_stack_use_the_one_path():
    a = lucid.ones(2, 3, requires_grad=True)
    b = lucid.ones(1, 3, requires_grad=True)
    assert lucid.cat([a, b]).grad_fn.name == "concatenate"
    s = lucid.stack([a, a * 2], dim=1)
    assert s.grad_fn.name == "stack" and s.shape == (2, 2, 3)
    s.sum().backward()
    assert a.grad.tolist() == [[3.0] * 3] * 2  # 1 from the first copy, 2 from the doubled one
