"""``lucid.distributed``: collective communication over MLX's distributed layer.

A thin layer over ``mlx.core.distributed`` (ring over TCP on any machine, MPI where it is
installed, NCCL on NVIDIA GPUs), with PyTorch's names::

    import lucid.distributed as dist

    dist.init()                      # inside `mlx.launch -n 2 -- python train.py`
    rank, world = dist.get_rank(), dist.get_world_size()
    dist.all_reduce(t, op="mean")    # in place, as torch.distributed.all_reduce

Launch with MLX's launcher: ``mlx.launch -n 2 --backend ring -- python train.py`` on one
machine, ``mlx.launch --hostfile hosts.json --backend ring -- python train.py`` on several.
A program started without a launcher is a world of size 1, where every collective is the
identity, so the same script runs alone.

Collectives change their tensor in place (like PyTorch's) and are invisible to autograd:
gradients are averaged between steps, not differentiated through.
"""

from __future__ import annotations

import os

import mlx.core as mx

from . import _engine  # noqa: F401  (Tensor's methods bound, whatever was imported first)
from ._tensor import Tensor
from .errors import LucidError

BACKENDS = ("any", "ring", "mpi", "nccl", "jaccl")
REDUCE_OPS = ("sum", "mean", "max", "min")
# Variables a launcher sets in each process: MLX's own (`mlx.launch`) and MPI's.
LAUNCH_VARS = ("MLX_RANK", "MLX_HOSTFILE", "MLX_JACCL_COORDINATOR", "OMPI_COMM_WORLD_RANK",
               "PMI_RANK")

_group = None


class DistributedError(LucidError, RuntimeError):
    """A distributed backend is missing, failed to start, or was used before ``init``."""


def launched() -> bool:
    """Whether a launcher started this process as one rank of several."""
    return any(v in os.environ for v in LAUNCH_VARS)


def init(backend: str = "any") -> mx.distributed.Group:
    """Join the processes a launcher started (MLX's backend names: ``any``, ``ring``,
    ``mpi``, ``nccl``, ``jaccl``); without a launcher, a world of size 1. Idempotent."""
    global _group
    if backend not in BACKENDS:
        raise ValueError(f"lucid.distributed.init: unknown backend {backend!r}; MLX's "
                         f"backends are {', '.join(BACKENDS)}")
    if _group is not None:
        return _group
    if backend != "any" and not mx.distributed.is_available(backend):
        raise DistributedError(
            f"lucid.distributed.init: MLX's {backend!r} backend is not available in this "
            "installation (MPI needs an MPI library such as OpenMPI; NCCL needs mlx[cuda] "
            "on an NVIDIA GPU); 'ring' works everywhere")
    try:
        _group = mx.distributed.init(strict=launched(), backend=backend)
    except RuntimeError as err:
        raise DistributedError(_init_failure(backend, str(err))) from None
    return _group


def _init_failure(backend: str, error: str) -> str:
    """What went wrong joining the other ranks, and what to do about it."""
    rank = os.environ.get("MLX_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "?"))
    text = f"lucid.distributed.init(backend={backend!r}) failed on rank {rank}: {error}"
    if "bind" in error or "error: 98" in error:
        return text + " (a port is in use: give the launcher others, e.g. `mlx.launch " \
                      "--starting-port 5000 ...`)"
    if "connect" in error:
        return text + " (a host in the hostfile cannot be reached: check its IP address " \
                      "and that the rank started there)"
    return text + ". Start the program with `mlx.launch -n N --backend ring -- python " \
                  "script.py` (one machine) or `mlx.launch --hostfile hosts.json ...` (several)"


def is_initialized() -> bool:
    return _group is not None


def _world() -> mx.distributed.Group:
    return _group if _group is not None else init()


def get_rank() -> int:
    """This process's rank, 0 .. world size - 1 (0 when alone)."""
    return _world().rank()


def get_world_size() -> int:
    return _world().size()


def _check(tensor, name: str) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"lucid.distributed.{name}: expected a Tensor, got "
                        f"{type(tensor).__name__}")
    return tensor


