"""``lucid.add_relu`` (``relu(a + b)`` as one op) against PyTorch: values and gradients,
equal shapes (the native pass), broadcasting and edge shapes (``relu(a + b)``)."""

import lucid
import numpy as np
import pytest
import torch

SHAPES = [((4, 3, 5, 5), (4, 3, 5, 5)), ((2, 70000), (2, 70000)), ((3, 4), (4,)),
          ((2, 1, 3), (1, 5, 3)), ((0, 3), (0, 3)), ((), ())]


@pytest.mark.parametrize("sa,sb", SHAPES)
def test_add_relu_matches_pytorch(sa, sb):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s).astype(np.float32) for s in (sa, sb))
    g = rng.standard_normal(np.broadcast_shapes(sa, sb)).astype(np.float32)
    la, lb = lucid.tensor(a, requires_grad=True), lucid.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out = lucid.add_relu(la, lb)
    ref = torch.relu(ta + tb)
    np.testing.assert_array_equal(out.numpy(), ref.detach().numpy())
    (out * lucid.tensor(g)).sum().backward()
    (ref * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(la.grad.numpy(), ta.grad.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(lb.grad.numpy(), tb.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_add_relu_promotes_like_add():
    a = lucid.tensor(np.array([-1.0, 2.0], dtype=np.float32))
    b = lucid.tensor(np.array([3, -5], dtype=np.int32))
    np.testing.assert_array_equal(lucid.add_relu(a, b).numpy(), [2.0, 0.0])
