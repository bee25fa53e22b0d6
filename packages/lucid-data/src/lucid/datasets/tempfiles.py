"""Temporary files of atomic writes: named after their owner process, cleaned when stale.

A writer creates ``<name>.<pid>.<random><suffix>`` beside the final file and renames it
into place. A process killed mid-write leaves its temporary behind; the next run removes
every temporary whose owner process no longer exists (and that has not been written for
:data:`DEAD_OWNER_GRACE` seconds, so that a writer on another machine sharing the folder is
left alone) or that is older than :data:`MAX_AGE`, whoever owns it.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

#: Seconds after which any temporary is stale, even if a process with its PID is alive.
MAX_AGE = 24 * 3600
#: Seconds a temporary of a dead process is kept after its last write.
DEAD_OWNER_GRACE = 60


def mkstemp(final: Path, suffix: str) -> tuple[int, Path]:
    """An open temporary beside ``final``, named ``<final>.<pid>.<random><suffix>``."""
    fd, name = tempfile.mkstemp(prefix=f"{final.name}.{os.getpid()}.", suffix=suffix,
                                dir=final.parent)
    return fd, Path(name)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # exists but belongs to someone else (or unknown)
        return True
    return True


def remove_stale(
    folder: str | os.PathLike, pattern: str, *, now: float | None = None, dirs: bool = False
) -> list[Path]:
    """Remove the stale temporaries in ``folder`` whose names match ``pattern``.

    ``pattern`` is a regular expression matched against the whole name; its group
    ``pid`` (optional in the match) is the owner's process id. With ``dirs`` the matches
    are folders (removed with their content), else files. Returns what was removed;
    entries that vanish or cannot be removed meanwhile are skipped.
    """
    regex = re.compile(pattern)
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = regex.fullmatch(entry.name)
        if m is None:
            continue
        try:
            if entry.is_symlink() or not (entry.is_dir() if dirs else entry.is_file()):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
            pid = m.group("pid")
            dead = pid is not None and int(pid) != os.getpid() and not pid_alive(int(pid))
            if age > MAX_AGE or (dead and age > DEAD_OWNER_GRACE):
                if dirs:
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _umask() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no portable read-only query elsewhere
    os.umask(mask)
    return mask


def publish_mode(path: str | os.PathLike) -> None:
    """Give a temporary (``mkstemp`` makes them 0600) the mode a plain ``open`` would:
    ``0o666 & ~umask``, so that a shared cache is readable by whom the umask allows."""
    mode = 0o666 & ~_umask()
    try:
        os.chmod(path, mode)
    except OSError:  # a file system without modes: nothing to do
        pass
