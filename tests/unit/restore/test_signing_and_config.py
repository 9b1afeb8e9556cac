"""Signing key files and the [access.restore] table."""

from __future__ import annotations

import pytest

from backupctl.config_restore import parse_restore
from backupctl.keys import signing
from backupctl.keys.errors import WeakPassphrase
from backupctl.keys.recovery_key import Argon2Params
from backupctl.keys.secret import Secret

CHEAP = Argon2Params(iterations=1, lanes=1, memory_kib=8 * 1024)
GOOD = Secret("correct horse battery staple 7")


def test_key_file_opens_with_its_passphrase_only():
    data, public = signing.generate("alice", GOOD, params=CHEAP)
    assert b"BEGIN BACKUPCTL SIGNING KEY" in data
    key = signing.open_private(data, GOOD, where="k")
    assert signing.fingerprint(signing.public_of(key)) == public.fingerprint
    with pytest.raises(signing.SigningKeyError, match="wrong passphrase"):
        signing.open_private(data, Secret("another long passphrase 8"), where="k")


def test_private_key_never_appears_in_the_file_in_clear():
    data, _ = signing.generate("alice", GOOD, params=CHEAP)
    key = signing.open_private(data, GOOD, where="k")
    from cryptography.hazmat.primitives import serialization

    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    import base64

    assert raw not in data and base64.b64encode(raw) not in data


def test_a_damaged_key_file_is_told_apart_from_a_wrong_passphrase():
    data, _ = signing.generate("alice", GOOD, params=CHEAP)
    lines = data.splitlines()
    lines[2] = bytes(reversed(lines[2]))
    with pytest.raises(signing.SigningKeyError, match="damaged"):
        signing.open_private(b"\n".join(lines), GOOD, where="k")
    with pytest.raises(signing.SigningKeyError, match="not a backupctl signing key"):
        signing.open_private(b"hello", GOOD, where="k")


def test_weak_passphrase_is_refused():
    with pytest.raises(WeakPassphrase):
        signing.generate("alice", Secret("short"), params=CHEAP)


def test_public_line_round_trips_and_rejects_garbage():
    _, public = signing.generate("alice", GOOD, params=CHEAP)
    assert signing.parse_public(public.line(), where="p") == public
    for text in ("", "ssh-ed25519 AAAA alice", "backupctl-ed25519 !!! alice"):
        with pytest.raises(signing.SigningKeyError):
            signing.parse_public(text, where="p")


def test_restore_table_defaults_and_highest_count_wins():
    errors: list[str] = []
    settings = parse_restore(
        {
            "root": "/srv/r",
            "approvals": 1,
            "tenant_approvals": {"acme": 2},
            "source_approvals": {"db1": 3},
        },
        errors,
    )
    assert errors == []
    assert settings.approvals_for(tenant="acme", source="web") == 2
    assert settings.approvals_for(tenant="acme", source="db1") == 3
    assert settings.approvals_for(tenant="other", source="web") == 1


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"root": "relative"}, "absolute"),
        ({"approvals": 0}, "1 to 9"),
        ({"approval_hours": -1}, "above 0"),
        ({"tenant_approvals": {"a b": 2}}, "must be"),
        ({"colour": "blue"}, "unknown key"),
    ],
)
def test_restore_table_problems_are_named(table, problem):
    errors: list[str] = []
    parse_restore(table, errors)
    assert any(problem in error for error in errors)


def test_a_restore_table_alone_keeps_single_operator_mode():
    from backupctl.config_access import parse_access

    errors: list[str] = []
    assert parse_access({"restore": {"approvals": 2}}, errors).single_operator
    assert not parse_access({"restore": {}, "staff": {}}, errors).single_operator
    assert errors == []
