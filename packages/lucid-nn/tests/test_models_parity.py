"""Whole models with weights copied from PyTorch: same logits, gradients and BN statistics."""

import copy

import lucid
import lucid.optim
import numpy as np
import torch
from lucid import models
from models_parity import (
    TorchLeNet5,
    buffer_errors,
    check_grads,
    cifar_batch,
    copy_from_torch,
    grad_errors,
    lucid_step,
    rel_err,
    torch_cifar_resnet18,
    torch_step,
    ulp_nudged,
)


def _zero(lucid_model, torch_model):
    lucid_model.zero_grad()
    torch_model.zero_grad()


def test_lenet5_logits_and_gradients_train_and_eval():
    torch.manual_seed(0)
    t = TorchLeNet5()
    m = copy_from_torch(models.lenet_5(), t)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 8).astype(np.int64)
    for train in (True, False):
        m.train(train)
        t.train(train)
        _zero(m, t)
        lo, ll = lucid_step(m, x, y)
        to, tl = torch_step(t, x, y)
        assert np.abs(lo - to).max() < 1e-4
        assert abs(ll - tl) < 1e-5
        errs = grad_errors(m, t)
        assert len(errs) == 10
        assert max(errs.values()) < 1e-3, errs


def test_cifar_resnet18_train_and_eval_mode():
    """Three train-mode passes (batch statistics, running statistics updated), then eval mode.

    The weights stay the copied ones throughout, so every difference is the float32 rounding
    of one forward and one backward pass; gradients are judged against a float64 twin
    (``check_grads``).
    """
    torch.manual_seed(0)
    t = torch_cifar_resnet18()
    m = copy_from_torch(models.build_cifar_resnet18(), t)
    rng = np.random.default_rng(1)
    m.train()
    t.train()
    for step in range(3):
        x, y = cifar_batch(rng, 8)
        _zero(m, t)
        before = copy.deepcopy(t)
        lo, ll = lucid_step(m, x, y)
        to, tl = torch_step(t, x, y)
        assert np.abs(lo - to).max() < 1e-4, step
        assert abs(ll - tl) < 1e-5 * max(1.0, abs(tl)), step
        assert len(grad_errors(m, t)) == 62
        check_grads(m, t, before, (x, y))
    bufs = buffer_errors(m, t)
    assert len(bufs) == 2 * 20  # running mean and var of 20 BatchNorms
    worst = max(bufs, key=bufs.get)
    assert bufs[worst] < 1e-5, (worst, bufs[worst])

    m.eval()
    t.eval()
    x, y = cifar_batch(rng, 8)
    _zero(m, t)
    before = copy.deepcopy(t)
    lo, ll = lucid_step(m, x, y)
    to, tl = torch_step(t, x, y)
    assert np.abs(lo - to).max() < 1e-4 * max(1.0, np.abs(to).max())
    check_grads(m, t, before, (x, y))
    after = {k: b.numpy().copy() for k, b in m.named_buffers()}  # eval leaves them alone
    with lucid.no_grad():
        m(lucid.tensor(x))
    for k, b in m.named_buffers():
        np.testing.assert_array_equal(b.numpy(), after[k], err_msg=k)


def test_cifar_resnet18_sgd_steps():
    """Three SGD-with-momentum steps: Lucid stays as close to PyTorch as PyTorch to itself.

    After the first update the two models hold weights that differ by rounding, and BatchNorm
    over a batch of 8 amplifies that step by step. The yardstick is a control: a second
    PyTorch run whose initial weights are one float32 ULP larger.
    """
    torch.manual_seed(3)
    t = torch_cifar_resnet18()
    c = ulp_nudged(t)
    m = copy_from_torch(models.build_cifar_resnet18(), t)

    def sgd(params, lib):
        return lib.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)

    opts = [sgd(m.parameters(), lucid), sgd(t.parameters(), torch), sgd(c.parameters(), torch)]
    rng = np.random.default_rng(2)
    ours, control = [], []
    for model in (m, t, c):
        model.train()
    for _ in range(3):
        x, y = cifar_batch(rng, 8)
        for opt in opts:
            opt.zero_grad()
        lo, ll = lucid_step(m, x, y)
        to, tl = torch_step(t, x, y)
        co, cl = torch_step(c, x, y)
        ours.append((np.abs(lo - to).max(), abs(ll - tl) / tl))
        control.append((np.abs(co - to).max(), abs(cl - tl) / tl))
        for opt in opts:
            opt.step()
    assert ours[0][0] < 1e-4 and ours[0][1] < 1e-5
    for (d_logit, d_loss), (c_logit, c_loss) in zip(ours, control, strict=True):
        assert d_logit < 10 * c_logit + 1e-4, (ours, control)
        assert d_loss < 10 * c_loss + 1e-5, (ours, control)

    rename = models.renamer(m)
    tsd, csd = t.state_dict(), c.state_dict()
    for k, p in m.named_parameters():
        spread = rel_err(csd[rename(k)].numpy(), tsd[rename(k)].numpy())
        assert rel_err(p.numpy(), tsd[rename(k)].numpy()) < 10 * spread + 1e-6, k
    ours_b, control_b = buffer_errors(m, t), buffer_errors(c, t)
    for k, err in ours_b.items():
        assert err < 10 * control_b[rename(k)] + 1e-5, (k, err, control_b[rename(k)])
