"""Escrow to the offline recovery key, and recovery of a lost or damaged keystore from it."""

from __future__ import annotations

import datetime
import io
import os
import pathlib
import stat

import pytest

from backupctl.actions import keys as actions
from backupctl.errors import RefusedError
from backupctl.keys import escrow, kdf, recovery_key, sealed, store_format
from backupctl.keys.errors import EscrowError, KeystoreMissing, KeystoreUnreadable, UnsafeFile
from backupctl.keys.secret import Secret
from backupctl.keys.store import Keystore
from tests.fixtures.requirements import skip_or_fail

MASTER = Secret("master-secret-for-escrow-tests")
ENTRIES = {
    "repo/web": "web-restic-password-VALUE",
    "location/s3/access_key_id": "AKIA-VALUE",
    "location/s3/secret_access_key": "s3-secret-VALUE",
}
PASSPHRASE = "offline-recovery-passphrase"


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch):
    monkeypatch.setattr(store_format, "DEFAULT_SCRYPT", kdf.ScryptParams(n=2**10, r=8, p=1))


@pytest.fixture
def setup(tmp_path):
    """A keystore with ENTRIES, a recovery key pair (passphrase-protected) and an escrow."""
    keystore_path = tmp_path / "keystore.bin"
    Keystore.create(keystore_path, MASTER, entries={k: Secret(v) for k, v in ENTRIES.items()})
    offline = tmp_path / "offline"
    offline.mkdir()
    pair = actions.generate_recovery_key(
        private_out=offline / "recovery.pem",
        public_out=tmp_path / "recovery.pub",
        passphrase=Secret(PASSPHRASE),
    )
    escrow_file = tmp_path / "escrow.bin"
    result = actions.write_escrow(
        keystore_path=keystore_path, master=MASTER, public_key_file=pair.public_key, out=escrow_file
    )
    assert result.entry_count == 3 and result.recipient == pair.fingerprint
    return keystore_path, pair, escrow_file


def _recover(
    keystore_path, pair, escrow_file, *, master=MASTER, force=False, passphrase=PASSPHRASE, now=None
):
    return actions.recover(
        keystore_path=keystore_path,
        master=master,
        escrow_file=escrow_file,
        private_key_file=pair.private_key,
        passphrase=lambda: Secret(passphrase),
        force=force,
        now=now,
    )


def _plain(path: pathlib.Path, master: Secret = MASTER) -> dict[str, str]:
    store = Keystore.open(path, master)
    return {name: store.get(name).reveal() for name in store.names()}


def test_escrow_lose_keystore_recover_gives_the_same_entries(setup):
    keystore_path, pair, escrow_file = setup
    keystore_path.unlink()
    with pytest.raises(KeystoreMissing):
        Keystore.open(keystore_path, MASTER)
    result = _recover(keystore_path, pair, escrow_file)
    assert result.entry_count == 3 and result.kept_previous is None
    assert _plain(keystore_path) == ENTRIES
    assert keystore_path.stat().st_mode & 0o777 == 0o600


def test_recover_under_a_new_master_secret_when_the_old_one_is_lost_too(setup):
    keystore_path, pair, escrow_file = setup
    keystore_path.unlink()
    new_master = Secret("a-brand-new-master")
    _recover(keystore_path, pair, escrow_file, master=new_master)
    assert _plain(keystore_path, new_master) == ENTRIES
    with pytest.raises(KeystoreUnreadable):
        Keystore.open(keystore_path, MASTER)


def test_files_are_private_and_hold_no_plaintext(setup):
    _, pair, escrow_file = setup
    assert pair.private_key.stat().st_mode & 0o777 == 0o600
    assert escrow_file.stat().st_mode & 0o777 == 0o600
    data = escrow_file.read_bytes()
    for value in [*ENTRIES.values(), MASTER.reveal()]:
        assert value.encode() not in data
    assert pair.private_key.read_bytes().startswith(recovery_key.ARMOUR_BEGIN)
    header = sealed.parse(io.BytesIO(data), magic=sealed.ESCROW_MAGIC).header
    assert header["recipient"] == pair.fingerprint and header["entry_count"] == 3


