"""What a restic exit code, and on restic < 0.17 its stderr, means."""

from __future__ import annotations

import pytest

from backupctl.restic.exitcodes import Outcome, classify, reason

# Real stderr texts of restic 0.14 (exit code 1 for all of them).
WRONG_PASSWORD = "Fatal: wrong password or no key found\n"
LOCKED = (
    "unable to create lock in backend: repository is already locked by PID 4242 on host by "
    "root (UID 0, GID 0)\nlock was created at 2024-05-01 10:00:00 (12s ago)\n"
    "storage ID 1a2b3c4d\nthe `unlock` command can be used to remove stale locks\n"
)
NO_REPOSITORY = (
    "Fatal: unable to open config file: stat /tmp/nope/config: no such file or "
    "directory\nIs there a repository at the following location?\n/tmp/nope\n"
)
SFTP_REFUSED = (
    "subprocess ssh: ssh: connect to host 127.0.0.1 port 2222: Connection refused\n"
    "Fatal: unable to open repository at sftp:bk@127.0.0.1:/r: unable to start the sftp "
    "session, error: EOF\n"
)
SFTP_HOSTKEY = "subprocess ssh: Host key verification failed.\nFatal: unable to open repository\n"
S3_REFUSED = (
    'Fatal: unable to open config file: Stat: Get "http://127.0.0.1:9/b/?location=": '
    "dial tcp 127.0.0.1:9: connect: connection refused\n"
    "Is there a repository at the following location?\ns3:http://127.0.0.1:9/b\n"
)
S3_NO_BUCKET = "Fatal: unable to open config file: Stat: The specified bucket does not exist.\n"
SFTP_UNRESOLVED = (
    "subprocess ssh: ssh: Could not resolve hostname nowhere.invalid: Name or service "
    "not known\nFatal: unable to open repository at sftp:bk@nowhere.invalid:/r: "
    "unable to start the sftp session, error: EOF\n"
)
# ssh's own warnings reach restic's stderr prefixed "subprocess ssh:"; they say nothing about reach.
SFTP_NO_REPOSITORY_WITH_SSH_CHATTER = (
    "subprocess ssh: Warning: Permanently added '[127.0.0.1]:2222' (ED25519) to the list of known "
    "hosts.\nFatal: unable to open config file: Lstat: file does not exist\n"
    "Is there a repository at the following location?\nsftp:bk@127.0.0.1:/r\n"
)
OTHER = "Fatal: unable to save snapshot: disk full\n"
NO_SPACE = (
    "Save(<data/0d2c8e0a>) returned error, retrying after 552.330144ms: open "
    "/mnt/usb/r/data/0d/0d2c8e0a: no space left on device\nFatal: unable to save "
    "snapshot: Save(<data/0d2c8e0a>): no space left on device\n"
)


@pytest.mark.parametrize(("returncode", "stderr", "outcome"), [
    (0, "", Outcome.OK),
    (3, "Warning: at least one source file could not be read\n", Outcome.INCOMPLETE),
    (1, WRONG_PASSWORD, Outcome.WRONG_PASSWORD),
    (1, LOCKED, Outcome.LOCKED),
    (1, NO_REPOSITORY, Outcome.NO_REPOSITORY),
    (1, SFTP_REFUSED, Outcome.UNREACHABLE),
    (1, SFTP_HOSTKEY, Outcome.UNREACHABLE),
    (1, "Fatal: ssh command exited: exit status 255\n", Outcome.UNREACHABLE),
    (1, S3_NO_BUCKET, Outcome.UNREACHABLE),
    (1, SFTP_UNRESOLVED, Outcome.UNREACHABLE),
    (1, SFTP_NO_REPOSITORY_WITH_SSH_CHATTER, Outcome.NO_REPOSITORY),
    (1, OTHER, Outcome.FAILED),
    (1, NO_SPACE, Outcome.NO_SPACE),
    (1, "Fatal: unable to save snapshot: write /mnt/usb/r/snapshots/ab: no space left on device\n",
     Outcome.NO_SPACE),
    (1, "", Outcome.FAILED),
    (10, "Fatal: repository does not exist: unable to open config file\n", Outcome.NO_REPOSITORY),
    (11, "Fatal: unable to create lock in backend: repository is already locked\n", Outcome.LOCKED),
    (12, "Fatal: wrong password or no key found\n", Outcome.WRONG_PASSWORD),
    (130, "signal interrupt received, cleaning up\n", Outcome.INTERRUPTED),
    (2, "panic: runtime error: index out of range\n", Outcome.FAILED),
    (2, "panic: read tcp: connection reset by peer\n", Outcome.FAILED),
    (255, "", Outcome.FAILED),
    (42, "Fatal: wrong password or no key found\n", Outcome.FAILED),
    (-9, "", Outcome.INTERRUPTED),
    (-15, "Fatal: wrong password\n", Outcome.INTERRUPTED),
])  # fmt: skip
def test_classify(returncode, stderr, outcome):
    assert classify(returncode, stderr) is outcome


def test_s3_connection_refused_counts_as_unreachable_before_no_repository():
    # restic 0.14 adds "Is there a repository..." to any config stat failure; a refused connection
    # is still the location being down, not a missing repository. The table says which wins.
    assert classify(1, S3_REFUSED) is Outcome.UNREACHABLE


def test_reason_picks_the_fatal_line():
    assert reason(Outcome.UNREACHABLE, SFTP_REFUSED) == (
        "unreachable: Fatal: unable to open repository at sftp:bk@127.0.0.1:/r: unable to start "
        "the sftp session, error: EOF"
    )


def test_reason_without_a_fatal_line_takes_the_last_line():
    assert reason(Outcome.LOCKED, LOCKED) == (
        "locked: the `unlock` command can be used to remove stale locks"
    )


def test_reason_without_stderr_is_the_outcome():
    assert reason(Outcome.FAILED, "  \n") == "failed"


def test_reason_is_one_bounded_line():
    text = reason(Outcome.FAILED, "Fatal: " + "x" * 5000 + "\n")
    assert "\n" not in text and len(text) <= len("failed: ") + 300
