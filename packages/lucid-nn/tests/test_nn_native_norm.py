"""BatchNorm (optionally fused with a following ReLU) through the native CPU kernels
(lucid._native) against PyTorch: training steps (output, gradients of input, weight and
bias, running statistics) and evaluation. Run with LUCID_NATIVE=0, the same tests check
the MLX-ops path of the fused ReLU."""

import sys

import lucid
import lucid.nn.functional as F
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from lucid import _native
from nn_parity import assert_close, randn, uniform

TOL = {"rtol": 1e-4, "atol": 1e-4}
SHAPES = [(4, 3, 5, 6), (2, 16, 4, 4), (1, 3, 7, 5), (8, 5), (3, 4, 7), (6, 32, 1, 1)]


def _bn_module():
    assert lucid.Tensor is not None  # loads the engine first
    return sys.modules["lucid.ops.nn.batch_norm"]


def _run_lucid(x, w, b, rm, rv, g, training, relu, momentum, eps):
    lx = lucid.tensor(x, requires_grad=True)
    lw = None if w is None else lucid.tensor(w, requires_grad=True)
    lb = None if b is None else lucid.tensor(b, requires_grad=True)
    lrm, lrv = lucid.tensor(rm), lucid.tensor(rv)
    out = F.batch_norm(lx, lrm, lrv, lw, lb, training=training, momentum=momentum, eps=eps,
                       relu=relu)
    (out * lucid.tensor(g)).sum().backward()
    grads = [t.grad for t in (lx, lw, lb) if t is not None]
    return out, grads, (lrm, lrv)


def _run_torch(x, w, b, rm, rv, g, training, relu, momentum, eps):
    tx = torch.tensor(x, requires_grad=True)
    tw = None if w is None else torch.tensor(w, requires_grad=True)
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    out = TF.batch_norm(tx, trm, trv, tw, tb, training=training, momentum=momentum, eps=eps)
    out = TF.relu(out) if relu else out
    (out * torch.tensor(g)).sum().backward()
    grads = [t.grad for t in (tx, tw, tb) if t is not None]
    return out, grads, (trm, trv)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_batch_norm_relu_matches_torch(shape, training, relu, affine):
    c = shape[1]
    x = randn(*shape, seed=1) * 3 + 1
    w = uniform(c, low=0.5, high=1.5, seed=2) if affine else None
    b = uniform(c, seed=3) if affine else None
    rm, rv = uniform(c, seed=4), uniform(c, low=0.5, high=2.0, seed=5)
    g = randn(*shape, seed=6)
    args = (x, w, b, rm, rv, g, training, relu, 0.1, 1e-5)
    l_out, l_grads, l_stats = _run_lucid(*args)
    t_out, t_grads, t_stats = _run_torch(*args)
    assert_close(l_out, t_out, **TOL)
    assert len(l_grads) == len(t_grads)
    for name, lg, tg in zip(("input", "weight", "bias"), l_grads, t_grads):
        assert_close(lg, tg, what=f"grad of {name}", **TOL)
    for lt, tt in zip(l_stats, t_stats, strict=True):  # updated in training, kept in eval
        assert_close(lt, tt, rtol=1e-5, atol=1e-6, what="running statistic")


@pytest.mark.skipif(not (sys.platform == "linux" and _native.load() is not None),
                    reason="native kernels not built here (LUCID_NATIVE=0, or no toolchain)")
def test_native_path_is_taken_for_cpu_float32_only():
    bn = _bn_module()
    x = lucid.randn(2, 3, 4, 4)
    assert bn._native_kernels(x, None, None) is not None
    assert bn._native_kernels(x.astype(lucid.float16), None, None) is None
    w16 = lucid.ones(3).astype(lucid.float16)
    assert bn._native_kernels(x, w16, None) is None


def test_batch_norm_relu_keeps_zero_gradient_where_clipped():
    x = lucid.tensor(np.array([[-5.0, 1.0], [5.0, -1.0]], np.float32), requires_grad=True)
    out = F.batch_norm(x, None, None, training=True, relu=True)
    out.sum().backward()
    expected = np.maximum((x.numpy() - x.numpy().mean(0)) / np.sqrt(x.numpy().var(0) + 1e-5), 0)
    assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert np.isfinite(x.grad.numpy()).all()
