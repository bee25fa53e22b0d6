"""The matrix-product floor of a convolution: the time of its GEMMs alone, through MLX.

A convolution written as im2col or shifted matrix products over MLX arrays costs at least
those products, at the rate the BLAS behind MLX reaches on their shapes; the copies around
them come on top. With ``P = N Ho Wo``
output pixels, ``Kc = C kh kw`` and ``Ko = O kh kw``, the products of one convolution are:

    forward   (O x Kc) @ (Kc x P)                     im2col: one product
              9 x (O x C) @ (C x R)                   3x3 stride 1 padding 1, shifted:
                                                      R = N (H + 1)(W + 1) grid rows
    dx        (C x Ko) @ (Ko x N H W)  (stride 1)     im2col of the output gradient
              (Kc x O) @ (O x P)       (stride > 1)   then col2im's adds
              9 x (C x O) @ (O x R)                   shifted
    dW        (O x P) @ (P x Kc)                      im2col
              9 x (O x R) @ (R x C)                   shifted

Each is timed on contiguous random operands; the floor of a part is its fastest
formulation. Winograd is not covered by this floor: it does fewer multiplications (on thin
shapes, ``C`` or ``O`` wide, like the shifted ones) and adds transforms over the image.
"""

from __future__ import annotations

import lucid  # noqa: F401  (before mlx.core: it gives MLX its BLAS)
import mlx.core as mx


def _products(shapes: list[tuple[int, int, int]]):
    """A function evaluating one (M x K) @ (K x N) product per shape, on fixed operands."""
    pairs = [(mx.random.normal((m, k)), mx.random.normal((k, n))) for m, k, n in shapes]
    mx.eval(pairs)

    def run():
        mx.eval([a @ b for a, b in pairs])

    return run


def formulations(cin: int, cout: int, k: int, stride: int, padding: int, size: int,
                 batch: int, input_grad: bool = True) -> dict[str, dict[str, list]]:
    """Each part's product shapes ``(M, K, N)``, per formulation, for a square conv."""
    out = (size + 2 * padding - k) // stride + 1
    p, kc, ko = batch * out * out, cin * k * k, cout * k * k
    parts = {
        "forward": {"im2col": [(cout, kc, p)]},
        "weight_grad": {"im2col": [(cout, p, kc)]},
    }
    if input_grad:
        dx = [(cin, ko, batch * size * size)] if stride == 1 else [(kc, cout, p)]
        parts["input_grad"] = {"im2col": dx}
    if k == 3 and stride == 1 and padding == 1:
        r = batch * (size + 1) * (size + 1)
        parts["forward"]["shifted"] = [(cout, cin, r)] * 9
        parts["weight_grad"]["shifted"] = [(cout, r, cin)] * 9
        if input_grad:
            parts["input_grad"]["shifted"] = [(cin, cout, r)] * 9
    return parts


def conv_gemm_floor(timer, cin: int, cout: int, k: int, stride: int, padding: int,
                    size: int, batch: int, input_grad: bool = True) -> dict:
    """Fastest formulation per part, timed with ``timer(fn) -> {"median_ms", ...}``.

    Returns ``{"forward": ms, "forward_backward": ms, "parts": {part: {formulation: ms}}}``.
    """
    parts = formulations(cin, cout, k, stride, padding, size, batch, input_grad)
    times = {part: {name: timer(_products(shapes))["median_ms"]
                    for name, shapes in ways.items()}
             for part, ways in parts.items()}
    best = {part: min(ways.values()) for part, ways in times.items()}
    return {"forward": round(best["forward"], 3),
            "forward_backward": round(sum(best.values()), 3),
            "parts": times}
