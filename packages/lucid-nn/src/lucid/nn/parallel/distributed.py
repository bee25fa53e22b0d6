"""``DistributedDataParallel``: one model replica per process, gradients averaged.

Each process (started by ``mlx.launch``) holds a full copy of the model and trains on its
own shard of every global batch (``lucid.data.DistributedSampler``). Wrapping broadcasts
rank 0's parameters and buffers, so every replica starts equal; after each ``backward``
that follows a forward of the wrapper, every parameter's gradient becomes its mean over
the ranks,

    g_p <- (1 / W) * sum_r g_p^(r),

so each optimizer step is the step that one process would take on the whole global
batch (for losses that are means over equal shards). The gradients travel in buckets of
at most ``bucket_cap_mb`` megabytes (one all-reduce per bucket, not per parameter), in
reverse registration order, as PyTorch's DDP. A parameter without a gradient on every
rank keeps ``grad = None``; on some ranks only, it counts as zero where it is missing.

BatchNorm keeps per-process statistics, as in PyTorch's DDP: each replica normalises its
own shard and updates its own running averages (rank 0's are the ones saved). With equal
shards and ``B / W`` images per rank this is BatchNorm at batch ``B / W``.

``state_dict()``/``load_state_dict()`` are the wrapped module's, without PyTorch's
``module.`` prefix, so a checkpoint loads into a plain model.
"""

from __future__ import annotations

import contextlib
import weakref

import mlx.core as mx
from lucid import autograd
from lucid import distributed as dist
from lucid.errors import ArgumentError, ArgumentTypeError

from ..module import Module


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training (see the module docstring)."""

    def __init__(self, module: Module, bucket_cap_mb: float = 25.0,
                 broadcast_buffers: bool = True):
        super().__init__()
        if not isinstance(module, Module):
            raise ArgumentTypeError(f"DistributedDataParallel wraps a lucid.nn.Module, got "
                                    f"{type(module).__name__}")
        if bucket_cap_mb <= 0:
            raise ArgumentError(f"DistributedDataParallel: bucket_cap_mb must be > 0, got "
                                f"{bucket_cap_mb}")
        self.module = module
        object.__setattr__(self, "bucket_bytes", int(bucket_cap_mb * 2**20))
        object.__setattr__(self, "_pending", False)
        object.__setattr__(self, "_sync", True)
        dist.init()
        self._broadcast([*module.parameters(), *module.buffers()] if broadcast_buffers
                        else list(module.parameters()))
        method = weakref.WeakMethod(self._after_backward)  # the hook must not keep us alive
        hook = autograd.register_post_backward_hook(lambda: method() and method()())
        weakref.finalize(self, hook.remove)  # and goes with us

    def forward(self, *args, **kwargs):
        if self.training and autograd.is_grad_enabled() and self._sync:
            object.__setattr__(self, "_pending", True)
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, backward passes accumulate local gradients without averaging them (the
        first backward after the block averages everything accumulated)."""
        object.__setattr__(self, "_sync", False)
        try:
            yield
        finally:
            object.__setattr__(self, "_sync", True)

    def state_dict(self, *args, **kwargs):
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict, strict: bool = True):
        return self.module.load_state_dict(state_dict, strict=strict)

    # ----- communication ----------------------------------------------------------
    def _buckets(self, tensors: list) -> list[list]:
        """Consecutive groups of ``tensors`` of one dtype, each at most ``bucket_bytes``."""
        buckets, size = [], 0
        for t in tensors:
            nbytes = t._data.nbytes
            if not buckets or size + nbytes > self.bucket_bytes or (
                    buckets[-1][0]._data.dtype != t._data.dtype):
                buckets.append([])
                size = 0
            buckets[-1].append(t)
            size += nbytes
        return buckets

    def _broadcast(self, tensors: list) -> None:
        if dist.get_world_size() == 1:
            return
        for bucket in self._buckets(tensors):
            flat = _flatten([t._data for t in bucket])
            carrier = _tensor(flat, bucket[0].device)
            dist.broadcast(carrier, src=0)
            for t, part in zip(bucket, _split(carrier._data, bucket)):
                t.data = part

    def _after_backward(self) -> None:
        if not self._pending:
            return
        object.__setattr__(self, "_pending", False)
        world = dist.get_world_size()
        if world == 1:
            return
        params = [p for p in reversed(list(self.module.parameters())) if p.requires_grad]
        # how many ranks hold a gradient for each parameter: None stays None only if none do
        holders = mx.array([p.grad is not None for p in params], dtype=mx.int32)
        counts = dist._sum(holders).tolist()
        active = [p for p, c in zip(params, counts) if c > 0]
        for bucket in self._buckets(active):
            grads = [p.grad._data if p.grad is not None else mx.zeros(p.shape, p.dtype)
                     for p in bucket]
            mean = dist._sum(_flatten(grads)) / world
            mx.eval(mean)
            for p, g in zip(bucket, _split(mean, bucket)):
                p.grad = _tensor(g, p.device)


def _tensor(array: mx.array, device: str):
    from lucid import Tensor

    return Tensor._wrap(array, device)


def _flatten(arrays: list) -> mx.array:
    return mx.concatenate([a.reshape(-1) for a in arrays]) if len(arrays) > 1 else (
        arrays[0].reshape(-1))


def _split(flat: mx.array, like: list) -> list:
    out, at = [], 0
    for t in like:
        n = t._data.size
        out.append(flat[at:at + n].reshape(t.shape).astype(t._data.dtype))
        at += n
    return out
