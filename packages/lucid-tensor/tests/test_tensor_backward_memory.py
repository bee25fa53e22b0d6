"""What the backward keeps alive: saved values are freed as it passes them, and ops keep
only what their backward needs (a ReLU its output, a BatchNorm its input)."""

import lucid
import mlx.core as mx
import numpy as np
import pytest
from lucid import autograd
from lucid.ops.nn.batch_norm import batch_norm


def _chain(x, weights):
    """``relu(x * w)`` layer after layer, ``w`` a row of scales: each weight gradient needs
    its layer's output gradient, as a convolution's does."""
    for w in weights:
        x = lucid.relu(x * w)
    return x.sum()


LAYER_BYTES = 2048 * 1024 * 4  # one (2048, 1024) float32 activation: 8 MiB
LAYERS = 12


def _backward_growth() -> int:
    """Active memory the backward of a 12-layer chain adds over what the forward keeps."""
    rng = np.random.default_rng(0)
    x = lucid.tensor(rng.standard_normal((2048, 1024), dtype=np.float32))
    ws = [lucid.tensor(rng.uniform(0.5, 1.5, 1024).astype(np.float32), requires_grad=True)
          for _ in range(LAYERS)]
    loss = _chain(x, ws)
    mx.eval(loss._data)
    after_forward = mx.get_active_memory()
    mx.reset_peak_memory()
    loss.backward()
    mx.eval([w.grad._data for w in ws])
    return mx.get_peak_memory() - after_forward


def test_backward_frees_each_layer_as_it_passes(monkeypatch):
    """Evaluated as it goes, the backward holds the pending bound and a few layers."""
    monkeypatch.setattr(autograd, "PENDING_GRADIENT_BYTES", 16 * 2**20)
    growth = _backward_growth()
    assert growth < 16 * 2**20 + 4 * LAYER_BYTES, (
        f"the backward grew active memory by {growth / 2**20:.0f} MiB")


def test_a_backward_computed_at_the_end_holds_every_layer(monkeypatch):
    """Why the bound exists: computed only at the end, the backward holds every layer's
    output gradient until its weight gradient is computed (about 12 x 8 MiB more)."""
    monkeypatch.setattr(autograd, "PENDING_GRADIENT_BYTES", 2**62)
    assert _backward_growth() > LAYERS * LAYER_BYTES


def test_bounded_backward_gives_the_same_gradients(monkeypatch):
    rng = np.random.default_rng(1)
    x = lucid.tensor(rng.standard_normal((64, 32), dtype=np.float32))
    ws = [lucid.tensor(rng.standard_normal(32).astype(np.float32), requires_grad=True)
          for _ in range(5)]
    _chain(x, ws).backward()
    lazy = [w.grad.numpy() for w in ws]
    for w in ws:
        w.grad = None
    monkeypatch.setattr(autograd, "PENDING_GRADIENT_BYTES", 0)  # evaluate after every node
    _chain(x, ws).backward()
    for a, w in zip(lazy, ws):
        np.testing.assert_array_equal(a, w.grad.numpy())


def _node_holds(t, array) -> bool:
    return autograd._holds(t._node.backward, id(array))


def test_relu_keeps_its_output_not_its_input():
    x = lucid.tensor(np.linspace(-1, 1, 50, dtype=np.float32), requires_grad=True)
    h = x * 2  # an intermediate, as a BatchNorm's output is
    y = lucid.relu(h)
    assert _node_holds(y, y._data)
    assert not _node_holds(y, h._data)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_keeps_its_output_only_when_fused_with_relu(relu, training):
    rng = np.random.default_rng(2)
    x = lucid.tensor(rng.standard_normal((4, 3, 5, 5), dtype=np.float32), requires_grad=True)
    h = x * 1  # an op output, as a convolution's is
    w = lucid.ones(3, requires_grad=True)
    b = lucid.zeros(3, requires_grad=True)
    y = batch_norm(h, lucid.zeros(3), lucid.ones(3), w, b, training=training, relu=relu)
    assert _node_holds(y, y._data) == relu


@pytest.mark.parametrize("shape", [(3, 70000), (4, 5), ()])
def test_gradients_of_a_value_used_twice_are_summed(shape):
    rng = np.random.default_rng(3)
    x = lucid.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
    h = x * 2  # an intermediate feeding two ops, as a residual block's input
    (h.sin() * h + h.exp()).sum().backward()
    v = 2 * x.numpy().astype(np.float64)
    want = 2 * (np.cos(v) * v + np.sin(v) + np.exp(v))
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-5, atol=1e-5)
    assert np.asarray(autograd._sum(mx.ones(shape), mx.full(shape, 2.0))).tolist() == \
        np.full(shape, 3.0).tolist()
