"""ResNet blocks' fused BatchNorm+ReLU: the same values and gradients as the two modules, and
the two modules whenever something watches them."""

import lucid
import lucid.nn as nn
import numpy as np
import pytest
from lucid.models.resnet import bn_relu, residual_relu


def _pair(training: bool):
    lucid.manual_seed(0)
    bn, relu = nn.BatchNorm2d(3), nn.ReLU()
    bn.weight.data = lucid.tensor(np.array([1.5, -0.5, 1.0], dtype=np.float32))
    bn.bias.data = lucid.tensor(np.array([0.1, 0.2, -0.3], dtype=np.float32))
    bn.train(training)
    return bn, relu


@pytest.mark.parametrize("training", [True, False])
def test_fused_equals_the_two_modules(training):
    x = np.random.default_rng(0).standard_normal((4, 3, 5, 5)).astype(np.float32)
    results = []
    for fused in (True, False):
        bn, relu = _pair(training)
        xt = lucid.tensor(x, requires_grad=True)
        y = bn_relu(bn, relu, xt) if fused else relu(bn(xt))
        assert y._node.name == ("batch_norm" if fused else "relu")  # one op when fused
        (y * y).sum().backward()
        results.append((y.numpy(), xt.grad.numpy(), bn.weight.grad.numpy(),
                        bn.running_mean.numpy()))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_a_hook_or_replaced_forward_sees_the_relu_call():
    x = lucid.tensor(np.random.default_rng(1).standard_normal((2, 3, 4, 4)).astype(np.float32))
    bn, relu = _pair(True)
    seen = []
    relu.register_forward_hook(lambda m, inp, out: seen.append(out))
    y = bn_relu(bn, relu, x)
    assert len(seen) == 1 and seen[0] is y
    bn, relu = _pair(True)
    relu.forward = lambda inp, f=relu.forward: seen.append("forward") or f(inp)
    bn_relu(bn, relu, x)
    assert seen[-1] == "forward"
    bn, relu = _pair(True)
    bn.register_forward_pre_hook(lambda m, inp: seen.append("bn"))
    bn_relu(bn, relu, x)
    assert seen[-1] == "bn"


def test_residual_relu_fuses_unless_watched():
    rng = np.random.default_rng(2)
    a = lucid.tensor(rng.standard_normal((2, 3, 4, 4)).astype(np.float32), requires_grad=True)
    b = lucid.tensor(rng.standard_normal((2, 3, 4, 4)).astype(np.float32), requires_grad=True)
    relu = nn.ReLU()
    y = residual_relu(a, b, relu)
    assert y._node.name == "add_relu"
    np.testing.assert_array_equal(y.numpy(), np.maximum(a.numpy() + b.numpy(), 0))
    seen = []
    relu.register_forward_hook(lambda m, inp, out: seen.append(inp[0]))
    y = residual_relu(a, b, relu)
    assert y._node.name == "relu" and len(seen) == 1
    np.testing.assert_array_equal(seen[0].numpy(), (a + b).numpy())
