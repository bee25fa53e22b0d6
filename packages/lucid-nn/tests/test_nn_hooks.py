"""Module hooks and the per-module state-dict methods, each case run the same way on a
PyTorch module: forward pre-hooks and forward hooks (order, prepend, with_kwargs,
replacements, removal), ``_save_to_state_dict``/``_load_from_state_dict`` overrides
(a legacy key renamed by version) and the keys load_state_dict reports."""

import lucid
import lucid.nn as nn
import numpy as np
import pytest
import torch
from lucid.nn.module import HookError, RemovableHandle


def _pair(seed=0):
    """A Lucid and a torch Linear(3, 2) with the same weights."""
    torch.manual_seed(seed)
    tm = torch.nn.Linear(3, 2)
    lm = nn.Linear(3, 2)
    lm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return lm, tm


def _x(seed=0):
    x = np.random.default_rng(seed).standard_normal((4, 3)).astype(np.float32)
    return lucid.tensor(x), torch.tensor(x)


def _run_both(register, *, kwargs=False):
    """Register the same hooks through ``register(module, log)`` on both, call each once;
    returns (lucid out, torch out, lucid log, torch log)."""
    (lm, tm), (lx, tx) = _pair(), _x()
    llog, tlog = [], []
    register(lm, llog)
    register(tm, tlog)
    return lm(lx), tm(tx), llog, tlog


