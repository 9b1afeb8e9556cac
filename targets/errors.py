"""Errors of the storage-location layer.

Every class carries an integer ``exit_code`` like the rest of the project (3 = failed). Messages
name the location and what failed; they never carry a secret (keys, passwords, tokens).
"""

from __future__ import annotations


class TargetError(Exception):
    """An operation on a storage location failed."""

    exit_code: int = 3


class LocationUnavailable(TargetError):
    """The location is down: unreachable, credentials refused, or its bucket is missing."""


class FileMissing(TargetError):
    """The requested repository file does not exist at the location."""


class InvalidPath(TargetError):
    """A repository-relative path is empty, absolute, or climbs out of the repository."""

    exit_code: int = 2
