"""In-place ops against PyTorch: values, identity, broadcasting, dtype rules, autograd, aliasing."""

import copy
import pickle
import re

import lucid
import numpy as np
import pytest
import torch
from lucid import DTypeError, GradError, ShapeError
from tensor_parity import assert_close, positive, randn, uniform

# ----- identity and aliasing ---------------------------------------------------------


def test_augmented_assignment_updates_every_reference():
    p = lucid.tensor([1.0, 2.0])
    q = p
    q += 1
    assert q is p
    np.testing.assert_array_equal(p.numpy(), [2.0, 3.0])
    before = id(p)
    p *= 3
    p -= 1
    p /= 2
    assert id(p) == before
    np.testing.assert_allclose(p.numpy(), [2.5, 4.0])


def test_manual_sgd_loop_matches_torch():
    """``with no_grad(): for p in params: p -= lr * p.grad``: a two-layer net, five steps."""
    shapes = {"w1": (4, 6), "b1": (6,), "w2": (6, 3), "b2": (3,)}
    init = {k: randn(*s, seed=i) * 0.5 for i, (k, s) in enumerate(shapes.items())}
    x, y = randn(8, 4, seed=10), randn(8, 3, seed=11)
    lp = {k: lucid.tensor(v, requires_grad=True) for k, v in init.items()}
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}
    lx, ly, tx, ty = lucid.tensor(x), lucid.tensor(y), torch.tensor(x), torch.tensor(y)
    lr = 0.1
    for _ in range(5):
        for P, X, Y, grad_off in ((lp, lx, ly, lucid.no_grad), (tp, tx, ty, torch.no_grad)):
            h = (X @ P["w1"] + P["b1"]).tanh()
            loss = ((h @ P["w2"] + P["b2"] - Y) ** 2).mean()
            loss.backward()
            with grad_off():
                for p in P.values():
                    p -= lr * p.grad
                    p.grad = None
    for k in shapes:
        assert lp[k].is_leaf and lp[k].requires_grad
        assert_close(lp[k], tp[k].detach(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(lp["w1"].numpy(), init["w1"])


def test_detach_shares_storage_both_ways():
    p = lucid.tensor(randn(3, 4), requires_grad=True)
    d = p.detach()
    assert not d.requires_grad and d.is_leaf
    d.mul_(0.5)  # PyTorch's p.data.mul_(0.5) / p.detach().mul_(0.5)
    np.testing.assert_allclose(p.numpy(), randn(3, 4) * 0.5)
    lucid.manual_seed(0)
    p.detach().normal_(0.0, 0.02)
    np.testing.assert_array_equal(d.numpy(), p.numpy())
    assert abs(float(p.numpy().std()) - 0.02) < 0.015
    with lucid.no_grad():
        p.zero_()
    np.testing.assert_array_equal(d.numpy(), np.zeros((3, 4)))
    assert p._version == d._version == 3


def test_data_reads_the_values_and_assigning_it_replaces_them():
    loss = (lucid.tensor([1.0, 3.0]) * 2).mean()
    assert float(loss.data) == 4.0 and int((lucid.tensor([1, 2]) > 1).sum().data) == 1
    p = lucid.tensor([1.0, 2.0], requires_grad=True)
    alias = p.detach()
    p.data = lucid.tensor([[5.0, 6.0, 7.0]])  # the shape may change, as in PyTorch
    assert p.shape == (1, 3) and p.requires_grad and p.is_leaf
    np.testing.assert_array_equal(alias.numpy(), [[5.0, 6.0, 7.0]])
    assert p._version == 0  # invisible to autograd, as PyTorch's .data


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda t: pickle.loads(pickle.dumps(t))],
                         ids=["deepcopy", "pickle"])
