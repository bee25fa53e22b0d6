"""Safe extraction of a dataset's tar archive.

Only regular files and folders under one expected top folder are written; absolute paths,
``..`` components, links and devices are refused. Files land in a temporary folder beside
the target and are moved into place with ``os.replace``, so an interrupted extraction
leaves no half-written file under a real name; the staging folder of a killed extraction
(``.extract-<pid>-<random>``) is removed by the next one (see :mod:`.tempfiles`).
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
import tempfile
from pathlib import Path

from . import tempfiles
from .errors import CorruptFileError


def _member_path(member: tarfile.TarInfo, top: str, archive: Path) -> str | None:
    """The member's normalised relative path, or None when it is outside ``top``."""
    name = member.name
    norm = posixpath.normpath(name)
    if name.startswith(("/", "\\")) or norm.startswith("..") or "\\" in name or ":" in name:
        raise CorruptFileError(f"{archive}: refusing unsafe member path {name!r}")
    if norm != top and not norm.startswith(top + "/"):
        return None
    if not (member.isfile() or member.isdir()):
        raise CorruptFileError(f"{archive}: refusing member {name!r} (not a regular file)")
    return norm


def extract_tar(archive: str | os.PathLike, dest: str | os.PathLike, top: str) -> Path:
    """Extract the members of ``archive`` under ``top/`` into ``dest/top``; return that path."""
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    tempfiles.remove_stale(dest, r"\.extract-(?:(?P<pid>\d+)-)?[A-Za-z0-9_]+", dirs=True)
    staging = Path(tempfile.mkdtemp(prefix=f".extract-{os.getpid()}-", dir=dest))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                for member in tar:
                    rel = _member_path(member, top, archive)
                    if rel is None:
                        continue
                    target = staging / rel
                    if member.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    src = tar.extractfile(member)
                    with src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
        except (tarfile.TarError, EOFError, OSError) as e:
            raise CorruptFileError(f"{archive}: cannot extract ({type(e).__name__}: {e})") from e
        if not (staging / top).is_dir():
            raise CorruptFileError(f"{archive}: has no folder {top}/")
        final = dest / top
        for path in sorted((staging / top).rglob("*")):
            out = final / path.relative_to(staging / top)
            if path.is_dir():
                out.mkdir(parents=True, exist_ok=True)
            else:
                out.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, out)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)
