"""Pure rules shared by every location kind: which paths are repository files, which paths are
refused, how the ssh command for restic is written, which S3 addressing style is used."""

from __future__ import annotations

import pathlib
import shlex

import pytest

from targets import errors, registry, s3_client, sftp, specs, ssh_command, store

HASH = "ab" + "0" * 62


@pytest.mark.parametrize(
    ("path", "kept"),
    [
        ("config", True),
        (f"keys/{HASH}", True),
        (f"index/{HASH}", True),
        (f"snapshots/{HASH}", True),
        (f"data/ab/{HASH}", True),
        (f"data/cd/{HASH}", False),
        (f"data/{HASH}", False),
        (f"locks/{HASH}", False),
        ("keys/short", False),
        (f"keys/{HASH}-tmp-123", False),
        (f"keys/.{HASH}.tmp-1", False),
        (f"index/{HASH.upper()}", False),
        ("config.bak", False),
    ],
)
def test_is_repository_file(path, kept):
    assert store.is_repository_file(path) is kept


@pytest.mark.parametrize(
    "bad", ["", "/abs", "a//b", "../x", "a/./b", "a\\b", "x\0", "data/.f.tmp-abc"]
)
def test_check_relative_path_refuses(bad):
    with pytest.raises(errors.InvalidPath, match="loc"):
        store.check_relative_path("loc", bad)


def test_open_store_refuses_unknown_spec():
    with pytest.raises(errors.TargetError, match="unknown location spec type"):
        registry.open_store(object())


def test_sftp_restic_options_split_back_to_the_ssh_argv():
    spec = specs.SftpSpec(
        name="n",
        host="192.0.2.1",
        port=2222,
        user="backup",
        path="/srv/b/src1",
        identity_file=pathlib.Path("/etc/backupctl/id key"),
        known_hosts=pathlib.Path("/etc/backupctl/known_hosts"),
    )
    opened = registry.open_store(spec)
    assert opened.restic_repository() == "sftp:backup@192.0.2.1:/srv/b/src1"
    flag, value = opened.restic_options()
    assert flag == "-o" and value.startswith("sftp.command=ssh ")
    argv = shlex.split(value.removeprefix("sftp.command="))
    assert argv[:6] == ["ssh", "-F", "none", "-i", "/etc/backupctl/id key", "-p"]
    assert "StrictHostKeyChecking=yes" in argv and "BatchMode=yes" in argv
    assert argv[-3:] == ["backup@192.0.2.1", "-s", "sftp"]
    assert opened.restic_environment() == {}


@pytest.mark.parametrize("bad", ['a"b', "a'b", "a\\b", ""])
def test_quote_for_restic_refuses_ambiguous_arguments(bad):
    with pytest.raises(errors.TargetError, match="loc"):
        ssh_command.quote_for_restic("loc", bad)


def test_sftp_spec_needs_an_absolute_path():
    with pytest.raises(errors.TargetError, match="not absolute"):
        sftp.SftpStore(
            specs.SftpSpec(
                name="n",
                host="h",
                port=22,
                user="u",
                path="rel",
                identity_file=pathlib.Path("k"),
                known_hosts=pathlib.Path("kh"),
            )
        )


@pytest.mark.parametrize(
    ("endpoint", "style"),
    [
        ("http://127.0.0.1:9000", "path"),
        ("http://localhost:9000", "path"),
        ("http://[::1]:9000", "path"),
        ("https://s3.eu-central-1.amazonaws.com", "virtual"),
        ("https://fsn1.your-objectstorage.com", "virtual"),
    ],
)
def test_addressing_style(endpoint, style):
    assert s3_client.addressing_style(endpoint) == style


def test_s3_secrets_only_in_environment():
    spec = specs.S3Spec(
        name="n",
        endpoint="https://s3.eu-central-1.amazonaws.com",
        bucket="bk",
        prefix="/p/src1/",
        region="eu-central-1",
        access_key_id="AKIAEXAMPLE",
        secret_access_key="SECRETVALUE",
    )
    opened = registry.open_store(spec)
    assert opened.restic_repository() == "s3:https://s3.eu-central-1.amazonaws.com/bk/p/src1"
    assert "SECRETVALUE" not in " ".join(opened.restic_options()) + repr(spec)
    assert opened.restic_environment()["AWS_SECRET_ACCESS_KEY"] == "SECRETVALUE"
    assert opened.restic_environment()["AWS_DEFAULT_REGION"] == "eu-central-1"


@pytest.mark.parametrize(
    ("name", "ours"),
    [
        pytest.param(store.temporary_name("config"), True, id="made-for-config"),
        pytest.param(store.temporary_name(HASH), True, id="made-for-a-pack"),
        (f".{HASH}.tmp-0123456789abcdef", True),
        (f".{HASH}.tmp-0123456789ABCDEF", False),
        (f".{HASH}.tmp-0123456789abcde", False),
        (f".{HASH}.tmp-0123456789abcdef0", False),
        (f"{HASH}.tmp-0123456789abcdef", False),
        (".notes.tmp-0123456789abcdef", False),
        (HASH, False),
        ("config", False),
    ],
)
def test_is_temporary_name_matches_only_what_temporary_name_makes(name, ours):
    assert store.is_temporary_name(name) is ours


def test_temporary_names_are_random_and_refused_as_repository_paths():
    first, second = store.temporary_name(HASH), store.temporary_name(HASH)
    assert first != second
    with pytest.raises(errors.InvalidPath):
        store.check_relative_path("loc", f"data/ab/{first}")


@pytest.mark.parametrize(("size", "limit"), [(10, 10), (0, 0), (10**12, None)])
def test_check_size_allows_up_to_the_limit(size, limit):
    store.check_size("loc", "config", size, limit)


def test_check_size_refuses_past_the_limit():
    with pytest.raises(errors.TargetError, match="loc: config is 11 bytes, more than the 10"):
        store.check_size("loc", "config", 11, 10)
