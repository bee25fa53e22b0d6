"""The autograd engine: accumulation, grad modes, graph lifetime, leaves, errors."""

import lucid
import numpy as np
import pytest
import torch
from tensor_parity import assert_close, check_op, randn


def leaf(values, requires_grad=True):
    return lucid.tensor(np.asarray(values, np.float32), requires_grad=requires_grad)


# ----- leaves, .grad and accumulation ------------------------------------------------
def test_grad_is_none_until_backward():
    x = leaf([1.0, 2.0])
    assert x.grad is None and x.is_leaf and x.grad_fn is None
    (x * 3).sum().backward()
    assert_close(x.grad, np.array([3.0, 3.0], np.float32))


def test_gradients_accumulate_across_backward_calls_until_zeroed():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    (x * 2).sum().backward()
    assert_close(x.grad, 2 * np.array([1.0, 2.0, 3.0], np.float32) + 2)
    x.zero_grad()
    assert x.grad is None
    x.sum().backward()
    assert_close(x.grad, np.ones(3, np.float32))


def test_accumulation_matches_torch():
    a = randn(3, 4)
    lx, tx = lucid.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    for lib, x in ((lucid, lx), (torch, tx)):
        lib.tanh(x).sum().backward()
        (x * x).mean().backward()
    assert_close(lx.grad, tx.grad)


def test_intermediates_are_not_leaves_and_keep_no_grad():
    x = leaf([1.0, 2.0])
    y = x * 2
    z = y.sum()
    assert not y.is_leaf and y.requires_grad and y.grad_fn is not None
    assert "mul" in repr(y.grad_fn)
    z.backward()
    assert y.grad is None
    assert x.grad is not None


def test_retain_grad_keeps_an_intermediate_gradient_like_torch():
    a = randn(3, 4)
    lx, tx = lucid.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    grads = []
    for lib, x in ((lucid, lx), (torch, tx)):
        y = lib.exp(x) * 2
        y.retain_grad()
        (lib.sin(y) * y).sum().backward()
        grads.append(y.grad)
    assert_close(grads[0], grads[1])
    assert_close(lx.grad, tx.grad)


def test_the_graph_does_not_keep_intermediate_tensors_alive():
    """Only backward closures keep values: a dropped intermediate (here the output of a
    ReLU, whose product's backward needs the other operand only) is freed at once."""
    import gc
    import weakref

    x = lucid.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    w = lucid.tensor([[0.5, 1.0], [-1.0, 2.0]], requires_grad=True)
    h = lucid.relu(x)
    z = (h.sum(axis=0) * w).sum()
    ref = weakref.ref(h)
    del h
    gc.collect()
    assert ref() is None
    z.backward()
    xt = torch.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    wt = torch.tensor([[0.5, 1.0], [-1.0, 2.0]], requires_grad=True)
    (torch.relu(xt).sum(dim=0) * wt).sum().backward()
    assert_close(x.grad, xt.grad)
    assert_close(w.grad, wt.grad)


def test_retain_grad_on_a_leaf_is_harmless():
    x = leaf([1.0, 2.0])
    x.retain_grad()
    (x * 3).sum().backward()
    assert_close(x.grad, np.array([3.0, 3.0], np.float32))


def test_inputs_that_do_not_require_grad_get_none():
    w = leaf([1.0, 2.0])
    c = leaf([3.0, 4.0], requires_grad=False)
    unused = leaf([5.0])
    (w * c).sum().backward()
    assert c.grad is None and unused.grad is None
    assert_close(w.grad, np.array([3.0, 4.0], np.float32))


def test_backward_on_a_leaf_accumulates_the_given_gradient():
    x = leaf([1.0, 2.0])
    x.backward(lucid.tensor([0.5, -1.0]))
    assert_close(x.grad, np.array([0.5, -1.0], np.float32))


def test_gradient_keeps_the_leaf_dtype():
    x = lucid.tensor(np.ones(3, np.float16), requires_grad=True)
    (x.astype(lucid.float32) * 2).sum().backward()
    assert x.grad.dtype == lucid.float16