def test_a_copy_has_its_own_storage(clone):
    p = lucid.tensor([1.0, 2.0], requires_grad=True)
    p.detach()  # p now has an alias; the copy must not join it
    c = clone(p)
    assert c.requires_grad and c.is_leaf
    with lucid.no_grad():
        c += 1
    np.testing.assert_array_equal(p.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(c.numpy(), [2.0, 3.0])


# ----- each in-place op against torch -----------------------------------------------
# (name, self values, other operands as numpy arrays or numbers, lucid call, torch call)
A = randn(2, 3, 4, seed=1)
POS = positive(2, 3, 4, seed=2)
ROW, COL = randn(4, seed=3), randn(3, 1, seed=4)
PCOL = positive(3, 1, seed=5)

CASES = [
    ("add_", A, [ROW], lambda t, o: t.add_(o), lambda t, o: t.add_(o)),
    ("add_ alpha", A, [COL], lambda t, o: t.add_(o, alpha=-0.5), lambda t, o: t.add_(o, alpha=-0.5)),
    ("add_ number", A, [2.5], lambda t, o: t.add_(o), lambda t, o: t.add_(o)),
    ("sub_ alpha", A, [ROW], lambda t, o: t.sub_(o, alpha=2), lambda t, o: t.sub_(o, alpha=2)),
    ("mul_", A, [COL], lambda t, o: t.mul_(o), lambda t, o: t.mul_(o)),
    ("div_", A, [PCOL], lambda t, o: t.div_(o), lambda t, o: t.div_(o)),
    ("pow_", POS, [1.7], lambda t, o: t.pow_(o), lambda t, o: t.pow_(o)),
    ("pow_ tensor", POS, [PCOL], lambda t, o: t.pow_(o), lambda t, o: t.pow_(o)),
    ("neg_", A, [], lambda t: t.neg_(), lambda t: t.neg_()),
    ("abs_", A, [], lambda t: t.abs_(), lambda t: t.abs_()),
    ("exp_", A, [], lambda t: t.exp_(), lambda t: t.exp_()),
    ("log_", POS, [], lambda t: t.log_(), lambda t: t.log_()),
    ("sqrt_", POS, [], lambda t: t.sqrt_(), lambda t: t.sqrt_()),
    ("clamp_", A, [], lambda t: t.clamp_(-0.5, 0.7), lambda t: t.clamp_(-0.5, 0.7)),
    ("clamp_ min", A, [], lambda t: t.clamp_(min=0.1), lambda t: t.clamp_(min=0.1)),
    ("addcmul_", A, [ROW, COL], lambda t, a, b: t.addcmul_(a, b, value=0.3),
     lambda t, a, b: t.addcmul_(a, b, value=0.3)),
    ("addcdiv_", A, [ROW, PCOL], lambda t, a, b: t.addcdiv_(a, b, value=-2.0),
     lambda t, a, b: t.addcdiv_(a, b, value=-2.0)),
    ("lerp_", A, [ROW], lambda t, e: t.lerp_(e, 0.3), lambda t, e: t.lerp_(e, 0.3)),
    ("lerp_ tensor weight", A, [ROW, uniform(3, 1, low=0.0, high=0.4, seed=6)],
     lambda t, e, w: t.lerp_(e, w), lambda t, e, w: t.lerp_(e, w)),
    ("copy_", A, [ROW], lambda t, s: t.copy_(s), lambda t, s: t.copy_(s)),
    ("fill_", A, [], lambda t: t.fill_(-1.25), lambda t: t.fill_(-1.25)),
    ("zero_", A, [], lambda t: t.zero_(), lambda t: t.zero_()),
    ("+=", A, [COL], lambda t, o: t.__iadd__(o), lambda t, o: t.__iadd__(o)),
    ("-=", A, [ROW], lambda t, o: t.__isub__(o), lambda t, o: t.__isub__(o)),
    ("*=", A, [ROW], lambda t, o: t.__imul__(o), lambda t, o: t.__imul__(o)),
    ("/=", A, [PCOL], lambda t, o: t.__itruediv__(o), lambda t, o: t.__itruediv__(o)),
    ("**=", POS, [2.0], lambda t, o: t.__ipow__(o), lambda t, o: t.__ipow__(o)),
    ("%=", A, [PCOL], lambda t, o: t.__imod__(o), lambda t, o: t.__imod__(o)),
]
IDS = [c[0] for c in CASES]


def _operands(others, lucid_side: bool, requires_grad=False):
    out = []
    for o in others:
        if isinstance(o, np.ndarray):
            o = lucid.tensor(o, requires_grad=requires_grad) if lucid_side else (
                torch.tensor(o, requires_grad=requires_grad))
        out.append(o)
    return out


@pytest.mark.parametrize("name, values, others, lcall, tcall", CASES, ids=IDS)
def test_values_match_torch_and_identity_is_kept(name, values, others, lcall, tcall):
    lt, tt = lucid.tensor(values), torch.tensor(values)
    out = lcall(lt, *_operands(others, True))
    tcall(tt, *_operands(others, False))
    assert out is lt and lt.shape == tuple(tt.shape) and lt.dtype == lucid.float32
    assert_close(lt, tt)
    assert lt._version == 1


@pytest.mark.parametrize("name, values, others, lcall, tcall", CASES, ids=IDS)
def test_gradients_through_an_in_place_op_on_a_non_leaf_match_torch(name, values, others, lcall,
                                                                    tcall):
    """``y = 1.5 x; y.op_(others...)``: the gradient of ``sum(y g)`` w.r.t. x and the others."""
    g = randn(*values.shape, seed=20)
    results = []
    for side, call, lib in ((True, lcall, lucid), (False, tcall, torch)):
        x = lib.tensor(values / 1.5, requires_grad=True)
        ops = _operands(others, side, requires_grad=True)
        y = x * 1.5
        call(y, *ops)
        assert not y.is_leaf and y.requires_grad
        (y * lib.tensor(g)).sum().backward()
        results.append([x.grad] + [o.grad for o in ops if isinstance(o, (lucid.Tensor, torch.Tensor))])
    for lg, tg in zip(*results):
        assert (lg is None) == (tg is None) or (tg is not None and not tg.any())
        if lg is not None:
            assert_close(lg, tg)


BINARY = {
    "add_": lambda t, o: t.add_(o, alpha=0.5), "sub_": lambda t, o: t.sub_(o),
    "mul_": lambda t, o: t.mul_(o), "div_": lambda t, o: t.div_(o),
}


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shape, other_shape", [
    ((2, 3, 4), ()), ((2, 3, 4), (1,)), ((2, 3, 4), (2, 1, 4)), ((2, 3, 4), (1, 3, 1)),
    ((2, 3, 4), (2, 3, 4)), ((3,), (1,)), ((), ()), ((0, 3), (3,)), ((0, 3), (0, 1)),
])
def test_binary_in_place_broadcasting_and_edge_shapes_match_torch(name, shape, other_shape):
    values = randn(*shape, seed=13)
    other = positive(*other_shape, seed=14)
    g = randn(*shape, seed=15)
    results = []
    for lib in (lucid, torch):
        x = lib.tensor(values, requires_grad=True)
        o = lib.tensor(other, requires_grad=True)
        y = x * 1
        BINARY[name](y, o)
        (y * lib.tensor(g)).sum().backward()
        results.append((y, x.grad, o.grad))
    for lucid_value, torch_value in zip(*results):
        assert_close(lucid_value, torch_value.detach())


