"""Errors of the orchestration layer and the exit codes the CLI maps them to.

Every expected failure in the project is an exception with an ``exit_code`` class attribute;
the CLI prints its message (never a traceback) and exits with that code. Lower packages
(recovery, targets, policies) define their own base classes with the same attribute, since they
may not import backupctl.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The documented exit codes of every backupctl command (docs/exit-codes.md)."""

    OK = 0
    PARTIAL = 1  # some locations (or items) failed, the others succeeded
    USAGE = 2  # bad arguments, malformed config or input file
    FAILED = 3  # the operation failed everywhere, or could not start
    REFUSED = 4  # refused for safety or policy (system device, out-of-EEA location, ...)
    WARNING = 5  # done everywhere, but something needs a look (foreign files at a location, ...)
    EMPTY_SNAPSHOT = 6  # a backup finished but its snapshot holds no files (all excluded, ...)
    INTERRUPTED = 130


class BackupctlError(Exception):
    """An expected failure, told to the user as one clear message."""

    exit_code: int = ExitCode.FAILED


class ConfigError(BackupctlError):
    """The configuration is malformed or inconsistent; the message names the key path."""

    exit_code = ExitCode.USAGE


class RefusedError(BackupctlError):
    """The request is refused by a safety or policy rule."""

    exit_code = ExitCode.REFUSED


def is_expected(error: BaseException) -> bool:
    """Return whether ``error`` is an expected failure: an Exception whose class carries an
    integer ``exit_code`` (the convention of every package); anything else is a bug."""
    return isinstance(error, Exception) and isinstance(getattr(type(error), "exit_code", None), int)


# When several outcomes apply to one run, the most serious one is the exit code.
SEVERITY = (
    ExitCode.OK,
    ExitCode.WARNING,
    ExitCode.EMPTY_SNAPSHOT,
    ExitCode.PARTIAL,
    ExitCode.FAILED,
    ExitCode.REFUSED,
    ExitCode.USAGE,
    ExitCode.INTERRUPTED,
)


def most_serious(codes: list[int]) -> ExitCode:
    """Given exit codes of parts of one run, return the one the run exits with (OK for none)."""
    ranked = [ExitCode(code) for code in codes]
    return max(ranked, key=SEVERITY.index, default=ExitCode.OK)


def exit_code_for(outcomes: list[bool]) -> ExitCode:
    """Given each location's (or item's) success, return OK, PARTIAL or FAILED; nothing is OK."""
    if all(outcomes):
        return ExitCode.OK
    return ExitCode.PARTIAL if any(outcomes) else ExitCode.FAILED
