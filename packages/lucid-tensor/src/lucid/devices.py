"""Devices are MLX's: ``"cpu"`` and ``"gpu"`` (Metal on macOS, CUDA with ``mlx[cuda]``).

A tensor remembers its device; every op runs on the device of its inputs, and inputs on
different devices are an error. ``"cuda"`` and ``"mps"`` are accepted as names of the GPU.
"""

import functools

import mlx.core as mx

from .errors import DeviceError

_ALIASES = {"cpu": "cpu", "gpu": "gpu", "cuda": "gpu", "mps": "gpu", "metal": "gpu"}
_default = "cpu"


@functools.cache
def gpu_available() -> bool:
    try:
        return bool(mx.is_available(mx.gpu))
    except Exception:  # older MLX without is_available
        return False


def canonical(device) -> str:
    """Normalise a device name to ``"cpu"`` or ``"gpu"`` (a ``lucid.device``, which is a
    ``str``), checking it exists here."""
    if device is None:
        return _default
    key = str(device).split(":")[0].lower()
    if key.startswith("device(") or key.startswith("device "):  # an mx.Device
        key = "gpu" if "gpu" in key else "cpu"
    if key not in _ALIASES:
        raise DeviceError(f"unknown device {device!r}; expected 'cpu' or 'gpu'")
    dev = _INSTANCES[_ALIASES[key]]
    if dev == "gpu" and not gpu_available():
        raise DeviceError(
            "device 'gpu' was asked for but MLX has no GPU here "
            "(on Linux install mlx[cuda] with an NVIDIA GPU; on macOS Apple silicon is needed)"
        )
    return dev


class device(str):  # noqa: N801 - PyTorch's name
    """A device name as PyTorch spells it, equal to the Lucid name it stands for.

    ``lucid.device("cuda")``, ``lucid.device("mps")`` and ``lucid.device("gpu")`` are all
    the GPU (MLX has one: Metal on macOS, CUDA with ``mlx[cuda]``) and compare equal to
    ``tensor.device`` of a tensor there; ``lucid.device("cpu")`` likewise. As in PyTorch,
    making one does not check that the device exists; moving a tensor there does.
    """

    def __new__(cls, name, index: int | None = None):
        if isinstance(name, device):
            return name
        text = str(name).lower()
        kind, _, number = text.partition(":")
        if kind not in _ALIASES:
            raise DeviceError(f"unknown device {name!r}; expected 'cpu', 'gpu', 'cuda' or "
                              "'mps'")
        if number and not number.isdigit() or (index is not None and index < 0):
            raise DeviceError(f"invalid device index in {name!r}")
        index = int(number) if number else index
        if index not in (None, 0):
            raise DeviceError(f"device {name!r}: MLX has one GPU (index 0)")
        obj = super().__new__(cls, _ALIASES[kind])
        obj.index = index
        return obj

    @property
    def type(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return f"device(type='{self}')"


_INSTANCES = {"cpu": device("cpu"), "gpu": device("gpu")}
_default = _INSTANCES["cpu"]


def mx_device(device: str) -> mx.Device:
    return mx.gpu if device == "gpu" else mx.cpu


def set_default_device(device) -> None:
    """Device for new tensors when none is given (``"cpu"`` unless set)."""
    global _default
    _default = canonical(device)
    mx.set_default_device(mx_device(_default))


def get_default_device() -> str:
    return _default


def run_on(device: str, fn, *args, **kwargs):
    """Run an MLX computation on ``device`` (no context switch when it is the default)."""
    if device == _default:
        return fn(*args, **kwargs)
    with mx.stream(mx_device(device)):
        return fn(*args, **kwargs)