def test_hooks_run_in_order_and_prepend_puts_first():
    def register(m, log):
        m.register_forward_pre_hook(lambda mod, args: log.append("pre1"))
        m.register_forward_pre_hook(lambda mod, args: log.append("pre2"))
        m.register_forward_pre_hook(lambda mod, args: log.append("pre0"), prepend=True)
        m.register_forward_hook(lambda mod, args, out: log.append("post1"))
        m.register_forward_hook(lambda mod, args, out: log.append("post0"), prepend=True)

    lo, to, llog, tlog = _run_both(register)
    assert llog == tlog == ["pre0", "pre1", "pre2", "post0", "post1"]
    np.testing.assert_allclose(lo.numpy(), to.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_nested_modules_call_hooks_outer_then_inner():
    def build(lib):
        return lib.Sequential(lib.Linear(3, 4), lib.ReLU(), lib.Linear(4, 2))

    logs = []
    for lib, x in ((nn, _x()[0]), (torch.nn, _x()[1])):
        model, log = build(lib), []
        for name, m in model.named_modules():
            m.register_forward_pre_hook(lambda mod, a, n=name, log=log: log.append(("pre", n)))
            m.register_forward_hook(lambda mod, a, o, n=name, log=log: log.append(("post", n)))
        model(x)
        logs.append(log)
    assert logs[0] == logs[1]
    assert logs[0][0] == ("pre", "") and logs[0][-1] == ("post", "")


def test_pre_hook_replaces_input_and_forward_hook_sees_it():
    def register(m, log):
        m.register_forward_pre_hook(lambda mod, args: args[0] * 2)  # not a tuple: wrapped
        m.register_forward_hook(lambda mod, args, out: log.append(args[0].sum().item()))

    lo, to, llog, tlog = _run_both(register)
    np.testing.assert_allclose(lo.numpy(), to.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(llog, tlog, rtol=1e-5)
    lm, _ = _pair()
    lx, _ = _x()
    np.testing.assert_allclose(lo.numpy(), lm(lx * 2).numpy(), rtol=1e-6, atol=1e-6)


def test_forward_hook_replaces_output_in_turn():
    def register(m, log):
        m.register_forward_hook(lambda mod, args, out: out + 1)
        m.register_forward_hook(lambda mod, args, out: log.append(out.sum().item()))
        m.register_forward_hook(lambda mod, args, out: out * 3)

    lo, to, llog, tlog = _run_both(register)
    np.testing.assert_allclose(lo.numpy(), to.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(llog, tlog, rtol=1e-5)


def test_with_kwargs_hooks_get_and_replace_kwargs():
    class Scale:
        """forward(x, *, k): x * k, the same code for both frameworks."""

        def forward(self, x, *, k=1.0):
            return x * k

    class L(Scale, nn.Module):
        pass

    class T(Scale, torch.nn.Module):
        pass

    outs, logs = [], []
    for m, x in ((L(), _x()[0]), (T(), _x()[1])):
        log = []
        m.register_forward_pre_hook(lambda mod, a, kw: (a, {**kw, "k": kw["k"] + 1}),
                                    with_kwargs=True)
        m.register_forward_hook(lambda mod, a, kw, out, log=log: log.append(kw["k"]),
                                with_kwargs=True)
        outs.append(np.asarray(m(x, k=2.0).numpy()))
        logs.append(log)
    assert logs[0] == logs[1] == [3.0]
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6)


def test_with_kwargs_pre_hook_must_return_args_and_kwargs():
    lm, _ = _pair()
    lm.register_forward_pre_hook(lambda mod, a, kw: a, with_kwargs=True)
    with pytest.raises(HookError, match="Linear.*\\(args, kwargs\\)"):
        lm(_x()[0])
    assert issubclass(HookError, RuntimeError)  # what PyTorch raises there


def test_remove_and_context_manager():
    lm, _ = _pair()
    lx, _ = _x()
    log = []
    h1 = lm.register_forward_hook(lambda mod, a, o: log.append(1))
    h2 = lm.register_forward_pre_hook(lambda mod, a: log.append(2))
    assert isinstance(h1, RemovableHandle) and h1.id != h2.id
    lm(lx)
    h1.remove()
    h1.remove()  # removing twice is harmless, as PyTorch
    lm(lx)
    with lm.register_forward_hook(lambda mod, a, o: o * 0) as h3:
        assert float(lm(lx).abs().sum()) == 0
    assert isinstance(h3, RemovableHandle)
    assert float(lm(lx).abs().sum()) > 0
    h2.remove()
    lm(lx)
    assert log == [2, 1, 2, 2, 2]


def test_hooks_not_callable_refused():
    with pytest.raises(TypeError, match="register_forward_hook.*callable"):
        nn.ReLU().register_forward_hook(3)


class _Legacy:
    """Version 2 renamed ``w`` to ``weight``; loading a version-1 checkpoint renames it."""

    _version = 2

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        if local_metadata.get("version", 1) < 2 and prefix + "w" in state_dict:
            state_dict[prefix + "weight"] = state_dict.pop(prefix + "w")
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)


class _LLegacy(_Legacy, nn.Linear):
    pass


class _TLegacy(_Legacy, torch.nn.Linear):
    pass


def _legacy_checkpoint(version):
    """A Sequential(Linear, Legacy) checkpoint whose second layer stored ``w``."""
    rng = np.random.default_rng(3)
    state = {"0.weight": rng.standard_normal((3, 3)), "0.bias": rng.standard_normal(3),
             "1.w": rng.standard_normal((2, 3)), "1.bias": rng.standard_normal(2)}
    return {k: v.astype(np.float32) for k, v in state.items()}, version


@pytest.mark.parametrize("version", [1, 2])
def test_load_from_state_dict_override_renames_legacy_key(version):
    state, version = _legacy_checkpoint(version)
    results = []
    for lib, legacy, convert in ((nn, _LLegacy, lambda a: a),
                                 (torch.nn, _TLegacy, torch.tensor)):
        model = lib.Sequential(lib.Linear(3, 3), legacy(3, 2))
        sd = model.state_dict()
        for k in list(sd):
            del sd[k]
        sd.update({k: convert(v) for k, v in state.items()})
        sd._metadata["1"]["version"] = version
        if version == 1:
            model.load_state_dict(sd)
            got = model.state_dict()
            results.append({k: np.asarray(v.detach().numpy() if hasattr(v, "detach")
                                          else v.numpy()) for k, v in got.items()})
        else:
            with pytest.raises(RuntimeError, match="1.weight"):
                model.load_state_dict(sd)
            results.append(None)
    if version == 1:
        assert results[0].keys() == results[1].keys()
        for k in results[0]:
            np.testing.assert_array_equal(results[0][k], results[1][k], err_msg=k)
        np.testing.assert_array_equal(results[0]["1.weight"], state["1.w"])


def test_state_dict_metadata_versions_and_save_override():
    class Extra(nn.Module):
        _version = 3

        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(2, 2)

        def _save_to_state_dict(self, destination, prefix, keep_vars):
            super()._save_to_state_dict(destination, prefix, keep_vars)
            destination[prefix + "note"] = lucid.tensor([1.0])

    sd = nn.Sequential(Extra()).state_dict()
    assert list(sd) == ["0.note", "0.inner.weight", "0.inner.bias"]
    assert sd._metadata == {"": {"version": 1}, "0": {"version": 3},
                            "0.inner": {"version": 1}}
    assert list(nn.Linear(2, 2).state_dict(prefix="m").keys()) == ["m.weight", "m.bias"]


def test_missing_and_unexpected_keys_as_pytorch():
    def build(lib):
        return lib.Sequential(lib.Linear(3, 4), lib.ReLU(), lib.Linear(4, 2))

    answers = []
    for lib in (nn, torch.nn):
        model = build(lib)
        sd = {k: v for k, v in model.state_dict().items() if k != "0.bias"}
        for extra in ("0.foo", "5.bar", "2.weight.x", "top", "1.x"):
            sd[extra] = sd["0.weight"]
        result = model.load_state_dict(sd, strict=False)
        answers.append((list(result.missing_keys), list(result.unexpected_keys)))
    assert answers[0] == answers[1]
    assert answers[0][0] == ["0.bias"]


def test_strict_load_error_changes_nothing_across_modules():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    before = {k: np.array(v.numpy()) for k, v in model.state_dict().items()}
    sd = {k: np.ones(v.shape, np.float32) for k, v in before.items()}
    sd["2.bias"] = np.ones(3, np.float32)  # the last module's value is wrong
    with pytest.raises(lucid.ShapeError, match="size mismatch for 2.bias"):
        model.load_state_dict(sd)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)
    sd["2.bias"] = np.ones(2, np.float32)
    model.load_state_dict(sd)
    assert all(np.all(v.numpy() == 1) for v in model.state_dict().values())
