"""Verified downloads: mirrors, retries, a progress bar, an atomic rename after the checksum.

A download streams into ``<dest>.<pid>.<random>.part`` beside the destination while its md5
is computed; only when the md5 matches is the file renamed to ``dest`` (``os.replace``), so
a half-written or corrupted file never sits under the real name. A mismatch deletes the
partial file and raises :class:`ChecksumError` (file, expected and actual md5). ``.part``
files of a killed process are removed by the next download of that file (see
:mod:`.tempfiles`). A whole download (every mirror and retry) must finish within
:data:`DOWNLOAD_DEADLINE` seconds, however slowly the server trickles its bytes.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from . import tempfiles
from .errors import ChecksumError, DatasetError, DatasetNotFoundError, DownloadError
from .home import missing_dirs, remove_empty_dirs

#: Attempts per URL for transient failures (timeouts, resets, HTTP 5xx).
DOWNLOAD_RETRIES = 3
#: Seconds to wait for the server before an attempt counts as failed.
DOWNLOAD_TIMEOUT = 30.0
#: First pause between attempts in seconds; doubles after each failure.
DOWNLOAD_BACKOFF = 1.0
#: Seconds a whole download (all mirrors and retries) may take before it is abandoned.
DOWNLOAD_DEADLINE = 3600.0

_CHUNK = 1 << 20
_USER_AGENT = "lucid-data/0.1 (+https://pypi.org/project/lucid-data/)"


class _DeadlineExceeded(Exception):
    pass


def join_url(mirror: str, name: str) -> str:
    """``mirror`` and a file name joined by exactly one ``/`` (a base URL may omit it)."""
    return mirror.rstrip("/") + "/" + name


def md5_bytes(data: bytes) -> str:
    """Hex md5 of ``data``."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def source_record(data: bytes) -> dict:
    """``{"size", "md5"}`` of a source file's bytes, as the cache sidecar lists them."""
    return {"size": len(data), "md5": md5_bytes(data)}


def md5sum(path: str | os.PathLike, chunk: int = _CHUNK) -> str:
    """Hex md5 of a file, read in chunks."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _retryable(err: BaseException) -> bool:
    """Transient errors are retried; a 4xx answer or an unknown host is not."""
    if isinstance(err, urllib.error.HTTPError):
        return err.code >= 500 or err.code in (408, 429)
    if isinstance(err, urllib.error.URLError) and isinstance(err.reason, socket.gaierror):
        return False
    return not isinstance(err, ValueError)


def _describe(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return f"{type(err.reason).__name__}: {err.reason}"
    return f"{type(err).__name__}: {err}"


def _fetch(url: str, tmp: Path, timeout: float, progress: bool, desc: str, end: float) -> str:
    """Stream ``url`` into ``tmp`` until ``time.monotonic()`` reaches ``end``; return the md5."""
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    h = hashlib.md5(usedforsecurity=False)

    def left() -> float:
        rest = end - time.monotonic()
        if rest <= 0:
            raise _DeadlineExceeded(url)
        return rest

    with urllib.request.urlopen(req, timeout=min(timeout, left())) as resp, \
            open(tmp, "wb") as out:
        length = resp.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        got = 0
        with tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=desc,
            disable=not progress,
            leave=False,
        ) as bar:
            while True:
                sock = getattr(getattr(resp, "fp", None), "raw", None)
                sock = getattr(sock, "_sock", None)
                if sock is not None:  # no single read may outlive the deadline
                    sock.settimeout(min(timeout, left()))
                block = resp.read1(_CHUNK) if hasattr(resp, "read1") else resp.read(_CHUNK)
                left()
                if not block:
                    break
                out.write(block)
                h.update(block)
                got += len(block)
                bar.update(len(block))
        if total is not None and got != total:
            raise http.client.IncompleteRead(b"", total - got)
    return h.hexdigest()


def summarize(errors: list[tuple[str, str]]) -> str:
    """One line per distinct ``(url, reason)``, with the number of attempts."""
    counts: dict[tuple[str, str], int] = {}
    for e in errors:
        counts[e] = counts.get(e, 0) + 1
    return "\n".join(
        f"  {u}: {why}" + (f" ({n} attempts)" if n > 1 else "") for (u, why), n in counts.items()
    )


def failure_reason(err: Exception) -> str:
    """Text for a failed download inside a 'not found' message."""
    detail = summarize(err.errors) if isinstance(err, DownloadError) else f"  {err}"
    return "the download failed:\n" + detail + "\n"


def download_url(
    urls: str | Sequence[str],
    dest: str | os.PathLike,
    md5: str | None = None,
    *,
    retries: int | None = None,
    timeout: float | None = None,
    backoff: float | None = None,
    progress: bool = True,
    deadline: float | None = None,
) -> Path:
    """Download the first URL of ``urls`` that works to ``dest``, verified against ``md5``.

    Each URL is tried up to ``retries`` times for transient errors (with exponential
    backoff), then the next URL (mirror). An existing ``dest`` whose md5 matches is kept.
    Raises :class:`ChecksumError` when the bytes arrived but their md5 is wrong on every
    mirror, :class:`DownloadError` when no mirror could be reached or the whole download
    took longer than ``deadline`` seconds (default :data:`DOWNLOAD_DEADLINE`).
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    retries = DOWNLOAD_RETRIES if retries is None else max(1, int(retries))
    timeout = DOWNLOAD_TIMEOUT if timeout is None else timeout
    backoff = DOWNLOAD_BACKOFF if backoff is None else backoff
    deadline = DOWNLOAD_DEADLINE if deadline is None else float(deadline)
    dest = Path(dest)
    if dest.is_file() and (md5 is None or md5sum(dest) == md5):
        return dest
    created = missing_dirs(dest.parent)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetError(f"cannot create folder {dest.parent} for {dest.name}: {e}") from e
    try:
        return _download(urls, dest, md5, retries, timeout, backoff, progress, deadline)
    except BaseException:
        remove_empty_dirs(created)  # a failed download leaves no empty folder behind
        raise


