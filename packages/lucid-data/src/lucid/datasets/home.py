"""Where datasets live on disk.

Root, in order: the ``root`` argument, else ``$LUCID_DATA_HOME``, else
``$XDG_CACHE_HOME/lucid``, else ``~/.cache/lucid``.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "LUCID_DATA_HOME"


def data_home(root: str | os.PathLike | None = None) -> Path:
    """The folder that holds (or will hold) downloaded data and caches."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "lucid"


def missing_dirs(path: str | os.PathLike) -> list[Path]:
    """``path`` and its ancestors that do not exist yet, deepest first."""
    path = Path(path)
    return [p for p in (path, *path.parents) if not p.exists()]


def remove_empty_dirs(dirs: list[Path]) -> None:
    """Remove ``dirs`` (deepest first) while they are empty: undo a failed call's mkdirs."""
    for d in dirs:
        try:
            d.rmdir()
        except OSError:
            break
