"""Engine benchmark: Lucid against PyTorch (and NumPy) on the CPU, in one process.

- sgemm 1024 x 1024 float32: GFLOP/s through Lucid (MLX with the OpenBLAS that
  ``import lucid`` loads; target >= 50), NumPy and PyTorch.
- Every convolution shape of a CIFAR ResNet-18 at batch 32: forward, and forward + backward
  (gradients of input and weight, values evaluated), Lucid (``lucid.conv2d``) against
  PyTorch (``torch.nn.functional.conv2d``), with the Lucid / PyTorch time ratio, and the
  totals weighted by how often each shape occurs in the network.
- For each convolution shape, the floor of any matrix-product formulation
  (``gemm_floor``): the time of its GEMMs alone through MLX's BLAS, and that floor over
  PyTorch's whole convolution.
- A BatchNorm + ReLU pass (training statistics) built from Lucid's elementwise ops and
  reductions, against PyTorch's fused ``batch_norm``.

Times are medians after a warm-up, with the same thread count for every library.
Usage: python benchmarks/bench_engine.py [--out bench-results/engine.json] [--threads N]
       [--batch B]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import gemm_floor  # noqa: E402
import lucid  # noqa: E402  (before mlx.core: it gives MLX its BLAS)
import mlx.core as mx  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

BATCH = 32
SGEMM_N = 1024
SGEMM_TARGET_GFLOPS = 50
# (name, in channels, out channels, kernel, stride, padding, input size, uses in ResNet-18)
CONV_SHAPES = [
    ("stem 3>64", 3, 64, 3, 1, 1, 32, 1),
    ("layer1 64>64", 64, 64, 3, 1, 1, 32, 4),
    ("layer2 64>128 s2", 64, 128, 3, 2, 1, 32, 1),
    ("layer2 shortcut 1x1 s2", 64, 128, 1, 2, 0, 32, 1),
    ("layer2 128>128", 128, 128, 3, 1, 1, 16, 3),
    ("layer3 128>256 s2", 128, 256, 3, 2, 1, 16, 1),
    ("layer3 shortcut 1x1 s2", 128, 256, 1, 2, 0, 16, 1),
    ("layer3 256>256", 256, 256, 3, 1, 1, 8, 3),
    ("layer4 256>512 s2", 256, 512, 3, 2, 1, 8, 1),
    ("layer4 shortcut 1x1 s2", 256, 512, 1, 2, 0, 8, 1),
    ("layer4 512>512", 512, 512, 3, 1, 1, 4, 3),
]
SETTLE_S = 0.1  # lets the other library's idle worker threads stop spinning


def timed(fn, quick: bool, heavy: bool = False) -> dict:
    time.sleep(SETTLE_S)
    if quick:
        return common.measure(fn, warmup=1, repeats=2)
    if heavy:
        return common.measure(fn, warmup=1, repeats=3)
    return common.measure(fn, warmup=2, repeats=5, min_time=0.3, max_repeats=20)


def bench_sgemm(quick: bool) -> dict:
    n = SGEMM_N
    rng = np.random.default_rng(0)
    a_np, b_np = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    a, b = lucid.tensor(a_np), lucid.tensor(b_np)
    a_t, b_t = torch.from_numpy(a_np), torch.from_numpy(b_np)
    runs = {
        "lucid": timed(lambda: (a @ b).eval(), quick),
        "numpy": timed(lambda: a_np @ b_np, quick),
        "torch": timed(lambda: torch.mm(a_t, b_t), quick),
    }
    out = {"n": n, "target_gflops": SGEMM_TARGET_GFLOPS}
    for name, run in runs.items():
        out[f"{name}_ms"] = run["median_ms"]
        out[f"{name}_gflops"] = round(2 * n**3 / run["median_ms"] / 1e6, 1)
    out["lucid_meets_target"] = out["lucid_gflops"] >= SGEMM_TARGET_GFLOPS
    return out


def _lucid_conv_runs(x_np, w_np, g_np, stride, padding, input_grad):
    x = lucid.tensor(x_np, requires_grad=input_grad)
    w = lucid.tensor(w_np, requires_grad=True)
    g = lucid.tensor(g_np)

    def forward():
        with lucid.no_grad():
            lucid.conv2d(x, w, stride=stride, padding=padding).eval()

    def forward_backward():
        x.grad = w.grad = None
        y = lucid.conv2d(x, w, stride=stride, padding=padding)
        y.backward(g)
        mx.eval(y.data, w.grad.data, *([x.grad.data] if input_grad else []))

    with lucid.no_grad():
        y = lucid.conv2d(x, w, stride=stride, padding=padding).numpy()
    return forward, forward_backward, y


def _torch_conv_runs(x_np, w_np, g_np, stride, padding, input_grad):
    x = torch.from_numpy(x_np).requires_grad_(input_grad)
    w = torch.from_numpy(w_np).requires_grad_(True)
    g = torch.from_numpy(g_np)

    def forward():
        with torch.no_grad():
            F.conv2d(x, w, stride=stride, padding=padding)

    def forward_backward():
        x.grad = w.grad = None
        F.conv2d(x, w, stride=stride, padding=padding).backward(g)

    with torch.no_grad():
        y = F.conv2d(x, w, stride=stride, padding=padding).numpy()
    return forward, forward_backward, y


def bench_conv(quick: bool, batch: int = BATCH) -> tuple[list[dict], dict]:
    rng = np.random.default_rng(0)
    rows = []
    totals = {"lucid_ms": 0.0, "torch_ms": 0.0, "lucid_fwd_ms": 0.0, "torch_fwd_ms": 0.0,
              "floor_ms": 0.0, "floor_fwd_ms": 0.0}
    has_conv = hasattr(lucid, "conv2d")
    for name, cin, cout, k, stride, padding, size, count in CONV_SHAPES:
        out_size = (size + 2 * padding - k) // stride + 1
        x_np = rng.standard_normal((batch, cin, size, size), dtype=np.float32)
        w_np = rng.standard_normal((cout, cin, k, k), dtype=np.float32) / np.float32(np.sqrt(cin * k * k))
        g_np = rng.standard_normal((batch, cout, out_size, out_size), dtype=np.float32)
        input_grad = name != "stem 3>64"  # the image needs no gradient
        heavy = batch * cin * cout * k * k * out_size**2 >= 32 * 64 * 64 * 9 * 32**2
        row = {"name": name, "input": [batch, cin, size, size], "weight": [cout, cin, k, k],
               "stride": stride, "padding": padding, "count": count, "input_grad": input_grad}
        t_fwd, t_fb, y_t = _torch_conv_runs(x_np, w_np, g_np, stride, padding, input_grad)
        row["torch"] = {"forward": timed(t_fwd, quick, heavy),
                        "forward_backward": timed(t_fb, quick, heavy)}
        if has_conv:
            l_fwd, l_fb, y_l = _lucid_conv_runs(x_np, w_np, g_np, stride, padding, input_grad)
            row["max_abs_diff"] = float(np.abs(y_l - y_t).max())
            row["lucid"] = {"forward": timed(l_fwd, quick, heavy),
                            "forward_backward": timed(l_fb, quick, heavy)}
            for part, key in (("forward", "ratio_forward"), ("forward_backward", "ratio")):
                row[key] = round(row["lucid"][part]["median_ms"]
                                 / row["torch"][part]["median_ms"], 2)
            totals["lucid_ms"] += count * row["lucid"]["forward_backward"]["median_ms"]
            totals["lucid_fwd_ms"] += count * row["lucid"]["forward"]["median_ms"]
        totals["torch_ms"] += count * row["torch"]["forward_backward"]["median_ms"]
        totals["torch_fwd_ms"] += count * row["torch"]["forward"]["median_ms"]
        row["gemm_floor"] = floor = gemm_floor.conv_gemm_floor(
            lambda fn, heavy=heavy: timed(fn, quick, heavy), cin, cout, k, stride, padding, size, batch,
            input_grad)
        totals["floor_ms"] += count * floor["forward_backward"]
        totals["floor_fwd_ms"] += count * floor["forward"]
        row["floor_ratio_forward"] = round(floor["forward"] / row["torch"]["forward"]["median_ms"], 2)
        row["floor_ratio"] = round(floor["forward_backward"]
                                   / row["torch"]["forward_backward"]["median_ms"], 2)
        rows.append(row)
        print(_conv_line(row), flush=True)
    totals = {k: round(v, 1) for k, v in totals.items()}
    totals["floor_ratio"] = round(totals["floor_ms"] / totals["torch_ms"], 2)
    totals["floor_ratio_forward"] = round(totals["floor_fwd_ms"] / totals["torch_fwd_ms"], 2)
    if has_conv:
        totals["ratio"] = round(totals["lucid_ms"] / totals["torch_ms"], 2)
        totals["ratio_forward"] = round(totals["lucid_fwd_ms"] / totals["torch_fwd_ms"], 2)
    else:
        totals["lucid"] = "lucid.conv2d is not available"
    return rows, totals


def bench_batchnorm_relu(quick: bool) -> dict:
    """Training-mode BatchNorm (batch statistics) + ReLU on (32, 64, 32, 32), fwd + bwd."""
    rng = np.random.default_rng(0)
    shape, eps = (BATCH, 64, 32, 32), 1e-5
    x_np = rng.standard_normal(shape, dtype=np.float32)
    g_np = rng.standard_normal(shape, dtype=np.float32)
    gamma_np = rng.standard_normal((1, 64, 1, 1), dtype=np.float32)
    beta_np = rng.standard_normal((1, 64, 1, 1), dtype=np.float32)

    x, g = lucid.tensor(x_np, requires_grad=True), lucid.tensor(g_np)
    gamma = lucid.tensor(gamma_np, requires_grad=True)
    beta = lucid.tensor(beta_np, requires_grad=True)

    def lucid_step():
        x.grad = gamma.grad = beta.grad = None
        mean = x.mean(axis=(0, 2, 3), keepdims=True)
        var = x.var(axis=(0, 2, 3), keepdims=True, correction=0)
        y = ((x - mean) * lucid.rsqrt(var + eps) * gamma + beta).relu()
        y.backward(g)
        mx.eval(y.data, x.grad.data, gamma.grad.data, beta.grad.data)

    xt, gt = torch.from_numpy(x_np).requires_grad_(True), torch.from_numpy(g_np)
    gamma_t = torch.from_numpy(gamma_np.reshape(-1)).requires_grad_(True)
    beta_t = torch.from_numpy(beta_np.reshape(-1)).requires_grad_(True)

    def torch_step():
        xt.grad = gamma_t.grad = beta_t.grad = None
        y = F.relu(F.batch_norm(xt, None, None, gamma_t, beta_t, training=True, eps=eps))
        y.backward(gt)

    out = {"shape": list(shape), "lucid": "composite of Lucid ops", "torch": "F.batch_norm"}
    out["torch_run"] = timed(torch_step, quick)
    out["lucid_run"] = timed(lucid_step, quick)
    out["ratio"] = round(out["lucid_run"]["median_ms"] / out["torch_run"]["median_ms"], 2)
    return out


def _conv_line(row: dict) -> str:
    t = row["torch"]["forward_backward"]["median_ms"]
    tf = row["torch"]["forward"]["median_ms"]
    if "lucid" not in row:
        return f"  {row['name']:<24} torch fwd {tf:8.2f} ms  fwd+bwd {t:8.2f} ms  (no lucid)"
    lb = row["lucid"]["forward_backward"]["median_ms"]
    lf = row["lucid"]["forward"]["median_ms"]
    fl = row["gemm_floor"]
    return (f"  {row['name']:<24} fwd lucid {lf:8.2f} torch {tf:8.2f} x{row['ratio_forward']:<5}"
            f" | fwd+bwd lucid {lb:8.2f} torch {t:8.2f} x{row['ratio']:<5} ms"
            f" | GEMM floor fwd {fl['forward']:8.2f} x{row['floor_ratio_forward']:<5}"
            f" fwd+bwd {fl['forward_backward']:8.2f} x{row['floor_ratio']:<5}")


def main(argv=None) -> dict:
    p = common.parser(__doc__.splitlines()[0], "bench-results/engine.json")
    p.add_argument("--batch", type=int, default=BATCH, help=f"conv batch (default {BATCH})")
    args = p.parse_args(argv)
    threads = common.set_threads(args.threads)
    start, cpu_start = time.perf_counter(), time.process_time()
    results = {"benchmark": "engine", "batch": args.batch, "quick": args.quick,
               "environment": common.environment(("numpy", "torch", "lucid"))}
    print(f"threads {threads}; BLAS: {results['environment']['blas']['status']} "
          f"({results['environment']['blas']['path']})")

    results["sgemm"] = s = bench_sgemm(args.quick)
    print(f"sgemm {SGEMM_N}: lucid {s['lucid_gflops']} GFLOP/s (target {SGEMM_TARGET_GFLOPS}), "
          f"numpy {s['numpy_gflops']}, torch {s['torch_gflops']}")

    print(f"conv2d, batch {args.batch} (median ms; x = Lucid / PyTorch):")
    results["conv"], results["conv_resnet18_total"] = bench_conv(args.quick, args.batch)
    tot = results["conv_resnet18_total"]
    print(f"ResNet-18 convs, weighted by use: torch fwd {tot['torch_fwd_ms']} ms, "
          f"fwd+bwd {tot['torch_ms']} ms" + (
              f"; lucid fwd {tot['lucid_fwd_ms']} ms, fwd+bwd {tot['lucid_ms']} ms "
              f"(x{tot['ratio_forward']} / x{tot['ratio']})" if "ratio" in tot else ""))
    print(f"  GEMM floor (products alone, through MLX's BLAS): fwd {tot['floor_fwd_ms']} ms, "
          f"fwd+bwd {tot['floor_ms']} ms (x{tot['floor_ratio_forward']} / x{tot['floor_ratio']})")

    results["batchnorm_relu"] = bn = bench_batchnorm_relu(args.quick)
    print(f"BatchNorm+ReLU fwd+bwd {bn['shape']}: lucid {bn['lucid_run']['median_ms']} ms, "
          f"torch {bn['torch_run']['median_ms']} ms (x{bn['ratio']})")

    results["wall_s"] = round(time.perf_counter() - start, 1)
    # well under threads x wall_s: other processes took CPU time, so the figures are noisy
    results["process_cpu_s"] = round(time.process_time() - cpu_start, 1)
    results["loadavg_end"] = list(os.getloadavg())
    path = common.write_json(args.out, results)
    print(f"wrote {path} in {results['wall_s']} s")
    return results


if __name__ == "__main__":
    main()
