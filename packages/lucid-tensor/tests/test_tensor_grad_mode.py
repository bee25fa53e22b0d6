"""Grad mode: ``no_grad``/``enable_grad``/``set_grad_enabled`` as blocks and decorators,
with and without parentheses (PyTorch's ``@torch.no_grad`` since 2.0)."""

import lucid
import pytest


def _records(x):
    return (x * 2).requires_grad, lucid.is_grad_enabled()


@pytest.mark.parametrize("make", [lambda f: lucid.no_grad(f), lambda f: lucid.no_grad()(f)],
                         ids=["bare", "called"])
def test_no_grad_decorator(make):
    f = make(_records)
    x = lucid.ones(3, requires_grad=True)
    assert f(x) == (False, False)
    assert f.__name__ == "_records"
    assert lucid.is_grad_enabled()  # restored after the call
    assert (x * 2).requires_grad


@pytest.mark.parametrize("make", [lambda f: lucid.enable_grad(f),
                                  lambda f: lucid.enable_grad()(f)], ids=["bare", "called"])
def test_enable_grad_decorator_inside_no_grad(make):
    f = make(_records)
    x = lucid.ones(3, requires_grad=True)
    with lucid.no_grad():
        assert f(x) == (True, True)
        assert not lucid.is_grad_enabled()
    assert lucid.is_grad_enabled()


def test_decorator_syntax_without_parentheses():
    @lucid.no_grad
    def step(w):
        w.sub_(w * 0.5)  # an in-place update of a leaf that requires grad: only under no_grad
        return w

    w = lucid.ones(2, requires_grad=True)
    assert step(w).tolist() == [0.5, 0.5]
    assert w.grad is None and w.requires_grad


def test_set_grad_enabled_block_and_decorator():
    x = lucid.ones(2, requires_grad=True)
    with lucid.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    f = lucid.set_grad_enabled(False)(_records)
    assert f(x) == (False, False)
    assert lucid.is_grad_enabled()


def test_nested_reuse_of_one_mode_object_restores_each_level():
    mode = lucid.no_grad()
    with mode:
        with lucid.enable_grad():
            with mode:
                assert not lucid.is_grad_enabled()
            assert lucid.is_grad_enabled()
        assert not lucid.is_grad_enabled()
    assert lucid.is_grad_enabled()


def test_mode_restored_when_the_function_raises():
    @lucid.no_grad
    def boom():
        raise KeyError("x")

    with pytest.raises(KeyError):
        boom()
    assert lucid.is_grad_enabled()


def test_decorating_a_non_callable_is_a_type_error():
    with pytest.raises(TypeError, match="decorates a function"):
        lucid.no_grad()(3)
