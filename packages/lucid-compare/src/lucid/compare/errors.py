"""Errors of the harness, each with the exit status the command line returns for it.

| status | meaning |
|---|---|
| 0 | done |
| 1 | comparison refused (e.g. parameter counts differ) or a failed check (``parity``) |
| 2 | usage error: unknown experiment, option, override field or bad value; an output folder
  in use by another run, or holding a finished run of another config (``--force``) |
| 3 | a file the command reads is not available or damaged: the data (offline, not
  downloaded, damaged), a history or checkpoint (``--resume``, ``report``), or a file
  that cannot be written (disk full) |
| 4 | a run stopped on a NaN/inf loss (histories and report are still written) |
| 5 | a framework is not installed |
| 70 | internal error (a bug in lucid-compare: ``--debug`` shows the traceback) |
| 130 | interrupted (Ctrl-C); histories on disk are valid and ``--resume`` continues |

Every failure prints one line ``lucid-compare: error: ...`` on stderr; ``--debug`` adds
the traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_DIVERGED = 4
EXIT_MISSING_FRAMEWORK = 5
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


class CompareError(Exception):
    """Base class: ``exit_code`` is what ``lucid-compare`` exits with."""

    exit_code = EXIT_REFUSED


class UsageError(CompareError):
    """A bad command line, config file or override."""

    exit_code = EXIT_USAGE


class DataUnavailableError(CompareError):
    """The experiment's data cannot be loaded; the message is the data package's."""

    exit_code = EXIT_DATA


class DamagedFileError(CompareError):
    """A history, checkpoint or other file the command reads is damaged or unreadable,
    or an output file cannot be written."""

    exit_code = EXIT_DATA


class FrameworkMissingError(CompareError):
    """A framework the run needs cannot be imported."""

    exit_code = EXIT_MISSING_FRAMEWORK


class ComparisonRefused(CompareError):
    """The two runs are not comparable (different parameter counts) and ``--force`` is off."""

    exit_code = EXIT_REFUSED


class Diverged(CompareError):
    """The training loss became NaN or infinite."""

    exit_code = EXIT_DIVERGED
