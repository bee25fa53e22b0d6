"""Exception types of ``lucid.datasets``.

Every failure of a loader is one of these, and its message names the file, the URL or the
folder involved, so that the fix is clear from the message alone.
"""

from __future__ import annotations

import pickle


class DatasetError(Exception):
    """Base class of every error raised by ``lucid.datasets``."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """The data is not on disk and could not be downloaded.

    The message lists which files to fetch from where, and where to put them.
    """


class DownloadError(DatasetError):
    """Every mirror failed for a network reason (refused, timed out, HTTP error).

    ``errors`` holds one ``(url, reason)`` pair per failed attempt.
    """

    def __init__(self, message: str, errors: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.errors = list(errors or [])


class ChecksumError(DatasetError):
    """A file's checksum is not the expected one (a failed download's file is deleted)."""

    def __init__(
        self,
        path,
        expected: str,
        actual: str,
        url: str | None = None,
        *,
        algo: str = "md5",
        deleted: bool = True,
    ):
        src = f" downloaded from {url}" if url else ""
        fix = (
            "The file was deleted; it was corrupted in transit or the source changed."
            if deleted
            else "Replace it with the official file, or extract it yourself to use it as it is."
        )
        super().__init__(
            f"checksum mismatch for {path}{src}: expected {algo} {expected}, got {actual}. {fix}"
        )
        self.path = str(path)
        self.expected = expected
        self.actual = actual
        self.url = url


class CorruptFileError(DatasetError):
    """A data file is truncated, mislabelled or not in the expected format."""


class UnsafePickleError(DatasetError, pickle.UnpicklingError):
    """A pickle asked for something outside the allowlist; nothing from it was executed."""
