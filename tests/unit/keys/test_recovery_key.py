"""The recovery private key: Argon2id behind a minimum passphrase strength; old files still open."""

from __future__ import annotations

import base64
import io
import logging
import pathlib

import pytest

from backupctl.actions import keys as actions
from backupctl.keys import escrow, recovery_key, sealed
from backupctl.keys.errors import EscrowError, WeakPassphrase
from backupctl.keys.secret import Secret

V1_DATA = pathlib.Path(__file__).parent / "data_v1"
STRONG = "offline recovery passphrase, two safes"


@pytest.mark.parametrize(
    ("passphrase", "reason"),
    [
        ("x7", "too short"),
        ("Tr0ub4dor&3", "too short"),  # 11 characters
        ("abababababababab", "repeats too few characters"),
        ("abcdefghijkl", "too guessable"),  # 12 lower-case letters: 56 bits
        ("qwertyuiopas", "too guessable"),  # 12 different lower-case letters
    ],
)
def test_weak_passphrase_is_refused_clearly_and_nothing_is_written(tmp_path, passphrase, reason):
    with pytest.raises(WeakPassphrase, match=reason) as caught:
        actions.generate_recovery_key(
            private_out=tmp_path / "r.pem",
            public_out=tmp_path / "r.pub",
            passphrase=Secret(passphrase),
        )
    assert "at least 12 characters" in str(caught.value) and passphrase not in str(caught.value)
    assert caught.value.exit_code == 4
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "passphrase",
    ["correct horse battery staple", "abcdefghijklmn", "Gx7#kq2!Lm9z", STRONG],
)
def test_passphrases_meeting_the_rule_are_accepted(passphrase):
    recovery_key.check_passphrase_strength(Secret(passphrase))


def test_new_private_key_is_sealed_with_argon2id_and_opens_with_its_passphrase(tmp_path):
    pair = actions.generate_recovery_key(
        private_out=tmp_path / "r.pem", public_out=tmp_path / "r.pub", passphrase=Secret(STRONG)
    )
    data = pair.private_key.read_bytes()
    assert data.startswith(recovery_key.ARMOUR_BEGIN) and b"PRIVATE KEY" not in data
    body = base64.b64decode(b"".join(data.strip().splitlines()[1:-1]))
    header = sealed.parse(io.BytesIO(body), magic=sealed.RECOVERY_KEY_MAGIC).header
    assert header["kdf"]["id"] == "argon2id"
    assert (header["kdf"]["iterations"], header["kdf"]["lanes"], header["kdf"]["memory_kib"]) == (
        3,
        4,
        65536,
    )
    assert header["public"] == pair.fingerprint
    key = recovery_key.load_private_key(data, where="r.pem", passphrase=lambda: Secret(STRONG))
    assert recovery_key.fingerprint(key.public_key()) == pair.fingerprint
    with pytest.raises(EscrowError, match="wrong passphrase"):
        recovery_key.load_private_key(data, where="r.pem", passphrase=lambda: Secret(STRONG + "x"))


def test_damaged_new_private_key_is_told_as_damaged_not_wrong_passphrase(tmp_path):
    pair = actions.generate_recovery_key(
        private_out=tmp_path / "r.pem", public_out=tmp_path / "r.pub", passphrase=Secret(STRONG)
    )
    lines = pair.private_key.read_bytes().splitlines()
    body = bytearray(base64.b64decode(b"".join(lines[1:-1])))
    body[-40] ^= 0x01  # inside the ciphertext
    damaged = b"\n".join([lines[0], base64.b64encode(bytes(body)), lines[-1]])
    with pytest.raises(EscrowError, match="is damaged"):
        recovery_key.load_private_key(damaged, where="r.pem", passphrase=lambda: Secret(STRONG))


def test_format_1_recovery_key_and_escrow_still_open(caplog):
    """A PKCS#8 key (PBKDF2, 2048 iterations) and an escrow written by the previous backupctl."""
    with caplog.at_level(logging.WARNING):
        key = recovery_key.load_private_key(
            (V1_DATA / "recovery-v1.pem").read_bytes(),
            where="recovery-v1.pem",
            passphrase=lambda: Secret("old recovery passphrase"),
        )
    assert "old protection" in caplog.text
    entries = escrow.open_entries(
        io.BytesIO((V1_DATA / "escrow-v1.bin").read_bytes()), key, where="escrow-v1.bin"
    )
    assert {name: value.reveal() for name, value in entries.items()} == {
        "repo/web": "web-password-v1",
        "location/s3/secret_access_key": "s3-secret-v1",
    }
    with pytest.raises(EscrowError, match="wrong passphrase"):
        recovery_key.load_private_key(
            (V1_DATA / "recovery-v1.pem").read_bytes(),
            where="recovery-v1.pem",
            passphrase=lambda: Secret("not it"),
        )


def test_forged_argon2_cost_is_refused_before_deriving(tmp_path):
    pair = actions.generate_recovery_key(
        private_out=tmp_path / "r.pem", public_out=tmp_path / "r.pub", passphrase=Secret(STRONG)
    )
    private_key = recovery_key.load_private_key(
        pair.private_key.read_bytes(), where="r.pem", passphrase=lambda: Secret(STRONG)
    )
    huge = recovery_key.Argon2Params(iterations=3, lanes=4, memory_kib=64 * 1024 * 1024)
    forged = recovery_key._seal_private(private_key, Secret(STRONG), recovery_key.DEFAULT_ARGON2)
    lines = forged.splitlines()
    container = sealed.parse(
        io.BytesIO(base64.b64decode(b"".join(lines[1:-1]))), magic=sealed.RECOVERY_KEY_MAGIC
    )
    header = dict(container.header, kdf=dict(container.header["kdf"], memory_kib=huge.memory_kib))
    resealed = sealed.seal(
        magic=sealed.RECOVERY_KEY_MAGIC, header=header, encrypt=lambda _: container.ciphertext
    )
    data = b"\n".join([lines[0], base64.b64encode(resealed), lines[-1]])
    with pytest.raises(EscrowError, match="parameters out of range"):
        recovery_key.load_private_key(data, where="r.pem", passphrase=lambda: Secret(STRONG))
