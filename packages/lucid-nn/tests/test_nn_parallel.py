"""Data parallelism: lucid.distributed and DistributedDataParallel, in one process (a world
of size 1) and in two processes on the loopback (``mlx.launch --backend ring``)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import lucid
import lucid.distributed as dist
import lucid.nn as nn
import numpy as np
import pytest
from lucid.nn.parallel import DistributedDataParallel

WORKER = Path(__file__).with_name("ddp_worker.py")
LAUNCHER = Path(sys.executable).with_name("mlx.launch")


def _free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as a, socket.socket() as b:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            try:
                b.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no two consecutive free ports on the loopback")


def _launch(tmp_path, mode: str, nproc: int = 2, timeout: float = 120):
    out = tmp_path / f"{mode}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLX_")}
    if nproc == 1:
        cmd = [sys.executable, str(WORKER), str(out), mode]
    else:
        cmd = [str(LAUNCHER), "-n", str(nproc), "--backend", "ring", "--starting-port",
               str(_free_port_pair()), "--", sys.executable, str(WORKER), str(out), mode]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    return proc, (json.loads(out.read_text()) if out.exists() else None)


def test_world_of_one_without_a_launcher():
    assert dist.get_world_size() == 1 and dist.get_rank() == 0 and dist.is_initialized()
    t = lucid.tensor([1.0, 2.0])
    alias = t
    assert dist.all_reduce(t, op="mean") is t and alias.tolist() == [1.0, 2.0]
    out = [lucid.zeros(2)]
    dist.all_gather(out, t)
    assert out[0].tolist() == [1.0, 2.0]
    dist.broadcast(t, src=0)
    dist.barrier()
    with pytest.raises(ValueError, match="op must be one of"):
        dist.all_reduce(t, op="prod")
    with pytest.raises(ValueError, match="src 1 is not a rank"):
        dist.broadcast(t, src=1)
    with pytest.raises(ValueError, match="unknown backend"):
        dist.init(backend="gloo")
    with pytest.raises(TypeError, match="expected a Tensor"):
        dist.all_reduce(np.ones(2))


def test_ddp_state_dict_is_the_plain_models():
    plain = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    wrapped = DistributedDataParallel(plain)
    assert list(wrapped.state_dict()) == list(plain.state_dict())
    other = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    other.load_state_dict(wrapped.state_dict())
    x = lucid.randn(4, 3)
    plain.eval()
    other.eval()
    np.testing.assert_allclose(wrapped(x).numpy(), other(x).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="bucket_cap_mb"):
        DistributedDataParallel(plain, bucket_cap_mb=0)


@pytest.mark.skipif(not LAUNCHER.exists(), reason="mlx.launch is not installed beside Python")
def test_two_processes_train_as_one_process_with_the_global_batch(tmp_path):
    proc, single = _launch(tmp_path, "single", nproc=1)
    assert proc.returncode == 0, proc.stderr
    proc, ddp = _launch(tmp_path, "ddp")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert single["world"] == 1 and ddp["world"] == 2
    assert single["state"].keys() == ddp["state"].keys()
    for key, value in single["state"].items():
        np.testing.assert_allclose(ddp["state"][key], value, rtol=1e-5, atol=1e-6,
                                   err_msg=key)


@pytest.mark.skipif(not LAUNCHER.exists(), reason="mlx.launch is not installed beside Python")
def test_a_killed_rank_ends_the_run_instead_of_hanging(tmp_path):
    proc, result = _launch(tmp_path, "die", timeout=90)  # TimeoutExpired would be a hang
    output = proc.stdout + proc.stderr
    assert result is None  # rank 0 never finished
    assert "rank 1 exited with code 3" in output, output  # the launcher names the lost rank
    # rank 0 fails on its own ("connection to a peer was lost") or the launcher, having
    # seen rank 1 exit, stops it first: either way it ends, it does not wait forever
    assert ("DistributedError: lucid.distributed.all_sum on rank 0 of 2 failed" in output
            or "rank 0 exited with code" in output), output


@pytest.mark.skipif(not LAUNCHER.exists(), reason="mlx.launch is not installed beside Python")
def test_a_port_in_use_is_named_before_training(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = tmp_path / "port.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLX_")}
        proc = subprocess.run([str(LAUNCHER), "-n", "2", "--backend", "ring", "--starting-port",
                               str(port), "--", sys.executable, str(WORKER), str(out), "ddp"],
                              capture_output=True, text=True, env=env, timeout=90)
    output = proc.stdout + proc.stderr
    assert not out.exists()
    assert "DistributedError" in output and "a port is in use" in output, output
