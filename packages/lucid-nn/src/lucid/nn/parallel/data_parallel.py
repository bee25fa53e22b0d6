"""``DataParallel``: PyTorch's single-process wrapper, for scripts that use it.

PyTorch's ``DataParallel`` splits each batch over the GPUs of one machine. MLX has one
device per process, so here the wrapper runs ``module`` as it is; its ``state_dict`` keys
carry PyTorch's ``module.`` prefix all the same, so checkpoints keep their names. Several
processes (``DistributedDataParallel``) are the way to use more than one device.
"""

from __future__ import annotations

from lucid.errors import ArgumentTypeError

from ..module import Module


class DataParallel(Module):
    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0):
        super().__init__()
        if not isinstance(module, Module):
            raise ArgumentTypeError(f"DataParallel wraps a lucid.nn.Module, got "
                                    f"{type(module).__name__}")
        self.module = module
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
