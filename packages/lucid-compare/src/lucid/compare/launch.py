"""Starting one run as ``--nproc N`` processes, and watching them.

Lucid's ranks start through MLX's launcher, ``mlx.launch -n N --backend ring`` on the
loopback (ports ``P .. P+N-1``); PyTorch's through ``python -m torch.distributed.run
--nproc-per-node N`` (torchrun; rendezvous on ``127.0.0.1:P``). Every rank runs the same
worker task; rank ``r`` writes its result to ``RESULT.rank<r>`` (rank 0: ``RESULT``) and its
PID to ``RESULT.rank<r>.pid`` as it starts.

Launchers do not always say that a rank failed (``mlx.launch`` exits 0 after printing
"Node with rank X exited with code Y"), so the parent decides from the ranks' own
records: a rank is lost when its process is gone and it wrote no result. The first rank
lost names the failure; once one is lost the others get ``GRACE`` seconds to notice (a
collective with a dead peer fails within seconds) and are then killed by PID, so a run
never hangs on a dead rank. A launcher still running ``GRACE`` seconds after all its
ranks ended is killed too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from .errors import UsageError

#: seconds the other ranks get, after one is lost, before they are killed
GRACE = 20.0
#: seconds between checks of the ranks' processes
POLL = 0.2


def mlx_launcher() -> str | None:
    """The ``mlx.launch`` beside this Python, else on ``PATH``."""
    here = Path(sys.executable).with_name("mlx.launch")
    return str(here) if here.exists() else shutil.which("mlx.launch")


def _torchrun_available() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("torch.distributed.run") is not None
    except (ImportError, ValueError):
        return False


def check_launchers(frameworks, nproc: int) -> None:
    """``UsageError`` naming the launcher a ``--nproc`` run needs and lacks."""
    if nproc <= 1:
        return
    if "lucid" in frameworks and mlx_launcher() is None:
        raise UsageError("--nproc needs MLX's launcher `mlx.launch` for Lucid (it comes with "
                         "the `mlx` package); it is neither beside this Python nor on PATH")
    if "torch" in frameworks and not _torchrun_available():
        raise UsageError("--nproc needs PyTorch's launcher (torch.distributed.run), which this "
                         "PyTorch lacks")


def ports_needed(framework: str, nproc: int) -> int:
    """Consecutive loopback ports a run uses: one per rank (ring) or one (torchrun)."""
    return nproc if framework == "lucid" else 1


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def check_ports(port: int, count: int) -> None:
    """``UsageError`` unless ports ``port .. port+count-1`` are free on the loopback."""
    busy = [p for p in range(port, port + count) if not 0 < p < 65536 or not _free(p)]
    if busy:
        raise UsageError(f"--port {port}: port {busy[0]} on 127.0.0.1 is in use (or invalid); "
                         f"a --nproc run needs {count} free port(s) from --port; choose "
                         "another --port, or leave it out to pick free ones")


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            first = s.getsockname()[1]
        if first + count < 65536 and all(_free(p) for p in range(first, first + count)):
            return first
    raise UsageError(f"no {count} consecutive free ports on 127.0.0.1")


def command(framework: str, nproc: int, port: int, args: list[str]) -> list[str]:
    """The launcher's command line that runs ``python -u -m <args>`` as ``nproc`` ranks."""
    if framework == "lucid":
        return [mlx_launcher() or "mlx.launch", "-n", str(nproc), "--backend", "ring",
                "--starting-port", str(port), "--", sys.executable, "-u", "-m", *args]
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1",
            "--nproc-per-node", str(nproc), "--master-addr", "127.0.0.1", "--master-port",
            str(port), "--max-restarts", "0", "--monitor-interval", "0.2", "-m", *args]


def result_path(result: Path, rank: int) -> Path:
    return Path(result) if rank == 0 else Path(f"{result}.rank{rank}")


def pid_path(result: Path, rank: int) -> Path:
    return Path(f"{result}.rank{rank}.pid")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class RankWatch:
    """Watches the ranks of one launch (see the module docstring)."""

    def __init__(self, launcher: subprocess.Popen, result: Path, nproc: int):
        self.launcher, self.result, self.nproc = launcher, Path(result), nproc
        self.pids: dict[int, int] = {}
        self.lost: list[int] = []  # ranks gone without a result, in the order seen
        self.killed = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()

    def _scan(self) -> None:
        for r in range(self.nproc):
            if r not in self.pids:
                try:
                    self.pids[r] = int(pid_path(self.result, r).read_text())
                except (OSError, ValueError):
                    continue
            if r in self.lost or _alive(self.pids[r]):
                continue
            if not result_path(self.result, r).exists():
                self.lost.append(r)

    def _run(self) -> None:
        first_loss = all_ended = None
        while not self._done.wait(POLL):
            self._scan()
            if self.lost and first_loss is None:
                first_loss = time.monotonic()
            if first_loss is not None and time.monotonic() - first_loss > GRACE:
                self.kill()
                return
            if all_ended is None and len(self.pids) == self.nproc and not any(
                    _alive(p) for p in self.pids.values()):
                all_ended = time.monotonic()
            if all_ended is not None and time.monotonic() - all_ended > GRACE:
                self.kill()  # every rank has ended, its launcher has not
                return

    def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the ranks' processes to end (an interrupted
        rank is writing its history), then kill those still running and the launcher
        (``mlx.launch`` can hang on Ctrl-C after its ranks have ended)."""
        end = time.monotonic() + timeout
        self._scan()
        while time.monotonic() < end and any(_alive(p) for p in self.pids.values()):
            time.sleep(POLL)
        self.kill()

    def kill(self) -> None:
        """Kill the ranks still running and the launcher, by PID."""
        self.killed = True
        for pid in self.pids.values():
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if self.launcher.poll() is None:
            self.launcher.kill()

    def results(self) -> dict[int, dict | None]:
        self._scan()
        return {r: _read(result_path(self.result, r)) for r in range(self.nproc)}


def failure(label: str, nproc: int, results: dict, lost: list[int], code: int,
            killed: bool) -> str | None:
    """Why a ``--nproc`` run failed, naming the rank, or ``None`` when every rank is done."""
    if all(res and res.get("ok") for res in results.values()):
        return None
    missing = [r for r, res in results.items() if res is None]
    first = lost[0] if lost else (missing[0] if missing else None)
    errors = {r: res["error"] for r, res in results.items() if res and not res.get("ok")}
    if first is not None:
        text = (f"the {label} run in {nproc} processes failed: rank {first} exited without "
                "finishing (killed, or it crashed; its output is above)")
        if errors:
            text += "; then " + "; ".join(f"rank {r}: {e}" for r, e in sorted(errors.items()))
        if killed:
            text += f"; the remaining ranks were stopped {GRACE:.0f} s after"
        return text
    r, err = min(errors.items())
    return f"the {label} run in {nproc} processes failed on rank {r}: {err}"
