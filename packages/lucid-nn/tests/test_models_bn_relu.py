"""ResNet blocks' fused BatchNorm+ReLU, and in inference conv+BatchNorm(+ReLU): the same
values and gradients as the modules, and the modules whenever something watches them."""

import lucid
import lucid.nn as nn
import numpy as np
import pytest
from lucid.models import build_cifar_resnet18
from lucid.models.resnet import bn_relu, conv_bn, conv_bn_sequence, residual_relu


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


def _conv_bn_relu(training: bool):
    bn, relu = _pair(training)
    conv = nn.Conv2d(2, 3, 3, padding=1, bias=False)
    bn.running_mean.data = lucid.tensor(np.array([0.2, -0.1, 0.3], dtype=np.float32))
    bn.running_var.data = lucid.tensor(np.array([0.5, 2.0, 1.5], dtype=np.float32))
    return conv, bn, relu


@pytest.fixture
def fused_calls(monkeypatch):
    """The calls conv_bn makes to the one-op form, lucid.conv2d_batch_norm."""
    calls, real = [], lucid.conv2d_batch_norm
    monkeypatch.setattr(lucid, "conv2d_batch_norm",
                        lambda *a, **k: calls.append(a) or real(*a, **k))
    return calls


def test_conv_bn_is_one_op_in_inference_only(fused_calls):
    x = lucid.tensor(np.random.default_rng(3).standard_normal((2, 2, 6, 6)).astype(np.float32))
    conv, bn, relu = _conv_bn_relu(training=False)
    with lucid.no_grad():
        expected = relu(bn(conv(x))).numpy()
        np.testing.assert_allclose(conv_bn(conv, bn, x, relu).numpy(), expected, rtol=1e-6,
                                   atol=1e-6)
        np.testing.assert_allclose(conv_bn(conv, bn, x).numpy(), bn(conv(x)).numpy(),
                                   rtol=1e-6, atol=1e-6)
    assert len(fused_calls) == 2
    conv, bn, relu = _conv_bn_relu(training=True)
    conv_bn(conv, bn, x, relu)
    assert len(fused_calls) == 2  # training: conv, then bn_relu


def test_conv_bn_calls_the_modules_when_watched(fused_calls):
    x = lucid.tensor(np.random.default_rng(4).standard_normal((2, 2, 6, 6)).astype(np.float32))
    seen = []
    for watched in range(3):
        conv, bn, relu = _conv_bn_relu(training=False)
        module = (conv, bn, relu)[watched]
        module.register_forward_hook(lambda m, inp, out, w=watched: seen.append(w))
        conv_bn(conv, bn, x, relu)
    assert seen == [0, 1, 2] and not fused_calls
    conv, bn, relu = _conv_bn_relu(training=False)
    seq = nn.Sequential(conv, bn, relu)
    conv_bn_sequence(seq, x)
    assert len(fused_calls) == 1
    seq.register_forward_hook(lambda m, inp, out: seen.append("seq"))
    conv_bn_sequence(seq, x)
    assert seen[-1] == "seq" and len(fused_calls) == 1


def test_resnet_inference_fuses_every_conv_and_matches_the_modules(fused_calls):
    lucid.manual_seed(0)
    model = build_cifar_resnet18()
    x = lucid.tensor(np.random.default_rng(5).standard_normal((2, 3, 32, 32)).astype(np.float32))
    model(x)  # training mode: running statistics move away from 0 and 1
    model.eval()
    with lucid.no_grad():
        fused = model(x).numpy()
    assert len(fused_calls) == 20  # the stem, 16 block convs and 3 downsamples
    handles = [m.register_forward_hook(lambda *a: None) for m in model.modules()]
    with lucid.no_grad():
        modules = model(x).numpy()
    for h in handles:
        h.remove()
    assert len(fused_calls) == 20
    np.testing.assert_allclose(fused, modules, rtol=1e-5, atol=1e-5)
