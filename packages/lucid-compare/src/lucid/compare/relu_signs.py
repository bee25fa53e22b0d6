"""ReLU sign flips between Lucid and PyTorch, for ``lucid-compare parity``.

A ReLU's gradient jumps at 0. Where a pre-activation lies within float32 rounding of zero,
one framework can see it positive and the other negative; the gradient then differs there
by the whole upstream gradient, and in every parameter upstream of it. Neither framework is
wrong, and which inputs fall that close to zero depends on rounding order alone.

To tell such flips from real errors, PyTorch's pass is repeated with each ReLU's output
replaced by ``x * s`` (a forward hook), ``s`` being Lucid's sign of the same call's input,
read by a forward pre-hook (same call order: both models use ReLU modules). Lucid's gradients must then match within the usual tolerance, and every
input whose sign differs must be within ``FLIP_RTOL`` (relative to that call's largest
``|x|``) of zero.
"""

from __future__ import annotations

import contextlib

import numpy as np

FLIP_RTOL = 1e-5


def lucid_relu_signs(model, xb) -> list[np.ndarray]:
    """``input > 0`` of every ReLU call of one forward pass of a Lucid ``model``, in call
    order. The pass is recomputed without a graph; BatchNorm running statistics are restored.
    """
    import lucid

    saved = {k: b._data for k, b in model.named_buffers()}
    signs: list[np.ndarray] = []

    def record(module, args):
        signs.append(np.array(args[0].numpy()) > 0)

    handles = [m.register_forward_pre_hook(record) for m in model.modules()
               if isinstance(m, lucid.nn.ReLU)]
    try:
        with lucid.no_grad():
            model(xb)
    finally:
        for h in handles:
            h.remove()
        for k, b in model.named_buffers():
            b.data = saved[k]
    return signs


class SignRecord:
    """What the masked pass saw: ReLU calls made, and per call with a differing sign the
    largest ``|x|`` there relative to the call's largest ``|x|``."""

    def __init__(self, signs: list[np.ndarray]):
        self.signs, self.used, self.flipped = signs, 0, []

    @property
    def largest_flip(self) -> float:
        return max(self.flipped, default=0.0)


@contextlib.contextmanager
def torch_relus_with_signs(model, signs: list[np.ndarray]):
    """Every ``torch.nn.ReLU`` of ``model`` computes ``x * s`` with the next of ``signs``."""
    import torch

    record = SignRecord(signs)

    def masked(module, args, out):
        x = args[0]
        if record.used >= len(signs):
            raise IndexError("PyTorch's model calls more ReLUs than Lucid's")
        s = torch.from_numpy(signs[record.used]).to(x.device)
        record.used += 1
        differs = s != (x > 0)
        if bool(differs.any()):
            v = x.detach().abs()
            record.flipped.append(float(v[differs].max() / v.max()))
        return x * s.to(x.dtype)

    relus = [m for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    inplace = [m.inplace for m in relus]
    handles = []
    for m in relus:
        m.inplace = False  # an in-place ReLU would overwrite the input the hook reads
        handles.append(m.register_forward_hook(masked))
    try:
        yield record
    finally:
        for m, was, h in zip(relus, inplace, handles):
            h.remove()
            m.inplace = was
