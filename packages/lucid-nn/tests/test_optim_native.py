"""The native fused updates of Adam, AdamW and SGD (``lucid._native``): taken on the CPU in
float32, equal to the compiled MLX rule they replace, safe when they update in place.

(Parity with PyTorch on both paths is test_optim_optimizers.py, run with and without
``LUCID_NATIVE=0``.)
"""

from unittest import mock

import lucid
import lucid.optim as optim
import mlx.core as mx
import numpy as np
import pytest
from lucid import _native
from lucid.optim.optimizer import Optimizer

needs_native = pytest.mark.skipif(
    _native.load() is None, reason="native kernels off or unavailable here (LUCID_NATIVE=0, "
    "not Linux x86-64, or no compiler); the MLX rule runs and is tested elsewhere")

CASES = [
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), maximize=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3)),
    ("AdamW", dict(lr=0.05, amsgrad=True, maximize=True)),
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, weight_decay=0.05, maximize=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw in CASES]
# Both paths compute the same float32 formulas, but where g + wd p is ~0, Adam's m / sqrt(v)
# magnifies a last-bit difference (FMA contraction) up to ~1e-4 of a 0.05 step; a wrong
# term moves an element by a sizeable fraction of lr.
TOL = dict(rtol=1e-5, atol=5e-4)
SHAPES = [(70000,), (33, 17), (5,), (4, 3, 3, 3)]  # one spans several OpenMP blocks


def _run(name, kwargs, steps=4, transpose_grad=False):
    rng = np.random.default_rng(0)
    params = [lucid.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
              for s in SHAPES]
    opt = getattr(optim, name)(params, **kwargs)
    for _ in range(steps):
        for p in params:
            g = rng.standard_normal(p.shape[::-1] if transpose_grad else p.shape)
            g = mx.array(g.astype(np.float32))
            p.grad = lucid.Tensor._wrap(g.T if transpose_grad else g, p.device)
        opt.step()
    return [np.array(p._data) for p in params], opt


@needs_native
@pytest.mark.parametrize("name, kwargs", CASES, ids=IDS)
def test_native_kernel_is_taken_and_equals_the_mlx_rule(name, kwargs):
    cls = getattr(optim, name)
    owner = next(k for k in cls.__mro__ if "native_single" in k.__dict__)  # Adam for AdamW
    calls = []
    real = owner.native_single

    def spy(*args, **kw):
        calls.append(kw["scalars"])
        return real(*args, **kw)

    with mock.patch.object(owner, "native_single", staticmethod(spy)):
        native, _ = _run(name, kwargs)
    assert len(calls) == 4 * len(SHAPES)
    with mock.patch.object(Optimizer, "_native", staticmethod(lambda p: None)):
        mlx_rule, _ = _run(name, kwargs)
    for a, b in zip(native, mlx_rule, strict=True):
        np.testing.assert_allclose(a, b, **TOL)


@needs_native
@pytest.mark.parametrize("name, kwargs", [CASES[1], CASES[8]], ids=[IDS[1], IDS[8]])
def test_native_kernel_reads_strided_gradients(name, kwargs):
    with mock.patch.object(Optimizer, "_native", staticmethod(lambda p: None)):
        expected, _ = _run(name, kwargs, transpose_grad=True)
    got, _ = _run(name, kwargs, transpose_grad=True)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, **TOL)


@needs_native
def test_native_update_leaves_held_arrays_alone():
    """An update runs in place only on arrays nobody else holds: a state dict snapshot and
    a reference to the old parameter keep their values."""
    p = lucid.tensor(np.ones((300, 300), np.float32), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = lucid.ones(300, 300)
    opt.step()
    snapshot = opt.state_dict()["state"][0]["exp_avg"]
    before = np.array(snapshot._data)
    old_p, old_values = p._data, np.array(p._data)
    p.grad = lucid.ones(300, 300)
    opt.step()
    np.testing.assert_array_equal(np.array(snapshot._data), before)
    np.testing.assert_array_equal(np.array(old_p), old_values)
    np.testing.assert_allclose(old_values, 0.9, rtol=1e-6)
    assert not np.allclose(np.array(opt.state[p]["exp_avg"]._data), before)


def test_compile_false_and_other_dtypes_keep_the_mlx_rule():
    """``compile=False`` runs the rule op by op, float16 parameters the compiled MLX rule."""
    with mock.patch.object(optim.Adam, "native_single", side_effect=AssertionError("native")):
        p = lucid.tensor(np.ones(8, np.float32), requires_grad=True)
        p.grad = lucid.ones(8)
        optim.Adam([p], lr=0.1, compile=False).step()
        h = lucid.tensor(np.ones(8, np.float16), requires_grad=True)
        h.grad = lucid.ones(8, dtype=lucid.float16)
        optim.Adam([h], lr=0.1).step()
    np.testing.assert_allclose(np.array(p._data), 0.9, rtol=1e-6)
    np.testing.assert_allclose(np.array(h._data, np.float32), 0.9, rtol=1e-3)


def test_a_subclass_with_its_own_rule_keeps_it():
    """Adam's native kernel is Adam's rule: a subclass redefining the rule runs its own."""

    class SignAdam(optim.Adam):
        @staticmethod
        def apply_single(p, g, state, hyper, **flags):
            return p - 0.5 * mx.sign(g), list(state)

    p = lucid.tensor(np.zeros(4, np.float32), requires_grad=True)
    p.grad = lucid.tensor(np.array([1, -2, 3, -4], np.float32))
    with mock.patch.object(optim.Adam, "native_single", side_effect=AssertionError("native")):
        SignAdam([p], lr=0.1).step()
    np.testing.assert_array_equal(np.array(p.data), [-0.5, 0.5, -0.5, 0.5])
