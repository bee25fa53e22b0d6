"""Sliding windows over images: im2col and its adjoint col2im, shared by conv and pooling.

Layout. The API is NCHW; these helpers work on images stored channel-major,
``(C, N, H, W)``. An NCHW view of a ``(C, N, H, W)`` array is a transpose, free in MLX,
and elementwise ops and per-channel reductions on it run as fast as on plain NCHW
(unlike NHWC, where they are several times slower). Convolutions therefore return
``out_c.transpose(1, 0, 2, 3)`` and start with ``x.transpose(1, 0, 2, 3)``: if the input
came from another convolution (possibly through elementwise ops) no copy is made.

im2col. For a kernel ``(kh, kw)``, stride ``s``, dilation ``d`` and padding, window
``(u, v)`` of output position reads padded row ``s*u + d*i`` and column ``s*v + d*j`` for
tap ``(i, j)``. ``im2col`` copies these into ``cols[c, i, j, n, u, v]``, one strided view
of the padded image plus one copy; a convolution is then one matrix product.

col2im is the adjoint: it sums ``cols[c, i, j, n, u, v]`` back onto the pixel each entry
came from, dropping those that fell on padding. With stride ``s`` the output pixels split
into ``s_h * s_w`` phases (``row mod s_h``, ``col mod s_w``); each tap writes to exactly
one phase, shifted by a whole number of phase rows, so every phase is a sum of padded
(or cropped) copies of taps, and one interleaving copy assembles the image. This avoids
scatter-adds, which MLX's CPU runs element by element.
"""

from __future__ import annotations

import mlx.core as mx

from ...errors import ArgumentError


def pair(value, what: str, op_name: str) -> tuple[int, int]:
    """``3 -> (3, 3)``; a pair of ints stays a pair; anything else is an error."""
    if isinstance(value, int):
        value = (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ArgumentError(f"{op_name}: {what} must be an int or a pair of ints, got {value}")
    return value


def out_size(size: int, k: int, s: int, d: int, pad_lo: int, pad_hi: int) -> int:
    """Number of window positions along one axis (floor mode)."""
    return (size + pad_lo + pad_hi - d * (k - 1) - 1) // s + 1


def pad_or_crop(x, top: int, bottom: int, left: int, right: int, value=0.0):
    """Pad (positive amounts) or crop (negative amounts) the last two axes of ``x``."""
    h, w = x.shape[-2:]
    if min(top, bottom, left, right) < 0:
        x = x[..., max(-top, 0): h - max(-bottom, 0), max(-left, 0): w - max(-right, 0)]
    if max(top, bottom, left, right) > 0:
        widths = [(0, 0)] * (x.ndim - 2)
        widths += [(max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))]
        x = mx.pad(x, widths, constant_values=value)
    return x


def im2col(x_c, kernel, stride, dilation, pads, out_hw, value=0.0):
    """``x_c`` ``(C, N, H, W)`` -> ``cols`` ``(C, kh, kw, N, Ho, Wo)``, contiguous.

    ``pads = (top, bottom, left, right)`` (negative crops); ``value`` fills the padding.
    """
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    xp = pad_or_crop(x_c, *pads, value=value)
    c, n = xp.shape[:2]
    if (kh, kw) == (1, 1):  # a strided slice: as_strided would first copy a whole view
        tap = xp[:, :, : sh * (ho - 1) + 1: sh, : sw * (wo - 1) + 1: sw]
        return mx.contiguous(tap).reshape(c, 1, 1, n, ho, wo)
    hp, wp = xp.shape[2:]
    view = mx.as_strided(
        xp,
        (c, kh, kw, n, ho, wo),
        (n * hp * wp, dh * wp, dw, hp * wp, sh * wp, sw),
    )
    return mx.contiguous(view)


def col2im(cols, in_hw, stride, dilation, pad_tl):
    """Adjoint of ``im2col``: ``cols`` ``(C, kh, kw, N, Ho, Wo)`` -> image ``(C, N, H, W)``.

    Tap ``(i, j)`` of window ``(u, v)`` lands on pixel ``(s_h u + d_h i - top,
    s_w v + d_w j - left)``; entries landing outside ``[0, H) x [0, W)`` are dropped.
    ``cols`` may be a broadcast view (average pooling).
    """
    c, kh, kw, n, ho, wo = cols.shape
    (h, w), (sh, sw), (dh, dw), (top, left) = in_hw, stride, dilation, pad_tl
    if (kh, kw, ho * sh, wo * sw) == (sh, sw, h, w) and (dh, dw, top, left) == (1, 1, 0, 0):
        # windows tile the image exactly (kernel == stride): one transposing copy
        return cols.transpose(0, 3, 4, 1, 5, 2).reshape(c, n, h, w)
    if (kh, kw) == (1, 1):  # one tap: zeros between its pixels, one padding copy
        spread = mx.pad(cols.reshape(c, n, ho, 1, wo, 1),
                        [(0, 0), (0, 0), (0, 0), (0, sh - 1), (0, 0), (0, sw - 1)])
        spread = spread.reshape(c, n, ho * sh, wo * sw)  # row s u holds window u
        return pad_or_crop(spread, -top, h + top - ho * sh, -left, w + left - wo * sw)
    hs, ws = -(-h // sh), -(-w // sw)  # phase grid, ceil(H / s) x ceil(W / s)
    phases = {}
    for i in range(kh):
        a, q = (dh * i - top) % sh, (dh * i - top) // sh
        for j in range(kw):
            b, r = (dw * j - left) % sw, (dw * j - left) // sw
            if q >= hs or q + ho <= 0 or r >= ws or r + wo <= 0:
                continue  # the whole tap falls on padding
            tap = pad_or_crop(cols[:, i, j], q, hs - q - ho, r, ws - r - wo)
            phases[a, b] = tap if (a, b) not in phases else phases[a, b] + tap
    if (sh, sw) == (1, 1):
        img = phases.get((0, 0))
        return img if img is not None else mx.zeros((c, n, h, w), cols.dtype)
    zeros = mx.zeros((c, n, hs, ws), cols.dtype)
    grid = mx.stack([phases.get((a, b), zeros) for a in range(sh) for b in range(sw)])
    grid = grid.reshape(sh, sw, c, n, hs, ws).transpose(2, 3, 4, 0, 5, 1)
    img = grid.reshape(c, n, hs * sh, ws * sw)
    return img if (hs * sh, ws * sw) == (h, w) else img[:, :, :h, :w]
