"""3x3 stride-1 convolutions as nine shifted matrix products, with no im2col copy.

The input is copied once into a pixel-major grid ``X`` (rows are pixels, columns channels):
every image gets one zero row on top and one zero column on the left, and one all-zero
image follows the batch, so the grid is ``(N + 1, H + 1, W + 1)`` pixels. Flattened
row-major, the zero column left of row ``y + 1`` is also the one right of row ``y``, and
the zero top row of image ``n + 1`` is also the one below image ``n``: every 3x3 window
around a pixel reads its zero padding from the grid. With ``s(i, j) = i (W + 1) + j``,

    out[m] = sum_{i, j} X[m + s(i, j)] @ W[:, :, i, j]^T,    m = (n (H + 1) + y) (W + 1) + x

so tap ``(i, j)`` is the product of a contiguous block of grid rows (a view) with one
``(C, O)`` slice of the kernel, accumulated in place (``addmm``). The ``m`` that fall on
``y = H`` or ``x = W`` are discarded (``(H + 1)(W + 1) / (H W)`` extra work: 13% at
16x16, 6% at 32x32). The backward works on the same grid: with ``G`` the output gradient
placed like ``X`` (zeros where nothing was computed),

    dX[m] = sum_{i, j} G[m + s(i, j)] @ W[:, :, 2 - i, 2 - j]     (the same map, flipped kernel)
    dW[:, :, i, j] = (X[s(i, j) + m]^T @ G[s(1, 1) + m])^T        (summed over all m)

so the backward keeps only ``X`` (about 1.1x the input) instead of im2col's 9x.
"""

from __future__ import annotations

import mlx.core as mx

# Below these image sizes the grid's zero rows and columns waste too much: 16x16 when the
# backward runs too (Winograd is faster at 8x8 there), 8x8 for a forward without dW.
MIN_SIZE = {True: 16, False: 8}
MIN_CHANNELS = 16  # fewer make each tap's product too thin (a stem conv from RGB)


def applies(w_shape, stride, dilation, pads, groups, in_hw, weight_grad=True) -> bool:
    """Whether this is a 3x3, stride-1, ``padding=1`` convolution on a large enough image."""
    return (tuple(w_shape[2:]) == (3, 3) and stride == (1, 1) and dilation == (1, 1)
            and tuple(pads) == (1, 1, 1, 1) and groups == 1
            and min(in_hw) >= MIN_SIZE[bool(weight_grad)] and min(w_shape[:2]) >= MIN_CHANNELS)


def to_grid(x_c):
    """``x_c`` ``(C, N, H, W)`` -> the zero-padded pixel grid ``((N+1)(H+1)(W+1), C)``."""
    c = x_c.shape[0]
    grid = mx.pad(x_c.transpose(1, 2, 3, 0), [(0, 1), (1, 0), (1, 0), (0, 0)])
    return grid.reshape(-1, c)


def correlate(grid, w, nhw):
    """``sum_{i, j} W[:, :, i, j] @ grid[m + s(i, j)]^T`` for every ``m``: ``(O, N, H, W)``."""
    n, h, wd = nhw
    rows = n * (h + 1) * (wd + 1)
    out = None
    for i in range(3):
        for j in range(3):
            start = i * (wd + 1) + j
            taps = grid[start:start + rows].T  # a transposed view: no copy
            out = (mx.matmul(w[:, :, i, j], taps) if out is None
                   else mx.addmm(out, w[:, :, i, j], taps))
    return out.reshape(w.shape[0], n, h + 1, wd + 1)[:, :, :h, :wd]


def input_grad(g_grid, w, nhw):
    """``dL/dx`` ``(C, N, H, W)`` from the output gradient on the grid (``to_grid``)."""
    w_flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    return correlate(g_grid, w_flipped, nhw)


def weight_grad(grid, g_grid, nhw):
    """``dL/dW`` ``(O, C, 3, 3)`` from the input and output gradient grids."""
    n, h, wd = nhw
    rows = n * (h + 1) * (wd + 1)
    g = g_grid[wd + 2: wd + 2 + rows]  # output m sits at grid row m + s(1, 1)
    taps = [mx.matmul(g.T, grid[i * (wd + 1) + j: i * (wd + 1) + j + rows])
            for i in range(3) for j in range(3)]
    return mx.stack(taps, axis=-1).reshape(g.shape[1], grid.shape[1], 3, 3)