def test_in_place_ops_chain_in_the_graph():
    x = lucid.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y += 1
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])
    x.grad = None
    y = x * 2
    y.mul_(3).add_(1).clamp_(max=100.0)
    assert y.grad_fn is not None and "clamp" in repr(y.grad_fn)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0, 6.0])


def test_retain_grad_follows_the_tensor_through_an_in_place_op():
    grads = []
    for lib in (lucid, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.mul_(3)
        (y * y).sum().backward()
        grads.append((y.grad, x.grad))
    for lucid_grad, torch_grad in zip(*grads):
        assert_close(lucid_grad, torch_grad)


def test_in_place_with_an_operand_that_requires_grad_puts_a_plain_tensor_in_the_graph():
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    buf = lucid.zeros(2)
    buf += x * x
    assert buf.requires_grad and not buf.is_leaf
    buf.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_in_place_under_no_grad_keeps_the_grad_fn():
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    node = y.grad_fn
    with lucid.no_grad():
        y.add_(1)
    assert y.grad_fn is node
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_setitem_on_a_non_leaf_matches_torch():
    values, mask = randn(3, 4, seed=7), randn(3, 4, seed=8) > 0.5
    grads = []
    for lib in (lucid, torch):
        x = lib.tensor(values, requires_grad=True)
        row = lib.tensor(randn(4, seed=9), requires_grad=True)
        col = lib.tensor(randn(3, 1, seed=10), requires_grad=True)
        s = lib.tensor(1.5, requires_grad=True)
        y = x * 2
        y[1] = 0.5
        y[2] = row
        y[:, [0, 3]] = col
        y[lib.tensor(mask)] = s
        (y * y * lib.tensor(randn(3, 4, seed=11))).sum().backward()
        grads.append((y, x.grad, row.grad, col.grad, s.grad))
    for lucid_value, torch_value in zip(*grads):
        assert_close(lucid_value, torch_value.detach())


def test_copy_broadcasts_and_casts_and_takes_numpy():
    t = lucid.zeros(2, 3, dtype=lucid.int64)
    t.copy_(lucid.tensor([1.7, -1.7, 2.2]))
    ref = torch.zeros(2, 3, dtype=torch.long).copy_(torch.tensor([1.7, -1.7, 2.2]))
    assert t.dtype == lucid.int64 and t.tolist() == ref.tolist()
    f = lucid.zeros(3).copy_(np.arange(3.0))
    np.testing.assert_array_equal(f.numpy(), [0.0, 1.0, 2.0])
    assert f.dtype == lucid.float32


def test_fill_casts_to_the_tensor_dtype_and_takes_a_0d_tensor():
    t = lucid.zeros(3, dtype=lucid.int64).fill_(2.7)
    assert t.tolist() == torch.zeros(3, dtype=torch.long).fill_(2.7).tolist()
    x = lucid.tensor(2.0, requires_grad=True)
    y = lucid.zeros(3, requires_grad=True) * 1
    y.fill_(x)
    (y * lucid.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.item() == 6.0
    with pytest.raises(ShapeError, match=r"fill_.*0-d.*\(2,\)"):
        lucid.zeros(3).fill_(lucid.zeros(2))


def test_integer_floor_divide_and_remainder_match_torch():
    lt, tt = lucid.tensor([5, -7, 9]), torch.tensor([5, -7, 9])
    lt //= 2
    tt //= 2
    assert lt.tolist() == tt.tolist() and lt.dtype == lucid.int64
    lt %= 3
    tt %= 3
    assert lt.tolist() == tt.tolist()


def test_low_precision_tensor_keeps_its_dtype():
    h = lucid.ones(2, dtype=lucid.float16)
    h += lucid.full((2,), 0.1)  # float32 operand: the float32 result is cast back
    ref = torch.ones(2, dtype=torch.float16)
    ref += torch.full((2,), 0.1)
    assert h.dtype == lucid.float16
    np.testing.assert_array_equal(h.numpy(), ref.numpy())
    i = lucid.tensor([1, 2], dtype=lucid.int32)
    i += lucid.tensor([3, 4])  # int64 operand
    assert i.dtype == lucid.int32 and i.tolist() == [4, 6]


# ----- errors, with PyTorch's wording --------------------------------------------------
def _torch_message(fn) -> str:
    with pytest.raises(RuntimeError) as info:
        fn()
    return str(info.value)


@pytest.mark.parametrize("lcall, tcall", [
    (lambda: lucid.tensor([1, 2]).__itruediv__(2), lambda: torch.tensor([1, 2]).__itruediv__(2)),
    (lambda: lucid.tensor([1, 2]).add_(1.5), lambda: torch.tensor([1, 2]).add_(1.5)),
    (lambda: lucid.tensor([1, 2]).mul_(lucid.tensor([0.5, 1.0])),
     lambda: torch.tensor([1, 2]).mul_(torch.tensor([0.5, 1.0]))),
    (lambda: lucid.tensor([True]).__iadd__(1), lambda: torch.tensor([True]).__iadd__(1)),
    (lambda: lucid.tensor([1, 2]).exp_(), lambda: torch.tensor([1, 2]).exp_()),
], ids=["int /= 2", "int add_ float", "int mul_ float tensor", "bool += 1", "int exp_"])
def test_a_result_that_would_need_a_wider_kind_raises_as_torch(lcall, tcall):
    # the result's own type may differ (MLX makes bool + 1 an Int, PyTorch a Long)
    expected = re.sub(r"result type \w+", r"result type \\w+", _torch_message(tcall))
    with pytest.raises(DTypeError, match=expected):
        lcall()


def test_the_other_operand_must_broadcast_to_the_tensors_shape():
    expected = "output with shape [3] doesn't match the broadcast shape [2, 3]"
    assert expected in _torch_message(lambda: torch.zeros(3).add_(torch.zeros(2, 3)))
    t = lucid.zeros(3)
    with pytest.raises(ShapeError, match=r"add_: output with shape \(3,\).*broadcast shape \(2, 3\)"):
        t.add_(lucid.zeros(2, 3))
    with pytest.raises(ShapeError, match=r"mul_.*\(3,\).*Shapes \(3\) and \(2\)"):
        t.mul_(lucid.zeros(2))
    assert t.shape == (3,) and t._version == 0


def test_copy_from_a_source_that_does_not_broadcast_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"copy_: source shape \(6,\).*\(2, 3\)"):
        lucid.zeros(2, 3).copy_(lucid.arange(6).float())


def test_in_place_on_a_leaf_that_requires_grad_raises_as_torch():
    expected = "a leaf Variable that requires grad is being used in an in-place operation"
    assert expected in _torch_message(lambda: torch.ones(2, requires_grad=True).add_(1))
    for update in (lambda p: p.add_(1), lambda p: p.__isub__(1), lambda p: p.normal_(),
                   lambda p: p.__setitem__(0, 1.0), lambda p: p.copy_(lucid.zeros(2))):
        p = lucid.ones(2, requires_grad=True)
        with pytest.raises(GradError, match=expected):
            update(p)
        np.testing.assert_array_equal(p.numpy(), [1.0, 1.0])
        with lucid.no_grad():
            update(p)
        assert p.is_leaf and p.requires_grad


def test_random_fills_need_a_floating_tensor():
    with pytest.raises(DTypeError, match="normal_.*int64"):
        lucid.zeros(3, dtype=lucid.int64).normal_()
    with pytest.raises(DTypeError, match="uniform_.*int64"):
        lucid.zeros(3, dtype=lucid.int64).uniform_()


def test_random_fills_follow_the_seed_and_the_distribution():
    lucid.manual_seed(3)
    a = lucid.zeros(20000).normal_(2.0, 0.5)
    lucid.manual_seed(3)
    b = lucid.empty(20000).normal_(2.0, 0.5)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert abs(a.numpy().mean() - 2.0) < 0.02 and abs(a.numpy().std() - 0.5) < 0.02
    u = lucid.zeros(20000).uniform_(-3.0, -1.0).numpy()
    assert u.min() >= -3.0 and u.max() < -1.0 and abs(u.mean() + 2.0) < 0.03


# ----- saved values modified in place ----------------------------------------------------
def test_modifying_a_saved_input_makes_its_backward_raise_as_torch():
    expected = ("one of the variables needed for gradient computation has been modified by an "
                "inplace operation")

    def torch_case():
        x = torch.ones(2, requires_grad=True)
        a = x * 1
        b = a * x
        a.add_(1)
        b.sum().backward()

    assert expected in _torch_message(torch_case)
    x = lucid.ones(2, requires_grad=True)
    a = x * 1
    b = a * x
    a.add_(1)
    with pytest.raises(GradError, match=expected):
        b.sum().backward()


SAVES_RESULT = {
    "exp then mul_": lambda lib, x: x.exp().mul_(2),
    "sigmoid then add_": lambda lib, x: x.sigmoid().add_(1),
    "exp_ then add_": lambda lib, x: (x * 1).exp_().add_(1),
    "softmax then +=": lambda lib, x: lib.softmax(x, dim=0).__iadd__(1),
    "sqrt then zero_": lambda lib, x: x.sqrt().zero_(),
}


@pytest.mark.parametrize("make", SAVES_RESULT.values(), ids=SAVES_RESULT)
def test_overwriting_a_result_its_backward_keeps_raises_as_torch(make):
    expected = "modified by an inplace operation"
    assert expected in _torch_message(
        lambda: make(torch, torch.tensor([1.0, 2.0], requires_grad=True)).sum().backward())
    y = make(lucid, lucid.tensor([1.0, 2.0], requires_grad=True))
    with pytest.raises(GradError, match=expected + ": the output of"):
        y.sum().backward()


def test_overwriting_a_result_under_no_grad_still_raises():
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    y = x.tanh()
    with lucid.no_grad():
        y.add_(1)
    with pytest.raises(GradError, match="the output of tanh is at version 1; expected version 0"):
        y.sum().backward()


NO_RESULT_KEPT = {
    "div": lambda lib, x, w: x / w,
    "conv2d": lambda lib, x, w: (lucid.conv2d if lib is lucid else torch.nn.functional.conv2d)(
        x, w.reshape(1, 1, 1, 1)),
    "matmul": lambda lib, x, w: x.reshape(4, 4) @ (x.reshape(4, 4) * w),
    "mul then mul_": lambda lib, x, w: (x * w).mul_(w),
    "mean": lambda lib, x, w: (x * w).mean(dim=0),
}


@pytest.mark.parametrize("make", NO_RESULT_KEPT.values(), ids=NO_RESULT_KEPT)
def test_overwriting_a_result_its_torch_backward_does_not_keep_is_fine(make):
    values, weight = randn(1, 1, 4, 4, seed=12), np.array(1.7, np.float32)
    grads = []
    for lib in (lucid, torch):
        x = lib.tensor(values, requires_grad=True)
        w = lib.tensor(weight, requires_grad=True)
        y = make(lib, x, w)
        y += 1
        (y * y).sum().backward()
        grads.append((x.grad, w.grad))
    for lucid_grad, torch_grad in zip(*grads):
        assert_close(lucid_grad, torch_grad)


def test_modifying_a_saved_input_through_an_alias_is_caught():
    x = lucid.ones(2, requires_grad=True)
    a = x * 1
    b = (a * x).sum()
    a.detach().zero_()
    with pytest.raises(GradError, match="modified by an inplace operation"):
        b.backward()


def test_modifying_an_input_that_no_backward_holds_is_fine_as_in_torch():
    grads = []
    for lib in (lucid, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a = x * 2
        b = a + 1  # add keeps neither input
        a.add_(5)
        (b * b).sum().backward()
        grads.append(x.grad)
    assert_close(*grads)


def test_a_backward_taken_before_the_update_is_unaffected():
    w = lucid.tensor([1.0, 2.0], requires_grad=True)
    x = lucid.tensor([3.0, 4.0])
    (w * x).sum().backward()
    x += 1  # after backward: nothing left to check
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 4.0])


