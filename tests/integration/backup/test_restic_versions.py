"""backupctl's version gates and exit-code table against each real restic (0.14 and 0.18).

restic >= 0.17 tells a missing repository, a lock and a wrong password apart by exit code (10, 11,
12); 0.14 says 1 and the cause is read from stderr. Either way backupctl must reach the same
outcome, and pass --retry-lock only to a restic that knows it.
"""

from __future__ import annotations

import pathlib
import subprocess
import time

import pytest

from backupctl.keys.secret import Secret
from backupctl.restic import commands, execute, feature, flags, operations
from backupctl.restic.exitcodes import Outcome

PASSWORD = Secret("correct horse battery staple")


@pytest.fixture
def restic(restic_binary, tmp_path) -> flags.Restic:
    return operations.detect(restic_binary, tmp_path / "cache")


@pytest.fixture
def repository(restic, tmp_path) -> flags.Repository:
    repository = flags.Repository(url=str(tmp_path / "repo"))
    result = execute.run(commands.init_argv(restic, repository), password=PASSWORD, timeout=120)
    assert result.outcome is Outcome.OK, result.stderr
    return repository


def test_detected_version_opens_the_gates_it_should(restic, restic_binary):
    if ".cache/restic-trixie" in restic_binary:
        assert restic.version >= (0, 18, 0)
    newer = restic.version >= (0, 17, 0)
    assert feature.available(feature.Feature.EXIT_CODES_10_11_12, restic.version) is newer
    assert bool(commands.lock_retry(restic)) is (restic.version >= (0, 16, 0))


def test_missing_repository_is_no_repository(restic, tmp_path):
    missing = flags.Repository(url=str(tmp_path / "not-there"))
    result = execute.run(commands.snapshots_argv(restic, missing), password=PASSWORD, timeout=120)
    assert result.outcome is Outcome.NO_REPOSITORY, (result.returncode, result.stderr)


def test_wrong_password_is_wrong_password(restic, repository):
    result = execute.run(
        commands.snapshots_argv(restic, repository),
        password=Secret("not the password"),
        timeout=120,
    )
    assert result.outcome is Outcome.WRONG_PASSWORD, (result.returncode, result.stderr)


def test_locked_repository_is_locked_and_retry_lock_is_accepted(restic, repository, tmp_path):
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD.reveal())
    holder = subprocess.Popen(  # a backup waiting on stdin holds a lock on the repository
        (
            restic.binary,
            "-r",
            repository.url,
            "--password-file",
            str(password_file),
            "--no-cache",
            "backup",
            "--stdin",
            "--quiet",
        ),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        locks = pathlib.Path(repository.url) / "locks"
        deadline = time.monotonic() + 30
        while not any(locks.iterdir()):
            assert holder.poll() is None and time.monotonic() < deadline, "no lock appeared"
            time.sleep(0.05)
        argv = flags.command(restic, repository, "prune", *commands.lock_retry(restic, "1s"))
        result = execute.run(argv, password=PASSWORD, timeout=120)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert result.outcome is Outcome.LOCKED, (result.returncode, result.stderr)
    if feature.available(feature.Feature.RETRY_LOCK, restic.version):
        assert "--retry-lock" in argv and result.returncode == 11