def download_or_explain(urls, dest, md5, progress: bool, explain) -> Path:
    """:func:`download_url`, where a failed download raises :class:`DatasetNotFoundError`
    with the message ``explain(reason)`` (how to get the files by hand); a checksum mismatch
    stays a :class:`ChecksumError`."""
    try:
        return download_url(urls, dest, md5, progress=progress)
    except ChecksumError:
        raise
    except DatasetError as e:
        raise DatasetNotFoundError(explain(failure_reason(e))) from e


def _download(urls, dest: Path, md5, retries, timeout, backoff, progress, deadline) -> Path:
    """The mirror and retry loop of :func:`download_url`."""
    errors: list[tuple[str, str]] = []
    mismatch: ChecksumError | None = None
    end = time.monotonic() + deadline
    pattern = re.escape(dest.name) + r"\.(?:(?P<pid>\d+)\.)?[A-Za-z0-9_]+\.part"
    tempfiles.remove_stale(dest.parent, pattern)  # left by a killed download of this file
    for url in urls:
        for attempt in range(retries):
            try:
                fd, tmp = tempfiles.mkstemp(dest, ".part")
            except OSError as e:
                raise DatasetError(f"cannot write {dest.name} into {dest.parent}: {e}") from e
            os.close(fd)
            try:
                actual = _fetch(url, tmp, timeout, progress, dest.name, end)
                if md5 is not None and actual != md5:
                    tmp.unlink()
                    mismatch = ChecksumError(dest, md5, actual, url=url)
                    errors.append((url, str(mismatch)))
                    break  # same bytes again from this URL would not help: next mirror
                tempfiles.publish_mode(tmp)
                os.replace(tmp, dest)
                return dest
            except _DeadlineExceeded:
                errors.append((url, f"not finished within the {deadline:g} s deadline"))
                raise DownloadError(
                    f"could not download {dest.name}: the download did not finish within "
                    f"{deadline:g} s (deadline= or lucid.datasets.download.DOWNLOAD_DEADLINE "
                    f"sets it):\n{summarize(errors)}",
                    errors,
                ) from None
            except (OSError, http.client.HTTPException, ValueError) as e:
                errors.append((url, _describe(e)))
                if not _retryable(e):
                    break
                if attempt + 1 < retries and backoff > 0:
                    time.sleep(max(0.0, min(backoff * 2**attempt, end - time.monotonic())))
            finally:
                if tmp.exists():
                    tmp.unlink()
    if mismatch is not None:
        raise mismatch
    raise DownloadError(f"could not download {dest.name}:\n{summarize(errors)}", errors)