def test_modifying_a_saved_constant_input_raises():
    w = lucid.tensor([1.0, 2.0], requires_grad=True)
    x = lucid.tensor([3.0, 4.0])
    loss = (w * x).sum()  # mul keeps x for w's gradient
    x += 1
    with pytest.raises(GradError, match="input 1 of mul is at version 1; expected version 0"):
        loss.backward()


# ----- optimizer-style updates --------------------------------------------------------
def test_momentum_and_adam_style_updates_match_torch():
    momentum, dampening, beta1, beta2, lr, eps = 0.9, 0.1, 0.9, 0.999, 1e-2, 1e-8
    grads = [randn(3, 4, seed=30 + s) for s in range(4)]
    states = []
    for lib in (lucid, torch):
        p = lib.tensor(randn(3, 4, seed=40))
        buf, m, v = lib.zeros(3, 4), lib.zeros(3, 4), lib.zeros(3, 4)
        for step, g in enumerate(grads, 1):
            g = lib.tensor(g)
            buf.mul_(momentum).add_(g, alpha=1 - dampening)
            m.lerp_(g, 1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            denom = (v / (1 - beta2 ** step)).sqrt().add_(eps)
            p.addcdiv_(m, denom, value=-lr / (1 - beta1 ** step))
            p.add_(buf, alpha=-lr)
        states.append((p, buf, m, v))
    for lt, tt in zip(*states):
        assert_close(lt, tt, rtol=1e-5, atol=1e-6)


def test_data_is_pytorchs_shared_untracked_tensor():
    """``p.data`` shares ``p``'s storage, is outside the graph, and changes through it are
    invisible to autograd (its own version counter), as PyTorch's (DCGAN's init idiom)."""
    p = lucid.randn(4, 3, requires_grad=True)
    t = torch.from_numpy(p.numpy().copy()).requires_grad_()
    d = p.data
    assert isinstance(d, lucid.Tensor) and not d.requires_grad and d.grad_fn is None
    p.data.mul_(0.5)
    t.data.mul_(0.5)
    np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=1e-6)
    assert p._version == 0 and t._version == 0
    lucid.manual_seed(0)
    p.data.normal_(0, 0.02)
    assert p.numpy().std() < 0.1 and p.requires_grad
    y = (p * p).sum()
    p.data.add_(1.0)  # no "modified by an inplace operation" error, as in PyTorch
    y.backward()
    assert p.grad is not None
