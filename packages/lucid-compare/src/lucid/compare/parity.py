"""``lucid-compare parity``: the same weights and one batch in both frameworks.

PyTorch's model is built, its weights are copied into Lucid's (through the PyTorch names),
one random batch goes forward and backward through both in train mode, and the largest
differences are printed: logits (absolute), loss, each parameter's gradient (relative to
that gradient's largest magnitude: max|g_lucid - g_torch| / max|g_torch|) and the buffers
after the forward pass (BatchNorm running statistics). Exit 0 when logits and gradients are
within the tolerances, 1 otherwise.

ReLU networks: a ReLU's gradient jumps at 0, so a pre-activation that lies within the
forward difference (~1e-6) of 0 can be positive in one framework and negative in the other,
and the gradient differs there by the whole upstream gradient. Among the ~10^6 activations
of a ResNet-18 batch of 8 a few such flips are expected (two float32 implementations,
neither wrong). The default batch for ResNet-18 is therefore 2, and PyTorch's pass is
repeated with Lucid's ReLU signs (``relu_signs``): when the plain comparison fails, the
gradients pass if they match that pass within the tolerance and every differing sign
belongs to an input within 1e-5 (relative) of zero. The norm-relative difference
``||g_lucid - g_torch|| / ||g_torch||`` is printed too.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from . import relu_signs
from .backends import get_backend
from .errors import EXIT_OK, EXIT_REFUSED
from .experiments import get_experiment
from .history import write_json_atomic

#: default batch per experiment (see the note on ReLU networks above)
DEFAULT_BATCH = {"lenet5-mnist": 8, "mlp-mnist": 8, "resnet18-cifar10": 2}


def parity(experiment: str, batch_size: int | None = None, seed: int = 0, lucid_device: str = "cpu",
           torch_device: str = "cpu") -> dict:
    """Differences between Lucid and PyTorch on one batch, from identical weights."""
    from .backends import seed_all

    exp = get_experiment(experiment)
    batch_size = batch_size or DEFAULT_BATCH.get(experiment, 8)
    torch_cls, lucid_cls = get_backend("torch"), get_backend("lucid")
    cfg = exp.defaults.resolved()
    seed_all(seed, ("lucid", "torch"))
    tb = torch_cls(replace(cfg, device=torch_device), exp.num_classes, exp.input_shape)
    lb = lucid_cls(replace(cfg, device=lucid_device), exp.num_classes, exp.input_shape)
    initial = tb.export_state()
    lb.import_state(initial)

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch_size, *exp.input_shape)).astype(np.float32)
    y = rng.integers(0, exp.num_classes, batch_size).astype(np.int64)
    outs = {}
    for name, b in (("torch", tb), ("lucid", lb)):
        xb, yb = b.to_device(x, y)
        b.zero_grad()
        logits, loss = b.forward(xb, yb)
        b.backward(loss)
        outs[name] = (b.to_numpy(logits), b.scalar(loss), b.gradients(), b.export_state())

    (lt, losst, gt, st), (ll, lossl, gl, sl) = outs["torch"], outs["lucid"]
    grads = []
    for k, g in gt.items():
        d = _max_abs_diff(gl[k], g) if k in gl else float("nan")
        scale = float(np.max(np.abs(g)))
        norm = float(np.linalg.norm(gl[k] - g) / max(np.linalg.norm(g), 1e-30)) if k in gl \
            else float("nan")
        grads.append({"name": k, "shape": list(g.shape), "max_abs_diff": d, "max_abs": scale,
                      "rel": d / max(scale, 1e-12), "norm_rel": norm})
    signs = _with_lucid_signs(tb, lb, initial, x, y, gl)
    params = set(tb.parameter_names())
    buffers = {k: float(np.max(np.abs(sl[k].astype(np.float64) - v)))
               for k, v in st.items() if k not in params and k in sl and v.size}
    return {
        "experiment": experiment,
        "batch_size": batch_size,
        "seed": seed,
        "logits_max_abs_diff": float(np.max(np.abs(ll - lt))),
        "logits_max_abs": float(np.max(np.abs(lt))),
        "loss": {"torch": losst, "lucid": lossl, "abs_diff": abs(lossl - losst)},
        "grads": grads,
        "max_grad_rel": max((g["rel"] for g in grads), default=0.0),
        "max_grad_norm_rel": max((g["norm_rel"] for g in grads), default=0.0),
        "buffers_max_abs_diff": max(buffers.values(), default=0.0),
        "missing_grads": [k for k in gt if k not in gl],
        "lucid_relu_signs": signs,
    }


def _with_lucid_signs(tb, lb, initial: dict, x, y, gl: dict) -> dict:
    """PyTorch's pass again, from ``initial``, with every ReLU using Lucid's sign of its input:
    the ReLU calls made, the inputs whose sign differs (and the largest, relative to its
    call's largest |x|), and Lucid's largest relative gradient difference from that pass."""
    xl, _ = lb.to_device(x, y)
    signs = relu_signs.lucid_relu_signs(lb.model, xl)
    tb.import_state(initial)
    xb, yb = tb.to_device(x, y)
    tb.zero_grad()
    out = {"relu_calls": len(signs), "calls_matched": False, "calls_with_flips": 0,
           "largest_flip_rel": None, "max_grad_rel": None}
    with relu_signs.torch_relus_with_signs(tb.model, signs) as record:
        try:
            _, loss = tb.forward(xb, yb)
        except IndexError:  # PyTorch's model calls more ReLUs than Lucid's
            return out
        tb.backward(loss)
    rel = [_max_abs_diff(gl[k], g) / max(float(np.max(np.abs(g))), 1e-12)
           for k, g in tb.gradients().items() if k in gl]
    out.update(calls_matched=record.used == len(signs), calls_with_flips=len(record.flipped),
               largest_flip_rel=record.largest_flip, max_grad_rel=max(rel, default=0.0))
    return out


def _max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def run_parity(args) -> int:
    res = parity(args.experiment, args.batch_size, args.seed, args.lucid_device or "cpu",
                 args.torch_device or "cpu")
    ok_logits = res["logits_max_abs_diff"] <= args.atol_logits
    signs = res["lucid_relu_signs"]
    explained = (signs["calls_matched"] and signs["max_grad_rel"] <= args.rtol_grads
                 and signs["largest_flip_rel"] <= relu_signs.FLIP_RTOL)  # both None if unmatched
    ok_grads = (res["max_grad_rel"] <= args.rtol_grads or explained) \
        and not res["missing_grads"]
    res.update(atol_logits=args.atol_logits, rtol_grads=args.rtol_grads,
               passed=bool(ok_logits and ok_grads))
    print(f"parity {args.experiment}: batch {res['batch_size']}, seed {args.seed}, PyTorch's "
          "weights copied into Lucid, train mode")
    print(f"  logits   max |diff| {res['logits_max_abs_diff']:.3e} (largest |logit| "
          f"{res['logits_max_abs']:.3g}; tolerance {args.atol_logits:g}) "
          f"{'ok' if ok_logits else 'FAIL'}")
    print(f"  loss     PyTorch {res['loss']['torch']:.6f}  Lucid {res['loss']['lucid']:.6f}  "
          f"|diff| {res['loss']['abs_diff']:.3e}")
    print(f"  buffers  max |diff| after the forward {res['buffers_max_abs_diff']:.3e}")
    print(f"  gradients (relative: max|diff| / max|grad|, tolerance {args.rtol_grads:g}):")
    width = max((len(g["name"]) for g in res["grads"]), default=10)
    for g in res["grads"]:
        flag = "ok" if g["rel"] <= args.rtol_grads else "FAIL"
        print(f"    {g['name']:<{width}}  {str(tuple(g['shape'])):<18} max|diff| "
              f"{g['max_abs_diff']:.3e}  rel {g['rel']:.3e}  norm-rel {g['norm_rel']:.3e}  "
              f"{flag}")
    if res["missing_grads"]:
        print(f"  Lucid has no gradient for: {', '.join(res['missing_grads'])}")
    flips = (f"signs differ in {signs['calls_with_flips']} calls, at inputs within "
             f"{signs['largest_flip_rel']:.1e} of zero (relative; allowed "
             f"{relu_signs.FLIP_RTOL:g})" if signs["calls_with_flips"] else "no sign differs")
    if signs["calls_matched"]:
        print(f"  with Lucid's ReLU signs in PyTorch ({signs['relu_calls']} ReLU calls): "
              f"{flips}; largest relative gradient difference {signs['max_grad_rel']:.3e}")
    else:
        print(f"  with Lucid's ReLU signs in PyTorch: ReLU calls NOT matched (Lucid made "
              f"{signs['relu_calls']}); only the plain comparison counts")
    print(f"  largest relative gradient difference {res['max_grad_rel']:.3e} (norm-relative "
          f"{res['max_grad_norm_rel']:.3e}): "
          f"{'PASS' if res['passed'] else 'FAIL'}"
          + (" (the differences are ReLU sign flips at zero)"
             if res["passed"] and res["max_grad_rel"] > args.rtol_grads else ""))
    if args.json:
        write_json_atomic(Path(args.json), res)
    return EXIT_OK if res["passed"] else EXIT_REFUSED


__all__ = ["parity", "run_parity"]
