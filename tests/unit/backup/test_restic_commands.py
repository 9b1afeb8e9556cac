"""restic argv builders, flag helpers and version gates: argv is a tuple, compared by equality."""

from __future__ import annotations

import pathlib

import pytest

from backupctl.errors import BackupctlError
from backupctl.restic import commands, feature, flags
from backupctl.restic.flags import Repository, Restic
from tests.fixtures.requirements import skip_or_fail

CACHE = pathlib.Path("/var/lib/backupctl/restic-cache")
OLD = Restic("/usr/bin/restic", (0, 14, 0), CACHE)
NEW = Restic("/usr/local/bin/restic", (0, 17, 3), CACHE)
LOCAL = Repository("/mnt/nas/mail")
SFTP = Repository(
    "sftp:bk@host:/repos/mail", options=("-o", "sftp.command=ssh -F /x bk@host -s sftp")
)
GLOBAL_OLD = ("--repo", "/mnt/nas/mail", "--cache-dir", str(CACHE))


def test_repeated_gives_the_flag_once_per_value():
    assert flags.repeated("--tag", ("a", "b")) == ("--tag", "a", "--tag", "b")
    assert flags.repeated("--tag", ()) == ()


def test_global_flags_include_repository_options_last():
    assert flags.global_flags(OLD, SFTP) == (
        "--repo",
        "sftp:bk@host:/repos/mail",
        "--cache-dir",
        str(CACHE),
        "-o",
        "sftp.command=ssh -F /x bk@host -s sftp",
    )


def test_key_hint_goes_to_every_subcommand_with_the_global_flags():
    hinted = Repository("/mnt/nas/mail", key_hint="82666fc7" * 8)
    hint = ("--key-hint", "82666fc7" * 8)
    assert flags.global_flags(OLD, hinted) == (*GLOBAL_OLD, *hint)
    snapshot = "ab" * 32
    for argv in (
        commands.init_argv(OLD, hinted),
        commands.snapshots_argv(NEW, hinted),
        commands.backup_argv(NEW, hinted, paths=(pathlib.Path("/srv"),)),
        commands.ls_argv(NEW, hinted, snapshot),
        commands.restore_paths_argv(NEW, hinted, snapshot, pathlib.Path("/t")),
        commands.forget_argv(NEW, hinted, (snapshot,)),
        commands.prune_argv(NEW, hinted),
        commands.check_argv(NEW, hinted),
        commands.unlock_argv(NEW, hinted),
        commands.cat_config_argv(NEW, hinted),
    ):
        assert argv[2 : 2 + len(GLOBAL_OLD) + 2] == (*GLOBAL_OLD, *hint)
        assert "--" not in argv[:6]  # before any path: restic reads it as a flag
    assert "--key-hint" not in commands.snapshots_argv(NEW, LOCAL)


def test_repository_environment_is_not_in_its_repr():
    repository = Repository("s3:https://s3/b", environment={"AWS_SECRET_ACCESS_KEY": "s3cr3t"})
    assert "s3cr3t" not in repr(repository)


def test_version_argv():
    assert commands.version_argv("restic") == ("restic", "version")


def test_init_argv():
    assert commands.init_argv(OLD, LOCAL) == ("/usr/bin/restic", "init", *GLOBAL_OLD)


def test_unlock_argv():
    assert commands.unlock_argv(OLD, LOCAL) == ("/usr/bin/restic", "unlock", *GLOBAL_OLD)


def test_cat_config_argv_takes_no_lock():
    assert commands.cat_config_argv(OLD, LOCAL) == (
        "/usr/bin/restic",
        "cat",
        *GLOBAL_OLD,
        "config",
        "--no-lock",
    )


def test_backup_argv_on_old_restic_has_no_retry_lock():
    argv = commands.backup_argv(
        OLD,
        LOCAL,
        paths=(pathlib.Path("/var/mail"), pathlib.Path("/-odd")),
        excludes=("*.tmp", "cache/"),
        tags=("tenant:acme", "source:mail"),
        host="mx1",
    )
    assert argv == (
        "/usr/bin/restic",
        "backup",
        *GLOBAL_OLD,
        "--json",
        "--exclude",
        "*.tmp",
        "--exclude",
        "cache/",
        "--tag",
        "tenant:acme",
        "--tag",
        "source:mail",
        "--host",
        "mx1",
        "--",
        "/var/mail",
        "/-odd",
    )


def test_backup_argv_on_new_restic_retries_locks_before_the_paths():
    argv = commands.backup_argv(NEW, SFTP, paths=(pathlib.Path("/var/mail"),))
    assert argv == (
        "/usr/local/bin/restic",
        "backup",
        "--repo",
        "sftp:bk@host:/repos/mail",
        "--cache-dir",
        str(CACHE),
        "-o",
        "sftp.command=ssh -F /x bk@host -s sftp",
        "--json",
        "--retry-lock",
        "5m",
        "--",
        "/var/mail",
    )