def test_broadcast_gradients_are_summed_to_the_input_shape():
    check_op(lambda w, b, x: x @ w + b, lambda w, b, x: x @ w + b,
             randn(4, 3, seed=1), randn(1, 3, seed=2), randn(5, 4, seed=3))


# ----- graph shapes ------------------------------------------------------------------
def test_diamond_graph_sums_both_paths():
    def f(lib):
        def g(x):
            y = x * 2
            a, b = lib.exp(y), lib.sin(y)
            return a * b + y

        return g

    check_op(f(lucid), f(torch), randn(3, 4))


def test_one_tensor_used_several_times_in_one_op():
    check_op(lambda x: x * x * x, lambda x: x * x * x, randn(5))
    check_op(lambda x: x @ x, lambda x: x @ x, randn(3, 3))


def test_two_inputs_sharing_a_subgraph():
    def f(x, w):
        h = x @ w
        return h * h.sum(1, keepdims=True) - h

    def ft(x, w):
        h = x @ w
        return h * h.sum(1, keepdim=True) - h

    check_op(f, ft, randn(2, 3, seed=1), randn(3, 4, seed=2))


def test_a_deep_chain_does_not_hit_the_recursion_limit():
    x = leaf([1.0])
    y = x
    for _ in range(3000):
        y = y + 1e-3
    y.sum().backward()
    assert_close(x.grad, np.ones(1, np.float32))


# ----- backward arguments and errors -------------------------------------------------
def test_backward_with_gradient_is_a_vector_jacobian_product():
    a, g = randn(3, 4, seed=1), randn(3, 4, seed=2)
    lx, tx = lucid.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    lucid.tanh(lx * 3).backward(lucid.tensor(g))
    torch.tanh(tx * 3).backward(torch.tensor(g))
    assert_close(lx.grad, tx.grad)
    lx.grad = None
    lucid.tanh(lx * 3).backward(gradient=g)  # a NumPy array works too
    assert_close(lx.grad, tx.grad)


def test_backward_with_a_wrong_gradient_shape_is_an_error():
    x = leaf([1.0, 2.0])
    with pytest.raises(lucid.GradError, match=r"\(3,\).*\(2,\)"):
        (x * 2).backward(lucid.ones(3))


def test_backward_of_a_non_scalar_without_gradient_is_an_error():
    x = leaf([[1.0, 2.0]])
    with pytest.raises(lucid.GradError, match=r"scalar.*\(1, 2\)"):
        (x * 2).backward()


def test_backward_of_a_one_element_tensor_needs_no_gradient():
    x = leaf([[3.0]])
    (x * x).backward()
    assert_close(x.grad, np.array([[6.0]], np.float32))


def test_backward_on_a_tensor_without_graph_is_an_error():
    with pytest.raises(lucid.GradError, match="does not require grad"):
        lucid.tensor([1.0, 2.0]).sum().backward()


def test_second_backward_needs_retain_graph():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(lucid.GradError, match="retain_graph"):
        y.backward()


