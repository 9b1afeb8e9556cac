"""Version gates in one table: each restic feature and the first release that has it."""

from __future__ import annotations

import enum
import re

from backupctl.errors import BackupctlError


class Feature(enum.Enum):
    RETRY_LOCK = "retry-lock"  # --retry-lock DURATION
    EXIT_CODES_10_11_12 = "exit-codes"  # 10 no repository, 11 lock failed, 12 wrong password
    NO_SCAN = "no-scan"  # backup --no-scan
    SKIP_IF_UNCHANGED = "skip-if-unchanged"
    RESTORE_JSON = "restore-json"  # restore --json: status lines with bytes restored
    # restore --json --verbose=2: a verbose_status line (action "restored") per item, a file's
    # sent once its last blob is written and the file closed, before its mode and times are set
    RESTORE_ITEMS = "restore-items"


MINIMUM_VERSION: dict[Feature, tuple[int, int, int]] = {
    Feature.RETRY_LOCK: (0, 16, 0),
    Feature.EXIT_CODES_10_11_12: (0, 17, 0),
    Feature.NO_SCAN: (0, 15, 0),
    Feature.SKIP_IF_UNCHANGED: (0, 17, 0),
    Feature.RESTORE_JSON: (0, 17, 0),
    Feature.RESTORE_ITEMS: (0, 17, 0),
}

OLDEST_SUPPORTED = (0, 14, 0)


class UnsupportedResticError(BackupctlError):
    pass


def parse_version(output: str) -> tuple[int, int, int]:
    """Given the output of `restic version`, return (major, minor, patch); raise when
    unrecognised."""
    match = re.search(r"restic (\d+)\.(\d+)\.(\d+)", output)
    if not match:
        raise UnsupportedResticError(
            f"cannot recognise restic's version in {output.strip()[:80]!r}"
        )
    version = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
    if version < OLDEST_SUPPORTED:
        raise UnsupportedResticError(
            f"restic {'.'.join(map(str, version))} is too old; 0.14.0 or newer is required"
        )
    return version


def available(feature: Feature, version: tuple[int, int, int]) -> bool:
    return version >= MINIMUM_VERSION[feature]
