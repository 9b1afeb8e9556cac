"""Errors of the recovery package, each with the exit code the CLI maps it to.

recovery may not import backupctl, so it repeats the convention of ``backupctl/errors.py``:
every expected failure carries an integer ``exit_code`` class attribute (0 ok, 2 usage,
3 failed, 4 refused for safety).
"""

from __future__ import annotations


class RecoveryError(Exception):
    """An expected failure in the recovery workshop, told to the technician as one message."""

    exit_code: int = 3  # FAILED


class JobNotFound(RecoveryError):
    """No repair job has the given id."""

    exit_code = 2


class DeviceNotFound(RecoveryError):
    """No block device (or tape drive) has the given node."""

    exit_code = 2


class RefusedError(RecoveryError):
    """Refused by a safety rule: a system or mounted device, a closed job, another medium."""

    exit_code = 4


class JobClosedError(RefusedError):
    """The job is closed; its custody record takes no more events."""


class CustodyBrokenError(RecoveryError):
    """The custody chain of a job does not verify: a record was altered or removed."""

    exit_code = 3


class InvalidRequest(RecoveryError):
    """The request is malformed (an empty customer name, an unknown option value)."""

    exit_code = 2


class SchemaTooNew(RecoveryError):
    """The state database was written by a newer backupctl; refuse rather than guess."""

    exit_code = 3