def test_retain_graph_allows_a_second_backward_that_accumulates():
    x = leaf([1.0, 2.0])
    y = (lucid.exp(x) * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    assert_close(x.grad, 2 * first)


def test_backward_through_a_freed_shared_subgraph_is_an_error():
    x = leaf([1.0, 2.0])
    h = x * 2
    h.sum().backward()
    with pytest.raises(lucid.GradError, match="second time"):
        (h * 3).sum().backward()


def test_two_outputs_of_one_graph_with_retain_graph_like_torch():
    a = randn(4)
    lx, tx = lucid.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    for lib, x in ((lucid, lx), (torch, tx)):
        h = lib.sigmoid(x)
        (h * 2).sum().backward(retain_graph=True)
        (h * h).sum().backward()
    assert_close(lx.grad, tx.grad)


# ----- grad modes --------------------------------------------------------------------
def test_no_grad_context_records_nothing_and_restores():
    x = leaf([1.0, 2.0])
    assert lucid.is_grad_enabled()
    with lucid.no_grad():
        assert not lucid.is_grad_enabled()
        y = x * 2
    assert lucid.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert (x * 2).requires_grad


def test_no_grad_restores_after_an_exception():
    with pytest.raises(RuntimeError):
        with lucid.no_grad():
            raise RuntimeError("inside")
    assert lucid.is_grad_enabled()


def test_no_grad_and_enable_grad_as_decorators():
    x = leaf([1.0, 2.0])

    @lucid.no_grad()
    def frozen(t):
        assert not lucid.is_grad_enabled()
        return t * 2

    @lucid.enable_grad()
    def tracked(t):
        return t * 2

    assert not frozen(x).requires_grad
    assert lucid.is_grad_enabled()
    with lucid.no_grad():
        assert tracked(x).requires_grad
        assert not lucid.is_grad_enabled()
    assert frozen.__name__ == "frozen"


def test_enable_grad_inside_no_grad_and_set_grad_enabled():
    x = leaf([1.0])
    with lucid.no_grad():
        with lucid.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    with lucid.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with lucid.set_grad_enabled(True):
        assert (x * 2).requires_grad


# ----- requires_grad, detach, in-place -----------------------------------------------
def test_requires_grad_flag_and_method():
    x = lucid.tensor([1.0, 2.0])
    assert not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    for make in (lambda: lucid.zeros(2, requires_grad=True), lambda: lucid.randn(2, requires_grad=True)):
        assert make().requires_grad


def test_requires_grad_false_on_an_intermediate_is_an_error():
    y = leaf([1.0]) * 2
    with pytest.raises(lucid.GradError, match="detach"):
        y.requires_grad_(False)


@pytest.mark.parametrize("make", [
    lambda: lucid.tensor([1, 2], requires_grad=True),
    lambda: lucid.tensor([1, 2]).requires_grad_(),
    lambda: lucid.zeros(2, dtype=lucid.int64, requires_grad=True),
    lambda: lucid.tensor([True, False], requires_grad=True),
])
def test_integer_or_bool_tensors_cannot_require_grad(make):
    with pytest.raises(lucid.DTypeError, match="floating"):
        make()


def test_integer_results_of_differentiable_inputs_do_not_require_grad():
    x = leaf([1.5, 2.5])
    assert not x.argmax().requires_grad
    assert not (x > 2).requires_grad


def test_detach_cuts_the_graph_and_shares_values():
    x = leaf([1.0, 2.0])
    d = (x * 3).detach()
    assert not d.requires_grad and d.is_leaf
    assert_close(d, np.array([3.0, 6.0], np.float32))
    (x * d).sum().backward()
    assert_close(x.grad, np.array([3.0, 6.0], np.float32))


def test_detach_in_place_turns_an_intermediate_into_a_leaf():
    y = leaf([1.0]) * 2
    assert y.detach_() is y
    assert y.is_leaf and not y.requires_grad


@pytest.mark.parametrize("update", [
    lambda t: t.add_(1.0), lambda t: t.mul_(2.0), lambda t: t.fill_(0.0), lambda t: t.zero_(),
    lambda t: t.copy_(lucid.ones(2)), lambda t: t.sub_(1.0), lambda t: t.div_(2.0),
])
def test_in_place_update_of_a_leaf_requiring_grad_is_an_error(update):
    x = leaf([1.0, 2.0])
    with pytest.raises(lucid.GradError, match="in-place"):
        update(x)
    with lucid.no_grad():
        update(x)  # allowed without graph recording, as optimizers do


def test_in_place_update_under_no_grad_changes_values():
    w = leaf([1.0, 2.0])
    (w * w).sum().backward()
    with lucid.no_grad():
        w.sub_(w.grad, alpha=0.5)
    assert_close(w, np.array([0.0, 0.0], np.float32))
    assert w.requires_grad and w.is_leaf


def test_gradient_reaches_an_intermediate_that_feeds_a_later_input_of_the_same_op():
    # a feeds b, and both feed the final add: a's gradient must gather both paths (2 + 6 = 8),
    # whichever operand order the add gets.
    for order in (lambda a, b: a + b, lambda a, b: b + a):
        x = lucid.tensor([1.0], requires_grad=True)
        a = x * 2
        b = a * 3
        order(a, b).sum().backward()
        assert x.grad.item() == 8.0
