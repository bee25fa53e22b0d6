"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU``, with PyTorch's parameters and shapes.

One step of each cell, for input ``x_t`` and previous state ``h`` (and ``c``):

- RNN:  ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``, ``act`` tanh or relu;
- LSTM: ``i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (that order),
  ``c' = sigmoid(f) c + sigmoid(i) tanh(g)``, ``h' = sigmoid(o) tanh(c')``;
- GRU:  ``r, z, n`` from ``x W_ih^T + b_ih`` and ``h W_hh^T + b_hh`` split in that order,
  ``r = sigmoid(x_r + h_r)``, ``z = sigmoid(x_z + h_z)``, ``n = tanh(x_n + r * h_n)``,
  ``h' = (1 - z) n + z h``.

Inputs are ``(L, N, H_in)`` (``batch_first``: ``(N, L, H_in)``) or unbatched ``(L, H_in)``;
the initial state is ``(D * num_layers, N, H)`` with ``D = 2`` when ``bidirectional``.
Parameters are named as PyTorch's (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...), all
initialised U(-1/sqrt(H), 1/sqrt(H)), so ``load_state_dict`` takes PyTorch's weights.
The input projections of all time steps are one matrix product per layer and direction;
the recurrence is a loop over time, differentiated by Lucid's autograd.
"""

from __future__ import annotations

import math

import lucid
from lucid.errors import ArgumentError, ArgumentTypeError, ShapeError

from .. import functional as F
from .. import init
from ..module import Module
from ._util import empty_parameter

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class RNNBase(Module):
    """The stack of layers and directions that RNN, LSTM and GRU share."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None):
        super().__init__()
        if hidden_size <= 0 or num_layers <= 0 or input_size <= 0:
            raise ArgumentError(f"{type(self).__name__}: input_size, hidden_size and num_layers "
                                f"must be positive, got {input_size}, {hidden_size}, {num_layers}")
        if not 0 <= dropout <= 1:
            raise ArgumentError(f"{type(self).__name__}: dropout must be in [0, 1], got {dropout}")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        gates = GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                name = f"l{layer}{suffix}"
                setattr(self, f"weight_ih_{name}", empty_parameter(gates, layer_in,
                                                                   device=device, dtype=dtype))
                setattr(self, f"weight_hh_{name}", empty_parameter(gates, hidden_size,
                                                                   device=device, dtype=dtype))
                if bias:
                    setattr(self, f"bias_ih_{name}", empty_parameter(gates, device=device,
                                                                     dtype=dtype))
                    setattr(self, f"bias_hh_{name}", empty_parameter(gates, device=device,
                                                                     dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _weights(self, layer: int, reverse: bool) -> tuple:
        name = f"l{layer}{'_reverse' if reverse else ''}"
        b_ih, b_hh = ((getattr(self, f"bias_ih_{name}"), getattr(self, f"bias_hh_{name}"))
                      if self.bias else (None, None))
        return getattr(self, f"weight_ih_{name}"), getattr(self, f"weight_hh_{name}"), b_ih, b_hh

    def _step(self, xw, h, c, w_hh, b_hh):
        """One time step from the input projection ``xw`` (bias included); returns
        ``(h', c')``."""
        hw = F.linear(h, w_hh, b_hh)
        if self.mode == "LSTM":
            i, f, g, o = lucid.chunk(xw + hw, 4, -1)
            c = lucid.sigmoid(f) * c + lucid.sigmoid(i) * lucid.tanh(g)
            return lucid.sigmoid(o) * lucid.tanh(c), c
        if self.mode == "GRU":
            x_r, x_z, x_n = lucid.chunk(xw, 3, -1)
            h_r, h_z, h_n = lucid.chunk(hw, 3, -1)
            r, z = lucid.sigmoid(x_r + h_r), lucid.sigmoid(x_z + h_z)
            n = lucid.tanh(x_n + r * h_n)
            return (1 - z) * n + z * h, None
        pre = xw + hw
        return (lucid.tanh(pre) if self.mode == "RNN_TANH" else lucid.relu(pre)), None

    def _direction(self, x, layer: int, reverse: bool, h, c):
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, reverse)
        xw = F.linear(x, w_ih, b_ih)  # (L, N, gates): every time step in one product
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        outputs = [None] * x.shape[0]
        for t in steps:
            h, c = self._step(xw[t], h, c, w_hh, b_hh)
            outputs[t] = h
        return lucid.stack(outputs, 0), h, c

    def forward(self, input, hx=None):
        name = type(self).__name__
        if input.ndim not in (2, 3):
            raise ShapeError(f"{name}: expected a 2-D (unbatched) or 3-D input, got shape "
                             f"{input.shape}")
        batched = input.ndim == 3
        x = input if batched else input.unsqueeze(1)
        if batched and self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[-1] != self.input_size:
            raise ShapeError(f"{name}: input has {x.shape[-1]} features, expected "
                             f"{self.input_size} (input shape {input.shape})")
        directions = 2 if self.bidirectional else 1
        state_shape = (self.num_layers * directions, x.shape[1], self.hidden_size)
        h0, c0 = self._initial_state(hx, state_shape, batched, x)
        hs, cs = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(directions):
                k = layer * directions + d
                out, h, c = self._direction(x, layer, d == 1, h0[k],
                                            None if c0 is None else c0[k])
                outs.append(out)
                hs.append(h)
                cs.append(c)
            x = outs[0] if directions == 1 else lucid.cat(outs, -1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        h_n = lucid.stack(hs, 0)
        c_n = lucid.stack(cs, 0) if self.mode == "LSTM" else None
        if batched and self.batch_first:
            x = x.transpose(0, 1)
        if not batched:
            x, h_n = x.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        return (x, (h_n, c_n)) if self.mode == "LSTM" else (x, h_n)

    def _initial_state(self, hx, shape, batched: bool, x):
        name = type(self).__name__
        if hx is None:
            zeros = lucid.zeros(*shape, dtype=x.dtype, device=x.device)
            return zeros, (zeros if self.mode == "LSTM" else None)
        states = hx if self.mode == "LSTM" else (hx,)
        if self.mode == "LSTM" and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ArgumentTypeError(f"{name}: hx must be a tuple (h_0, c_0)")
        states = [s if batched else s.unsqueeze(1) for s in states]
        for s in states:
            if tuple(s.shape) != shape:
                raise ShapeError(f"{name}: initial state has shape {tuple(s.shape)}, expected "
                                 f"{shape if batched else (shape[0], shape[2])}")
        return states[0], (states[1] if self.mode == "LSTM" else None)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN; ``nonlinearity`` ``'tanh'`` (default) or ``'relu'``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", **kwargs):
        if nonlinearity not in ("tanh", "relu"):
            raise ArgumentError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, **kwargs)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + ", nonlinearity='relu'"


class LSTM(RNNBase):
    """Long short-term memory; returns ``(output, (h_n, c_n))``. ``proj_size`` is not
    supported."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, **kwargs):
        if kwargs.pop("proj_size", 0):
            raise NotImplementedError("LSTM: proj_size is not supported by Lucid")
        super().__init__("LSTM", input_size, hidden_size, num_layers, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit; returns ``(output, h_n)``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, **kwargs):
        super().__init__("GRU", input_size, hidden_size, num_layers, **kwargs)