def test_backup_argv_without_a_lock_wait_fails_at_once_when_locked():
    argv = commands.backup_argv(NEW, SFTP, paths=(pathlib.Path("/var/mail"),), lock_wait=None)
    assert "--retry-lock" not in argv
    assert argv[-2:] == ("--", "/var/mail")


@pytest.mark.parametrize(("version", "retries"), [
    ((0, 14, 0), False), ((0, 15, 2), False), ((0, 16, 0), True), ((0, 16, 4), True),
    ((0, 18, 0), True), ((1, 0, 0), True),
])  # fmt: skip
def test_lock_retry_only_from_0_16(version, retries):
    restic = Restic("restic", version, CACHE)
    assert commands.lock_retry(restic) == (("--retry-lock", "5m") if retries else ())
    assert ("--retry-lock" in commands.check_argv(restic, LOCAL)) is retries


def test_snapshots_argv_does_not_lock():
    assert commands.snapshots_argv(NEW, LOCAL) == (
        "/usr/local/bin/restic",
        "snapshots",
        *GLOBAL_OLD,
        "--json",
        "--no-lock",
    )


def test_check_argv_with_read_data_subset():
    assert commands.check_argv(OLD, LOCAL, read_data_subset="1/10") == (
        "/usr/bin/restic",
        "check",
        *GLOBAL_OLD,
        "--read-data-subset",
        "1/10",
    )
    assert commands.check_argv(NEW, LOCAL) == (
        "/usr/local/bin/restic",
        "check",
        *GLOBAL_OLD,
        "--retry-lock",
        "5m",
    )


def test_restore_argv():
    assert commands.restore_argv(OLD, LOCAL, "0c32cd58", pathlib.Path("/restore/t1")) == (
        "/usr/bin/restic",
        "restore",
        *GLOBAL_OLD,
        "0c32cd58",
        "--target",
        "/restore/t1",
    )


@pytest.mark.parametrize(("output", "version"), [
    ("restic 0.14.0 compiled with go1.19.8 on linux/amd64\n", (0, 14, 0)),
    ("restic 0.16.4 compiled with go1.21.6 on linux/amd64\n", (0, 16, 4)),
    ("restic 0.17.3 compiled with go1.23.3 on linux/amd64\n", (0, 17, 3)),
    ("restic 0.18.0 compiled with go1.24.1 on linux/arm64\n", (0, 18, 0)),
    ("restic 0.17.3-dev (compiled manually) compiled with go1.23.1 on linux/amd64\n", (0, 17, 3)),
])  # fmt: skip
def test_parse_version_of_real_outputs(output, version):
    assert feature.parse_version(output) == version


def test_parse_version_of_the_installed_restic():
    import shutil
    import subprocess

    binary = shutil.which("restic")
    if binary is None:
        skip_or_fail("restic is not installed")
    output = subprocess.run([binary, "version"], capture_output=True, text=True, check=True).stdout
    assert feature.parse_version(output) >= feature.OLDEST_SUPPORTED


@pytest.mark.parametrize(("output", "match"), [
    ("restic 0.13.1 compiled with go1.18 on linux/amd64", "0.13.1 is too old; 0.14.0 or newer"),
    ("restic 0.9.6 compiled with go1.13 on linux/amd64", "0.9.6 is too old"),
    ("", "cannot recognise"),
    ("bash: restic: command not found", "cannot recognise"),
    ("rustic 0.17.0", "cannot recognise"),
    ("restic version unknown", "cannot recognise"),
])  # fmt: skip
def test_parse_version_rejects_old_and_garbage(output, match):
    with pytest.raises(feature.UnsupportedResticError, match=match) as caught:
        feature.parse_version(output)
    assert isinstance(caught.value, BackupctlError)


def test_every_feature_has_a_minimum_version():
    assert set(feature.MINIMUM_VERSION) == set(feature.Feature)


@pytest.mark.parametrize(("feature_name", "below", "at"), [
    (feature.Feature.RETRY_LOCK, (0, 15, 9), (0, 16, 0)),
    (feature.Feature.EXIT_CODES_10_11_12, (0, 16, 9), (0, 17, 0)),
    (feature.Feature.NO_SCAN, (0, 14, 0), (0, 15, 0)),
    (feature.Feature.SKIP_IF_UNCHANGED, (0, 16, 4), (0, 17, 0)),
])  # fmt: skip
def test_feature_available_from_its_minimum(feature_name, below, at):
    assert not feature.available(feature_name, below)
    assert feature.available(feature_name, at)
