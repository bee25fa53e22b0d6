"""Does Lucid slow PyTorch down? PyTorch's training steps in a clean process and in one
that imported and used Lucid first.

Each mode runs in its own fresh process with the same threads and allocator settings,
in alternating order over ``--rounds``:

- ``clean``: imports only PyTorch (and torchvision);
- ``after_lucid``: ``import lucid``, a Lucid matrix product and convolution (so MLX, its
  BLAS and their thread pools are loaded and have run), then the same PyTorch steps.

Cases: LeNet-5 training step on MNIST shapes, batch 128, and ResNet-18 (CIFAR stem)
training step, batch 32, both with Adam. The figure is the ratio
``after_lucid / clean`` of the median step times (1.0 means Lucid leaves PyTorch alone).

Usage: python benchmarks/bench_isolation.py [--out bench-results/bench_isolation.json]
       [--threads N] [--rounds R] [--quick]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

MODES = ("clean", "after_lucid")
CASES = {"lenet5_train_b128": (128, 40), "resnet18_train_b32": (32, 6)}  # batch, steps

USE_LUCID = """
import lucid
a = lucid.randn(256, 256)
w = lucid.randn(16, 3, 3, 3)
lucid.nn.functional.conv2d(lucid.randn(8, 3, 32, 32), w, padding=1).sum().item()
(a @ a).sum().item()
"""

TORCH_STEPS = """
import json, os, statistics, sys, time
sys.path.insert(0, {bench_dir!r})
import torch, torch.nn as nn, torch.nn.functional as F
import common
torch.manual_seed(0)
torch.set_num_threads({threads})
case, batch, steps = {case!r}, {batch}, {steps}
if case.startswith("lenet5"):
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))
    x = torch.randn(batch, 1, 28, 28)
else:
    import torchvision
    model = torchvision.models.resnet18(num_classes=10)
    model.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    model.maxpool = nn.Identity()
    x = torch.randn(batch, 3, 32, 32)
y = torch.randint(0, 10, (batch,))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

def step():
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    loss.item()

timing = common.measure(step, warmup=2, repeats=steps)
maps = open("/proc/self/maps").read() if os.path.exists("/proc/self/maps") else ""
print(json.dumps({{
    "timing": timing,
    "lucid_engine_loaded": "mlx.core" in sys.modules,
    "openblas_mapped": "libopenblas" in maps,
    "loadavg": list(os.getloadavg()),
}}))
"""


def run_mode(mode: str, case: str, threads: int, quick: bool) -> dict:
    batch, steps = CASES[case]
    code = TORCH_STEPS.format(bench_dir=str(Path(__file__).resolve().parent), threads=threads,
                              case=case, batch=batch, steps=max(3, steps // 4) if quick else steps)
    if mode == "after_lucid":
        code = USE_LUCID + code
    env = dict(os.environ)
    env.setdefault("MALLOC_MMAP_THRESHOLD_", "4294967296")
    env.setdefault("MALLOC_TRIM_THRESHOLD_", "4294967296")
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} {case} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    p = common.parser(__doc__.splitlines()[0], "bench-results/bench_isolation.json")
    p.add_argument("--rounds", type=int, default=2, help="rounds, alternating the order")
    args = p.parse_args()
    threads = args.threads or os.cpu_count() or 1
    results: dict = {"environment": common.environment(("numpy", "torch")), "threads": threads,
                     "cases": {}}
    for case in CASES:
        runs: dict[str, list] = {m: [] for m in MODES}
        for r in range(args.rounds):
            for mode in (MODES if r % 2 == 0 else MODES[::-1]):
                runs[mode].append(run_mode(mode, case, threads, args.quick))
        median = {m: statistics.median(x["timing"]["median_ms"] for x in runs[m]) for m in MODES}
        ratio = median["after_lucid"] / median["clean"]
        results["cases"][case] = {"median_ms": median, "ratio_after_lucid_to_clean": ratio,
                                  "runs": runs}
        print(f"{case}: PyTorch step {median['clean']:.1f} ms clean, "
              f"{median['after_lucid']:.1f} ms after import lucid: ratio {ratio:.2f}")
    print(f"written {common.write_json(args.out, results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
