"""``lucid.accelerator``: PyTorch's device-neutral questions (``torch.accelerator``)."""

from .devices import device, gpu_available


def is_available() -> bool:
    return gpu_available()


def current_accelerator(check_available: bool = False):
    """``lucid.device("gpu")`` when MLX has a GPU, else None."""
    return device("gpu") if gpu_available() else None


def device_count() -> int:
    return 1 if gpu_available() else 0