def _collective(name: str, fn, array: mx.array) -> mx.array:
    """Run one MLX collective and wait for it; a lost peer becomes a DistributedError
    naming this rank (MLX's ring backend fails within seconds when a rank dies)."""
    group = _world()
    try:
        out = fn(array, group=group, stream=mx.cpu)
        mx.eval(out)
    except RuntimeError as err:
        raise DistributedError(
            f"lucid.distributed.{name} on rank {group.rank()} of {group.size()} failed: "
            f"{err} (another rank exited, was killed or cannot be reached; its launcher "
            "output names it)") from None
    return out


def _sum(array: mx.array) -> mx.array:
    if _world().size() == 1:
        return array
    return _collective("all_sum", mx.distributed.all_sum, array)


def all_reduce(tensor: Tensor, op: str = "sum") -> Tensor:
    """Replace ``tensor`` on every rank by the ``op`` (sum, mean, max, min) over ranks."""
    _check(tensor, "all_reduce")
    if op not in REDUCE_OPS:
        raise ValueError(f"lucid.distributed.all_reduce: op must be one of {REDUCE_OPS}, "
                         f"got {op!r}")
    group, x = _world(), tensor._data
    if group.size() > 1:
        if op in ("sum", "mean"):
            x = _sum(x)
            if op == "mean":
                x = (x / group.size()).astype(tensor.dtype)
        else:
            reduce = mx.distributed.all_max if op == "max" else mx.distributed.all_min
            x = _collective(f"all_reduce({op!r})", reduce, x)
    mx.eval(x)
    tensor.data = x
    return tensor


def all_gather_into_tensor(output: Tensor, tensor: Tensor) -> Tensor:
    """``output`` becomes every rank's ``tensor`` stacked along axis 0, in rank order
    (its first axis is world size times ``tensor``'s)."""
    _check(output, "all_gather_into_tensor")
    gathered = _gather(_check(tensor, "all_gather_into_tensor"))
    if tuple(gathered.shape) != output.shape:
        raise ValueError(f"lucid.distributed.all_gather_into_tensor: output has shape "
                         f"{output.shape}, the gathered tensors {tuple(gathered.shape)}")
    output.data = gathered
    return output


def all_gather(tensor_list: list, tensor: Tensor) -> list:
    """Fill ``tensor_list`` (one tensor per rank) with every rank's ``tensor``."""
    world = get_world_size()
    if len(tensor_list) != world:
        raise ValueError(f"lucid.distributed.all_gather: tensor_list has {len(tensor_list)} "
                         f"tensors for a world of {world}")
    gathered = _gather(_check(tensor, "all_gather"))
    n = tensor._data.shape[0] if tensor.ndim else 1
    for r, out in enumerate(tensor_list):
        part = gathered[r * n:(r + 1) * n] if tensor.ndim else gathered[r]
        out.data = part.reshape(tensor.shape)
    return tensor_list


def _gather(tensor: Tensor) -> mx.array:
    group, x = _world(), tensor._data
    flat = x.reshape(1) if x.ndim == 0 else x
    if group.size() == 1:
        return flat
    return _collective("all_gather", mx.distributed.all_gather, flat)


def broadcast(tensor: Tensor, src: int = 0) -> Tensor:
    """Give every rank ``src``'s ``tensor`` (a sum in which only ``src`` contributes)."""
    _check(tensor, "broadcast")
    group = _world()
    if not 0 <= src < group.size():
        raise ValueError(f"lucid.distributed.broadcast: src {src} is not a rank of a world "
                         f"of {group.size()}")
    if group.size() > 1:
        x = tensor._data
        own = x if group.rank() == src else mx.zeros_like(x)
        summed = _sum(own if x.dtype != mx.bool_ else own.astype(mx.int32))
        tensor.data = summed.astype(x.dtype)
        mx.eval(tensor._data)
    return tensor


def barrier() -> None:
    """Return once every rank has called ``barrier``."""
    mx.eval(_sum(mx.zeros((1,))))


__all__ = ["BACKENDS", "DistributedError", "all_gather", "all_gather_into_tensor",
           "all_reduce", "barrier", "broadcast", "get_rank", "get_world_size", "init",
           "is_initialized", "launched"]
