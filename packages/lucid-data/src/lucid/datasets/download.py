"""Verified downloads: mirrors, retries, a progress bar, an atomic rename after the checksum.

A download streams into ``<dest>.<pid>.<random>.part`` beside the destination while its md5
is computed; only when the md5 matches is the file renamed to ``dest`` (``os.replace``), so
a half-written or corrupted file never sits under the real name. A mismatch deletes the
partial file and raises :class:`ChecksumError` (file, expected and actual md5).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from .errors import ChecksumError, DatasetError, DatasetNotFoundError, DownloadError
from .home import missing_dirs, remove_empty_dirs

#: Attempts per URL for transient failures (timeouts, resets, HTTP 5xx).
DOWNLOAD_RETRIES = 3
#: Seconds to wait for the server before an attempt counts as failed.
DOWNLOAD_TIMEOUT = 30.0
#: First pause between attempts in seconds; doubles after each failure.
DOWNLOAD_BACKOFF = 1.0

_CHUNK = 1 << 20
_USER_AGENT = "lucid-data/0.1 (+https://pypi.org/project/lucid-data/)"


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


def _fetch(url: str, tmp: Path, timeout: float, progress: bool, desc: str) -> str:
    """Stream ``url`` into ``tmp``; return the md5 of what was written."""
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    h = hashlib.md5(usedforsecurity=False)
    with urllib.request.urlopen(req, timeout=timeout) as resp, open(tmp, "wb") as out:
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
            while block := resp.read(_CHUNK):
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
) -> Path:
    """Download the first URL of ``urls`` that works to ``dest``, verified against ``md5``.

    Each URL is tried up to ``retries`` times for transient errors (with exponential
    backoff), then the next URL (mirror). An existing ``dest`` whose md5 matches is kept.
    Raises :class:`ChecksumError` when the bytes arrived but their md5 is wrong on every
    mirror, :class:`DownloadError` when no mirror could be reached.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    retries = DOWNLOAD_RETRIES if retries is None else max(1, int(retries))
    timeout = DOWNLOAD_TIMEOUT if timeout is None else timeout
    backoff = DOWNLOAD_BACKOFF if backoff is None else backoff
    dest = Path(dest)
    if dest.is_file() and (md5 is None or md5sum(dest) == md5):
        return dest
    created = missing_dirs(dest.parent)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetError(f"cannot create folder {dest.parent} for {dest.name}: {e}") from e
    try:
        return _download(urls, dest, md5, retries, timeout, backoff, progress)
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


def _download(urls, dest: Path, md5, retries, timeout, backoff, progress) -> Path:
    """The mirror and retry loop of :func:`download_url`."""
    errors: list[tuple[str, str]] = []
    mismatch: ChecksumError | None = None
    for url in urls:
        for attempt in range(retries):
            try:
                fd, name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
            except OSError as e:
                raise DatasetError(f"cannot write {dest.name} into {dest.parent}: {e}") from e
            os.close(fd)
            tmp = Path(name)
            try:
                actual = _fetch(url, tmp, timeout, progress, dest.name)
                if md5 is not None and actual != md5:
                    tmp.unlink()
                    mismatch = ChecksumError(dest, md5, actual, url=url)
                    errors.append((url, str(mismatch)))
                    break  # same bytes again from this URL would not help: next mirror
                os.replace(tmp, dest)
                return dest
            except (OSError, http.client.HTTPException, ValueError) as e:
                errors.append((url, _describe(e)))
                if not _retryable(e):
                    break
                if attempt + 1 < retries and backoff > 0:
                    time.sleep(backoff * 2**attempt)
            finally:
                if tmp.exists():
                    tmp.unlink()
    if mismatch is not None:
        raise mismatch
    raise DownloadError(f"could not download {dest.name}:\n{summarize(errors)}", errors)
