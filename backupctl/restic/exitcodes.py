"""What a restic exit code (and, on restic < 0.17, its stderr) means, from one table.

restic's scripting docs: an unknown exit code is a failure. restic 0.14 only returns 0, 1 and 3,
so there the cause of a failure is told apart by stderr.
"""

from __future__ import annotations

import enum
import re


class Outcome(enum.Enum):
    OK = "ok"
    INCOMPLETE = "incomplete"  # backup: snapshot made, but some source files could not be read
    NO_REPOSITORY = "no-repository"
    LOCKED = "locked"
    WRONG_PASSWORD = "wrong-password"
    UNREACHABLE = "unreachable"
    NO_SPACE = "no-space"  # the location is full: try the next one
    INTERRUPTED = "interrupted"
    FAILED = "failed"


EXIT_CODES = {
    0: Outcome.OK,
    1: Outcome.FAILED,
    3: Outcome.INCOMPLETE,
    10: Outcome.NO_REPOSITORY,
    11: Outcome.LOCKED,
    12: Outcome.WRONG_PASSWORD,
    130: Outcome.INTERRUPTED,
}

# For exit code 1 (all a restic < 0.17 says), the stderr patterns that tell the cause, first match
# wins. Network failures come before "no repository": restic 0.14 adds "Is there a repository at
# the following location?" to any failure to open the config file, including a refused connection.
STDERR_PATTERNS = (
    (re.compile(r"wrong password|no key found", re.IGNORECASE), Outcome.WRONG_PASSWORD),
    (
        re.compile(r"repository is already locked|unable to create lock", re.IGNORECASE),
        Outcome.LOCKED,
    ),
    (re.compile(r"no space left on device|disk quota exceeded", re.IGNORECASE), Outcome.NO_SPACE),
    (
        re.compile(
            r"connection refused|no route to host|ssh command exited|dial tcp|i/o timeout"
            r"|unable to start the sftp session|Could not resolve hostname"
            r"|Host key verification failed|Permission denied \(publickey"
            r"|NoSuchBucket|The specified bucket does not exist|connection reset",
            re.IGNORECASE,
        ),
        Outcome.UNREACHABLE,
    ),
    (
        re.compile(
            r"Is there a repository at the following location|unable to open config file"
            r"|repository does not exist|config file does not exist",
            re.IGNORECASE,
        ),
        Outcome.NO_REPOSITORY,
    ),
)


def classify(returncode: int, stderr: str) -> Outcome:
    """Given restic's exit code and stderr, return what happened."""
    if returncode < 0:  # killed by a signal
        return Outcome.INTERRUPTED
    outcome = EXIT_CODES.get(returncode, Outcome.FAILED)
    if returncode == 1:  # an unknown code is a failure whatever stderr says (e.g. a Go panic)
        for pattern, cause in STDERR_PATTERNS:
            if pattern.search(stderr):
                return cause
    return outcome


def reason(outcome: Outcome, stderr: str) -> str:
    """Given an outcome and restic's stderr, return a one-line reason for the user."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.lower().startswith("fatal")]
    detail = (fatal or lines or [""])[-1][:300]
    return f"{outcome.value}: {detail}" if detail else outcome.value