def test_wrong_private_key_fails_clearly_and_touches_nothing(setup, tmp_path):
    keystore_path, _, escrow_file = setup
    keystore_path.unlink()
    other = actions.generate_recovery_key(
        private_out=tmp_path / "other.pem", public_out=tmp_path / "other.pub", passphrase=None
    )
    with pytest.raises(EscrowError) as caught:
        _recover(keystore_path, other, escrow_file)
    assert "wrong recovery private key" in str(caught.value) and str(escrow_file) in str(
        caught.value
    )
    assert not keystore_path.exists()


def test_wrong_passphrase_fails_clearly(setup):
    keystore_path, pair, escrow_file = setup
    keystore_path.unlink()
    with pytest.raises(EscrowError, match="wrong passphrase") as caught:
        _recover(keystore_path, pair, escrow_file, passphrase="not-it")
    assert "not-it" not in str(caught.value)
    assert not keystore_path.exists()


def test_passphrase_is_asked_only_for_an_encrypted_key(tmp_path):
    pair = actions.generate_recovery_key(
        private_out=tmp_path / "p.pem", public_out=tmp_path / "p.pub", passphrase=None
    )

    def never():
        raise AssertionError("asked for a passphrase")

    key = recovery_key.load_private_key(
        pair.private_key.read_bytes(), where="p.pem", passphrase=never
    )
    assert recovery_key.fingerprint(key.public_key()) == pair.fingerprint


@pytest.mark.parametrize("where", ["header", "ciphertext", "tag"])
def test_damaged_escrow_fails_clearly(setup, where):
    keystore_path, pair, escrow_file = setup
    data = escrow_file.read_bytes()
    container = sealed.parse(io.BytesIO(data), magic=sealed.ESCROW_MAGIC)
    if where == "header":  # a well-formed header with a changed, authenticated field
        header = dict(container.header, entry_count=99)
        data = sealed.seal(
            magic=sealed.ESCROW_MAGIC, header=header, encrypt=lambda _: container.ciphertext
        )
    else:
        position = len(container.associated_data) + 2 if where == "ciphertext" else len(data) - 1
        data = data[:position] + bytes([data[position] ^ 0x80]) + data[position + 1 :]
    escrow_file.write_bytes(data)
    keystore_path.unlink()
    with pytest.raises(EscrowError, match="damaged"):
        _recover(keystore_path, pair, escrow_file)
    assert not keystore_path.exists()


def test_a_keystore_is_not_an_escrow(setup):
    keystore_path, pair, _ = setup
    with pytest.raises(EscrowError, match="is not a backupctl escrow file"):
        _recover(keystore_path.parent / "new.bin", pair, keystore_path)


def test_readable_keystore_is_replaced_only_with_force_and_kept(setup):
    keystore_path, pair, escrow_file = setup
    store = Keystore.open(keystore_path, MASTER)
    store.set("repo/web", Secret("changed-after-escrow"))
    store.save()
    before = keystore_path.read_bytes()
    with pytest.raises(RefusedError, match="opens with the current master secret"):
        _recover(keystore_path, pair, escrow_file)
    assert keystore_path.read_bytes() == before
    result = _recover(keystore_path, pair, escrow_file, force=True)
    assert ".replaced-" in result.kept_previous.name and result.kept_previous.read_bytes() == before
    assert _plain(keystore_path) == ENTRIES


def test_damaged_keystore_is_moved_aside_only_with_force(setup):
    keystore_path, pair, escrow_file = setup
    damaged = keystore_path.read_bytes()[:-3]
    keystore_path.write_bytes(damaged)
    with pytest.raises(RefusedError, match="cannot be opened") as caught:
        _recover(keystore_path, pair, escrow_file)
    assert "--force" in str(caught.value)
    assert keystore_path.read_bytes() == damaged
    now = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    result = _recover(keystore_path, pair, escrow_file, force=True, now=now)
    assert result.kept_previous.name == "keystore.bin.damaged-20250102T030405Z"
    assert result.kept_previous.read_bytes() == damaged
    assert _plain(keystore_path) == ENTRIES
    keystore_path.write_bytes(b"garbage")
    second = _recover(keystore_path, pair, escrow_file, force=True, now=now)  # same second
    assert second.kept_previous.name == "keystore.bin.damaged-20250102T030405Z-1"
    assert second.kept_previous.read_bytes() == b"garbage"
    assert result.kept_previous.read_bytes() == damaged


