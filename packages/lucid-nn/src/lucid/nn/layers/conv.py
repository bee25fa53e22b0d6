"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose2d`` (NCHW, as PyTorch)."""

from __future__ import annotations

import math

from lucid.errors import ArgumentError, ShapeError

from .. import functional as F
from .. import init
from ..module import Module
from ._util import empty_parameter, ntuple


class _ConvNd(Module):
    """Shared set-up. Weight ``(C_out, C_in / groups, *kernel)`` (transposed:
    ``(C_in, C_out / groups, *kernel)``), initialised as PyTorch's:
    ``kaiming_uniform_(a=sqrt(5))`` and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""

    _dims = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", output_padding=0,
                 device=None, dtype=None):
        super().__init__()
        n, name = self._dims, type(self).__name__
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ShapeError(f"{name}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ArgumentError(f"{name}: padding_mode must be 'zeros', 'reflect', 'replicate' or "
                                f"'circular', got {padding_mode!r}")
        if padding_mode != "zeros" and self._transposed:
            raise ArgumentError(f"{name}: only padding_mode='zeros' is supported")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ArgumentError(f"{name}: padding must be 'same', 'valid', an int or a tuple; "
                                    f"got {padding!r}")
            if padding == "same" and any(s != 1 for s in ntuple(stride, n)):
                raise ArgumentError(f"{name}: padding='same' is not supported for strided "
                                    "convolutions")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = ntuple(kernel_size, n)
        self.stride = ntuple(stride, n)
        self.padding = padding if isinstance(padding, str) else ntuple(padding, n)
        self.dilation = ntuple(dilation, n)
        self.output_padding = ntuple(output_padding, n)
        self.groups, self.padding_mode = groups, padding_mode
        self.transposed = self._transposed
        if self._transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = empty_parameter(*shape, device=device, dtype=dtype)
        if bias:
            self.bias = empty_parameter(out_channels, device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _padded(self, x):
        """``x`` and the conv's own padding; other modes than zeros pad ``x`` explicitly."""
        if self.padding_mode == "zeros":
            return x, self.padding
        widths = []
        for i in reversed(range(self._dims)):  # F.pad lists the last axis first
            if self.padding == "valid":
                before = after = 0
            elif self.padding == "same":
                total = self.dilation[i] * (self.kernel_size[i] - 1)
                before, after = total // 2, total - total // 2
            else:
                before = after = self.padding[i]
            widths += [before, after]
        return F.pad(x, tuple(widths), mode=self.padding_mode), 0

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        n = self._dims
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """``Conv1d`` and ``Conv2d``: PyTorch's arguments; forward pads (modes other than
    zeros) then applies ``_conv``, the functional form for ``_dims`` spatial dims."""

    _conv = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device=device, dtype=dtype)

    def forward(self, x):
        x, padding = self._padded(x)
        return self._conv(x, self.weight, self.bias, self.stride, padding, self.dilation,
                          self.groups)


class Conv1d(_Conv):
    """1-D convolution over ``(N, C_in, L)``."""

    _dims = 1
    _conv = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """2-D convolution over ``(N, C_in, H, W)``; padding an int, a pair, "same" or "valid"."""

    _dims = 2
    _conv = staticmethod(F.conv2d)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (the gradient of ``Conv2d`` with respect to its input)."""

    _dims = 2
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None):
        if isinstance(padding, str):
            raise ArgumentError("ConvTranspose2d: padding must be an int or a tuple")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, output_padding, device=device, dtype=dtype)

    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)
