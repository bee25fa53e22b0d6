"""Winograd ``F(m x m, 3x3)``: stride-1 3x3 convolutions with fewer multiplications.

Each ``m x m`` block of output depends on an ``a x a`` tile ``d`` of the padded input,
``a = m + 2`` (tiles overlap by 2). With fixed matrices ``B^T`` (a x a), ``G`` (a x 3) and
``A^T`` (m x a),

    Y = A^T [ (G g G^T) * (B^T d B) ] A          (``*`` elementwise over the a x a tile)

is the ``m x m`` cross-correlation of ``d`` with kernel ``g``. Summing over input channels
before ``A^T . A`` turns the ``a^2`` elementwise products into ``a^2`` matrix products
``(O, C) @ (C, tiles)``. Flattened row-major, ``B^T d B = kron(B^T, B^T) vec(d)``, so the
input, kernel and output transforms are each one matrix product too:

    V = kron(B^T, B^T) @ tiles       (a^2, C, T)    tiles: strided views + copies
    U = kron(G, G) @ kernels         (a^2, O, C)
    M = U @ V                        (a^2, O, T)    a^2 batched products
    Y = kron(A^T, A^T) @ M           (m^2, O, T)    then the m x m blocks are placed

The kernel gradient is the adjoint in ``U``: ``dU[k] = (kron(A^T, A^T)^T dY)[k] @ V[k]^T``
and ``dW = kron(G, G)^T dU``, so the backward keeps ``V``, not im2col columns.

``TILE = 2`` is used: ``F(2x2, 3x3)`` has exact transforms (entries 0, +-1, +-1/2) and
rounding errors like direct summation; tiles are 4x the input (im2col copies 9x), about
as fast as im2col on CPU. ``m = 4`` (4x fewer multiplications, tiles 2.25x) is faster
(about 1.2-1.4x per convolution) but its float32 errors are about 5x larger, enough to
move ResNet gradients past PyTorch float32's own error against float64.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from ._windows import pad_or_crop

_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float32)
_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float32)
_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float32)
# F(4x4, 3x3) from the points 0, 1, -1, 1/2, -2 and infinity: about 3x smaller rounding
# errors in float32 than the usual 0, +-1, +-2.
_BT4 = np.array([[1, -3 / 2, -2, 3 / 2, 1, 0], [0, -1, 1 / 2, 5 / 2, 1, 0],
                 [0, 1, -5 / 2, 1 / 2, 1, 0], [0, -2, -1, 2, 1, 0],
                 [0, 1 / 2, -1, -1 / 2, 1, 0], [0, 1, -3 / 2, -2, 3 / 2, 1]], np.float64)
_G4 = np.array([[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [-1 / 3, 1 / 3, -1 / 3],
                [-16 / 15, -8 / 15, -4 / 15], [1 / 15, -2 / 15, 4 / 15], [0, 0, 1]], np.float64)
_AT4 = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 1 / 2, -2, 0], [0, 1, 1, 1 / 4, 4, 0],
                 [0, 1, -1, 1 / 8, -8, 1]], np.float64)
_KRON = {(2, "B"): np.kron(_BT, _BT), (2, "G"): np.kron(_G, _G), (2, "A"): np.kron(_AT, _AT),
         (4, "B"): np.kron(_BT4, _BT4), (4, "G"): np.kron(_G4, _G4),
         (4, "A"): np.kron(_AT4, _AT4)}
_CACHE: dict = {}
TILE = 2  # output tile m used by tile_size (see the module docstring)


def _matrix(name, dtype):
    key = (name, dtype)
    if key not in _CACHE:
        _CACHE[key] = mx.array(_KRON[name].astype(np.float32)).astype(dtype)
    return _CACHE[key]


def tile_size(w_shape, stride, dilation, groups, out_hw, dtype) -> int:
    """Output tile ``m`` (``TILE``) to use for this convolution, or 0 for im2col.

    Winograd pays off for float32 3x3, stride-1, undilated, ungrouped convolutions with
    enough channels for the per-point products to be real matrix products and an output
    of at least 8x8 (smaller ones waste too much on tile padding).
    """
    o, c, kh, kw = w_shape
    if ((kh, kw) != (3, 3) or stride != (1, 1) or dilation != (1, 1) or groups != 1
            or dtype != mx.float32):
        return 0
    return TILE if min(o, c) >= 32 and min(out_hw) >= 8 else 0


def kernel_transform(w, m=TILE):
    """``w`` ``(O, C, 3, 3)`` -> ``U`` ``((m+2)^2, O, C)``."""
    o, c = w.shape[:2]
    u = mx.matmul(_matrix((m, "G"), w.dtype), w.reshape(o * c, 9).T)
    return u.reshape((m + 2) ** 2, o, c)


def input_transform(x_c, pads, out_hw, m=TILE):
    """``V`` ``((m+2)^2, C, T)``: every input tile ``d``, transformed to ``B^T d B``.

    ``x_c`` is ``(C, N, H, W)``; ``T = N * ceil(Ho/m) * ceil(Wo/m)`` tiles, ragged outputs
    being padded up (and cropped later).
    """
    ho, wo = out_hw
    a = m + 2
    th, tw = -(-ho // m), -(-wo // m)
    c, n, h, w = x_c.shape
    hp, wp = m * th + 2, m * tw + 2
    xp = pad_or_crop(x_c, pads[0], hp - h - pads[0], pads[2], wp - w - pads[2])
    # tiles[i, j, (c, n), r, s] = xp[c, n, m r + i, m s + j], copied rows first (two
    # copies with long inner runs beat one with stride-m inner runs)
    rows = mx.contiguous(mx.as_strided(xp, (a, c * n, th, wp), (wp, hp * wp, m * wp, 1)))
    tiles = mx.as_strided(rows, (a, a, c * n, th, tw), (c * n * th * wp, 1, th * wp, wp, m))
    v = mx.matmul(_matrix((m, "B"), x_c.dtype), tiles.reshape(a * a, c * n * th * tw))
    return v.reshape(a * a, c, n * th * tw)


def output_transform(prod, n, out_hw, m=TILE):
    """``prod`` ``((m+2)^2, O, T)`` -> output tiles ``A^T prod A``, placed: ``(O, N, Ho, Wo)``."""
    ho, wo = out_hw
    th, tw = -(-ho // m), -(-wo // m)
    o = prod.shape[1]
    y = mx.matmul(_matrix((m, "A"), prod.dtype), prod.reshape(prod.shape[0], o * n * th * tw))
    y = y.reshape(m, m, o, n, th, tw).transpose(2, 3, 4, 0, 5, 1).reshape(o, n, m * th, m * tw)
    return y if (m * th, m * tw) == (ho, wo) else y[:, :, :ho, :wo]


def conv3x3(x_c, u, pads, out_hw, m=TILE):
    """Stride-1 3x3 cross-correlation of ``x_c`` ``(C, N, H, W)`` (channel-major) with the
    transformed kernel ``u`` ``((m+2)^2, O, C)``; ``pads = (top, bottom, left, right)``.

    Returns ``(O, N, Ho, Wo)``.
    """
    v = input_transform(x_c, pads, out_hw, m)
    return output_transform(mx.matmul(u, v), x_c.shape[1], out_hw, m)


def weight_grad(v, g_c, m=TILE):
    """``dL/dW`` ``(O, C, 3, 3)`` from ``V`` (``input_transform``) and ``g_c = dL/dout``
    ``(O, N, Ho, Wo)``: the adjoint of ``conv3x3`` in the kernel,

        dU[k] = (kron(A^T, A^T)^T g_tiles)[k] @ V[k]^T,    dW = kron(G, G)^T dU.
    """
    o, n, ho, wo = g_c.shape
    th, tw = -(-ho // m), -(-wo // m)
    if (m * th, m * tw) != (ho, wo):
        g_c = mx.pad(g_c, [(0, 0), (0, 0), (0, m * th - ho), (0, m * tw - wo)])
    t = n * th * tw
    g_tiles = g_c.reshape(o, n, th, m, tw, m).transpose(3, 5, 0, 1, 2, 4).reshape(m * m, o * t)
    gy = mx.matmul(_matrix((m, "A"), g_c.dtype).T, g_tiles).reshape(v.shape[0], o, t)
    du = mx.matmul(gy, v.swapaxes(1, 2))
    c = v.shape[1]
    dw = mx.matmul(_matrix((m, "G"), g_c.dtype).T, du.reshape(v.shape[0], o * c))
    return dw.reshape(3, 3, o, c).transpose(2, 3, 0, 1)