def test_escrow_refuses_to_replace_its_output_without_force(setup):
    keystore_path, pair, escrow_file = setup
    before = escrow_file.read_bytes()
    with pytest.raises(RefusedError, match="already exists"):
        actions.write_escrow(
            keystore_path=keystore_path,
            master=MASTER,
            public_key_file=pair.public_key,
            out=escrow_file,
        )
    assert escrow_file.read_bytes() == before
    actions.write_escrow(
        keystore_path=keystore_path,
        master=MASTER,
        public_key_file=pair.public_key,
        out=escrow_file,
        force=True,
    )
    assert escrow_file.read_bytes() != before


def test_recovery_keygen_refuses_existing_files(setup):
    _, pair, _ = setup
    before = pair.private_key.read_bytes()
    with pytest.raises(RefusedError):
        actions.generate_recovery_key(
            private_out=pair.private_key, public_out=pair.public_key, passphrase=None
        )
    assert pair.private_key.read_bytes() == before


def test_private_key_is_not_a_public_key(setup):
    keystore_path, pair, _ = setup
    with pytest.raises(EscrowError, match="not a PEM public key"):
        actions.write_escrow(
            keystore_path=keystore_path,
            master=MASTER,
            public_key_file=pair.private_key,
            out=keystore_path.parent / "e2.bin",
        )


def _make_unsafe(path: pathlib.Path, kind: str, *, limit: int) -> None:
    if path.exists() or path.is_symlink():
        path.unlink()
    if kind == "symlink to /dev/zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path, 0o600)
    else:
        with open(path, "wb") as stream:
            stream.truncate(limit + 1)


@pytest.mark.timeout(30)  # an unbounded read of /dev/zero or a FIFO open would never return
@pytest.mark.parametrize("which", ["escrow", "recovery key"])
@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("symlink to /dev/zero", "is a symbolic link"),
        ("fifo", "is a FIFO"),
        ("oversized", "is larger than"),
    ],
)
def test_escrow_and_recovery_key_reads_are_bounded(setup, which, kind, message):
    keystore_path, pair, escrow_file = setup
    keystore_path.unlink()
    if which == "escrow":
        _make_unsafe(escrow_file, kind, limit=escrow.MAX_ESCROW_BYTES)
    else:
        _make_unsafe(pair.private_key, kind, limit=recovery_key.MAX_KEY_FILE_BYTES)
    with pytest.raises(UnsafeFile, match=message) as caught:
        _recover(keystore_path, pair, escrow_file)
    assert caught.value.exit_code == 4
    assert not keystore_path.exists()


def _fifo(path: pathlib.Path) -> None:
    os.mkfifo(path, 0o600)


def _symlink_to_a_file(path: pathlib.Path) -> None:
    target = path.with_name("target")
    target.write_bytes(b"target content")
    path.symlink_to(target)


def _device_node(path: pathlib.Path) -> None:
    if os.geteuid() != 0:
        skip_or_fail("mknod of a device node needs root")
    os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # the numbers of /dev/null


@pytest.mark.parametrize("make", [_fifo, _symlink_to_a_file, _device_node])
def test_escrow_with_force_never_replaces_a_non_regular_file(setup, tmp_path, make):
    """`keys escrow --out /dev/null --force` once replaced the device node with a regular file."""
    keystore_path, pair, _ = setup
    out = tmp_path / "special" / "out"
    out.parent.mkdir()
    make(out)
    before = os.lstat(out)
    with pytest.raises(UnsafeFile, match="refusing to replace it") as caught:
        actions.write_escrow(
            keystore_path=keystore_path,
            master=MASTER,
            public_key_file=pair.public_key,
            out=out,
            force=True,
        )
    assert caught.value.exit_code == 4
    after = os.lstat(out)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (
        before.st_mode,
        before.st_ino,
        before.st_rdev,
    )
    assert sorted(p.name for p in out.parent.iterdir()) in (["out"], ["out", "target"])


def test_intact_keystore_of_another_master_secret_is_told_and_kept_as_such(setup):
    keystore_path, pair, escrow_file = setup
    new_master = Secret("a-new-master-after-a-mistake")
    before = keystore_path.read_bytes()
    with pytest.raises(RefusedError, match="intact but sealed with another master secret"):
        _recover(keystore_path, pair, escrow_file, master=new_master)
    result = _recover(keystore_path, pair, escrow_file, master=new_master, force=True)
    assert ".other-secret-" in result.kept_previous.name
    assert result.kept_previous.read_bytes() == before
    assert _plain(keystore_path, new_master) == ENTRIES
