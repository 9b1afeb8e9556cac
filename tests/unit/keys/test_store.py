"""The keystore: round trip, refusals that leave the file byte for byte, atomic private saves."""

from __future__ import annotations

import base64
import io
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backupctl.keys import kdf, sealed, securefile, store_format
from backupctl.keys import store as keystore
from backupctl.keys.errors import (
    AlreadyExists,
    KeysError,
    KeystoreDamaged,
    KeystoreMissing,
    KeystoreUnreadable,
    UnsafeFile,
    WrongMasterSecret,
)
from backupctl.keys.secret import Secret
from backupctl.keys.store import Keystore

MASTER = Secret("master-secret-for-tests")
RANDOM_MASTER = Secret(base64.b64encode(os.urandom(32)).decode("ascii"))
V1_DATA = pathlib.Path(__file__).parent / "data_v1"
V1_RANDOM_MASTER = Secret("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
V1_PASSPHRASE_MASTER = Secret("an old passphrase master secret")
V1_ENTRIES = {"repo/web": "web-password-v1", "location/s3/secret_access_key": "s3-secret-v1"}
VALUE = "restic-password-VALUE-1234"


class _AnySalt:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and len(base64.b64decode(other)) == 16


ANY_SALT = _AnySalt()
FAST_KDF = kdf.ScryptParams(n=2**10, r=8, p=1)


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch):
    """scrypt at its default cost takes 0.15 s; tests that do not check the cost use less."""
    monkeypatch.setattr(store_format, "DEFAULT_SCRYPT", FAST_KDF)


@pytest.fixture
def store_path(tmp_path) -> pathlib.Path:
    path = tmp_path / "keystore.bin"
    store = Keystore.create(path, MASTER)
    store.set("repo/web", Secret(VALUE))
    store.set("location/s3/secret_access_key", Secret("s3-secret-VALUE"))
    store.save()
    return path


def test_round_trip(store_path):
    store = Keystore.open(store_path, MASTER)
    assert store.names() == ["location/s3/secret_access_key", "repo/web"]
    assert store.get("repo/web") == Secret(VALUE)
    assert store.get("location/s3/secret_access_key").reveal() == "s3-secret-VALUE"


def test_plaintext_never_in_file_repr_or_errors(store_path):
    data = store_path.read_bytes()
    assert VALUE.encode() not in data and b"repo/web" not in data
    store = Keystore.open(store_path, MASTER)
    assert VALUE not in repr(store)
    with pytest.raises(KeysError) as caught:
        store.get("repo/missing")
    assert "repo/missing" in str(caught.value) and VALUE not in str(caught.value)


def test_create_refuses_an_existing_file(store_path):
    before = store_path.read_bytes()
    with pytest.raises(AlreadyExists, match="already exists") as caught:
        Keystore.create(store_path, MASTER)
    assert caught.value.exit_code == 4
    assert store_path.read_bytes() == before


def test_missing_keystore_tells_how_to_create_it(tmp_path):
    path = tmp_path / "none.bin"
    with pytest.raises(KeystoreMissing) as caught:
        Keystore.open(path, MASTER)
    message = str(caught.value)
    assert str(path) in message and "backupctl keys init" in message
    assert message.index("backupctl keys recover") < message.index("backupctl keys init")
    assert "backupctl init" not in message  # init on a lost keystore makes unusable passwords
    assert not path.exists()


def test_open_or_create(tmp_path):
    path = tmp_path / "ks.bin"
    Keystore.open_or_create(path, MASTER).ensure_random("repo/a")
    assert Keystore.open_or_create(path, MASTER).names() == ["repo/a"]


def test_wrong_master_secret_is_told_and_file_untouched(store_path):
    before = store_path.read_bytes()
    with pytest.raises(WrongMasterSecret) as caught:
        Keystore.open(store_path, Secret("not-the-master"))
    message = str(caught.value)
    assert "is intact, but the master secret is wrong" in message and str(store_path) in message
    assert "damaged" not in message
    assert store_path.read_bytes() == before


def test_not_a_keystore_is_told_apart(tmp_path):
    path = tmp_path / "other.bin"
    path.write_bytes(b"[backupctl]\nthis is a config file\n")
    with pytest.raises(KeystoreUnreadable, match="is not a backupctl keystore"):
        Keystore.open(path, MASTER)
    assert path.read_bytes() == b"[backupctl]\nthis is a config file\n"


def _flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


@pytest.mark.parametrize("where", ["magic", "version", "header", "ciphertext", "tag"])
def test_bit_flip_anywhere_is_refused_and_never_overwritten(store_path, where):
    data = store_path.read_bytes()
    container = sealed.parse(io.BytesIO(data), magic=sealed.KEYSTORE_MAGIC)
    position = {
        "magic": 0,
        "version": 8,
        "header": len(container.associated_data) - 2,
        "ciphertext": len(container.associated_data) + 1,
        "tag": len(data) - 1,
    }[where]
    damaged = _flip(data, position)
    store_path.write_bytes(damaged)
    with pytest.raises(KeystoreUnreadable) as caught:
        Keystore.open(store_path, MASTER)
    assert str(store_path) in str(caught.value)
    expected = "not a backupctl keystore" if where == "magic" else "is damaged"
    assert expected in str(caught.value) and "untouched" in str(caught.value)
    assert "master secret is wrong" not in str(caught.value)
    assert store_path.read_bytes() == damaged


@pytest.mark.parametrize("keep", [0, 4, 8, 12, 40, -17, -1])
def test_truncated_file_is_refused_and_never_overwritten(store_path, keep):
    data = store_path.read_bytes()
    truncated = data[:keep]
    store_path.write_bytes(truncated)
    with pytest.raises(KeystoreUnreadable) as caught:
        Keystore.open(store_path, MASTER)
    assert "master secret is wrong" not in str(caught.value)
    assert store_path.read_bytes() == truncated


def test_authenticated_header_change_is_refused(store_path):
    """A well-formed header with one added field, which changes neither key nor nonce, no longer
    authenticates: the header is associated data."""
    container = sealed.parse(io.BytesIO(store_path.read_bytes()), magic=sealed.KEYSTORE_MAGIC)
    header = dict(container.header, note="added by an attacker")
    store_path.write_bytes(
        sealed.seal(
            magic=sealed.KEYSTORE_MAGIC, header=header, encrypt=lambda _: container.ciphertext
        )
    )
    with pytest.raises(KeystoreDamaged, match="checksum and key check match, but authentication"):
        Keystore.open(store_path, MASTER)


def test_failed_save_leaves_a_damaged_file_untouched(store_path):
    store = Keystore.open(store_path, MASTER)
    damaged = _flip(store_path.read_bytes(), len(store_path.read_bytes()) - 5)
    store_path.write_bytes(damaged)  # someone damages it while we hold it open
    store.set("repo/new", Secret("x"))
    with pytest.raises(KeystoreUnreadable):
        store.save()
    with pytest.raises(KeystoreUnreadable):
        store.ensure_random("repo/other")
    assert store_path.read_bytes() == damaged


def test_saved_file_is_mode_0600_whatever_the_umask_and_old_mode(store_path):
    os.chmod(store_path, 0o644)
    store = Keystore.open(store_path, MASTER)
    old_umask = os.umask(0)
    try:
        store.set("repo/x", Secret("y"))
        store.save()
    finally:
        os.umask(old_umask)
    assert store_path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in store_path.parent.iterdir()) == [
        "keystore.bin",
        "keystore.bin.lock",
    ]


def test_failed_rename_keeps_the_old_file_and_no_temp(store_path, monkeypatch):
    before = store_path.read_bytes()
    store = Keystore.open(store_path, MASTER)
    store.set("repo/web", Secret("changed"))

    def crash(source, destination):
        raise OSError(5, "simulated I/O error")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeysError, match="could not be saved"):
        store.save()
    assert store_path.read_bytes() == before
    assert not [p for p in store_path.parent.iterdir() if ".tmp-" in p.name]


def test_crash_between_temp_write_and_rename_keeps_the_old_keystore(store_path):
    """A real process dies (os._exit) right after the temp file is written, before the rename."""
    before = store_path.read_bytes()
    program = f"""
import os, pathlib
from backupctl.keys import store as keystore
from backupctl.keys.secret import Secret
store = keystore.Keystore.open(pathlib.Path({str(store_path)!r}), Secret({MASTER.reveal()!r}))
store.set("repo/web", Secret("changed"))
os.replace = lambda source, destination: os._exit(9)
store.save()
"""
    completed = subprocess.run([sys.executable, "-c", program], check=False)
    assert completed.returncode == 9
    assert store_path.read_bytes() == before
    leftovers = [p for p in store_path.parent.iterdir() if ".tmp-" in p.name]
    assert len(leftovers) == 1 and leftovers[0].stat().st_mode & 0o777 == 0o600
    assert Keystore.open(store_path, MASTER).get("repo/web").reveal() == VALUE


def test_concurrent_writers_merge_instead_of_losing_updates(store_path):
    first = Keystore.open(store_path, MASTER)
    second = Keystore.open(store_path, MASTER)
    first.set("repo/a", Secret("a"))
    first.save()
    second.set("repo/b", Secret("b"))
    second.delete("repo/web")
    second.save()
    final = Keystore.open(store_path, MASTER)
    assert final.names() == ["location/s3/secret_access_key", "repo/a", "repo/b"]


def test_ensure_random_is_saved_at_once_and_agreed_between_processes(store_path):
    first = Keystore.open(store_path, MASTER)
    second = Keystore.open(store_path, MASTER)
    generated = first.ensure_random("repo/db")
    assert len(generated.reveal()) >= 43 and set(generated.reveal()) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
    assert Keystore.open(store_path, MASTER).get("repo/db") == generated
    assert second.ensure_random("repo/db") == generated  # adopts the stored one
    assert first.ensure_random("repo/db") == generated
    assert first.ensure_random("repo/other") != generated


def test_generated_passwords_are_told_from_human_ones(store_path):
    """Only a password ensure_random made gets the fast key (docs/keystore.md)."""
    store = Keystore.open(store_path, MASTER)
    for index in range(20):
        assert keystore.is_generated(store.ensure_random(f"repo/s{index}"))
    for human in (
        "correct horse battery staple",
        "A" * 42,
        "A" * 44,
        "A" * 42 + "=",
        "A" * 42 + "+",
        base64.b64encode(os.urandom(32)).decode(),  # standard base64 with padding: 44
        "",
    ):
        assert not keystore.is_generated(Secret(human)), human


def test_save_waits_for_the_lock_and_then_gives_up_clearly(store_path, monkeypatch):
    monkeypatch.setattr(keystore, "LOCK_TIMEOUT_SECONDS", 0.2)
    store = Keystore.open(store_path, MASTER)
    store.set("repo/x", Secret("y"))
    with (
        securefile.locked(store_path),
        pytest.raises(KeysError, match="held by another process"),
    ):
        store.save()
    store.save()
    assert "repo/x" in Keystore.open(store_path, MASTER).names()


def _header(path: pathlib.Path) -> sealed.Container:
    return sealed.parse(io.BytesIO(path.read_bytes()), magic=sealed.KEYSTORE_MAGIC)


def test_passphrase_master_uses_scrypt_at_the_default_cost(tmp_path, monkeypatch):
    monkeypatch.setattr(store_format, "DEFAULT_SCRYPT", kdf.ScryptParams())
    path = tmp_path / "ks.bin"
    store = Keystore.create(path, MASTER)
    first = _header(path)
    store.set("repo/a", Secret("a"))
    store.save()
    second = _header(path).header
    assert first.version == 2 and first.header["kind"] == "keystore"
    kdf_header = first.header["kdf"]
    assert kdf_header["id"] == "scrypt"
    assert (kdf_header["n"], kdf_header["r"], kdf_header["p"]) == (2**15, 8, 1)
    assert first.header["aead"]["id"] == "AES-256-GCM"
    assert len(base64.b64decode(first.header["key_check"])) == 16
    assert kdf_header["salt"] == second["kdf"]["salt"]
    assert first.header["key_check"] == second["key_check"]
    assert first.header["aead"]["nonce"] != second["aead"]["nonce"]  # a fresh nonce every save


def test_random_master_key_uses_hkdf_and_never_scrypt(tmp_path, monkeypatch):
    """A master key from `keys master-keygen` is 256 random bits: no memory-hard KDF is run."""

    def no_scrypt(*args, **kwargs):
        raise AssertionError("scrypt was run for a random master key")

    monkeypatch.setattr(kdf, "Scrypt", no_scrypt)
    path = tmp_path / "ks.bin"
    Keystore.create(path, RANDOM_MASTER, entries={"repo/web": Secret(VALUE)})
    assert _header(path).header["kdf"] == {"id": "hkdf-sha256", "salt": ANY_SALT}
    store = Keystore.open(path, RANDOM_MASTER)
    assert store.get("repo/web").reveal() == VALUE and store.kdf_id == "hkdf-sha256"


# Fixed "random" bytes: test ids must be the same in every pytest-xdist worker.
RANDOM_BYTES = bytes.fromhex("9c3f5e1a7b2d8c4e6f0a1b3c5d7e9f20" * 3)


@pytest.mark.parametrize(
    ("text", "is_key"),
    [
        (base64.b64encode(bytes(32)).decode(), True),
        (base64.b64encode(RANDOM_BYTES[:32]).decode(), True),
        (base64.b64encode(RANDOM_BYTES[:31]).decode(), False),
        (base64.b64encode(RANDOM_BYTES[:33]).decode(), False),
        (base64.urlsafe_b64encode(b"\xff" * 32).decode(), False),  # not standard base64
        ("correct horse battery staple", False),
        ("x" * 44, False),
    ],
)
def test_the_form_of_the_secret_decides_the_kdf(text, is_key):
    assert (kdf.random_key_bytes(Secret(text)) is not None) is is_key
    spec = kdf.spec_for(Secret(text), scrypt=FAST_KDF)
    assert spec.kdf_id == ("hkdf-sha256" if is_key else "scrypt")


def test_random_key_keystore_opened_with_a_passphrase_is_a_wrong_secret(tmp_path):
    path = tmp_path / "ks.bin"
    Keystore.create(path, RANDOM_MASTER)
    with pytest.raises(WrongMasterSecret, match="sealed with a random master key"):
        Keystore.open(path, MASTER)
    with pytest.raises(WrongMasterSecret, match="does not match the header's key check"):
        Keystore.open(path, Secret(base64.b64encode(bytes(32)).decode()))


def test_every_flipped_byte_is_damage_and_an_intact_file_is_a_wrong_secret(store_path):
    """keys check can tell them apart: a changed byte anywhere past the magic is "damaged"
    (never "wrong master secret"), and the intact file with another secret is "wrong secret"."""
    data = store_path.read_bytes()
    for position in range(len(sealed.KEYSTORE_MAGIC), len(data)):
        for bit in (0x01, 0x80):
            store_path.write_bytes(
                data[:position] + bytes([data[position] ^ bit]) + data[position + 1 :]
            )
            with pytest.raises(KeystoreDamaged, match="is damaged"):
                Keystore.open(store_path, MASTER)
    store_path.write_bytes(data)
    with pytest.raises(WrongMasterSecret):
        Keystore.open(store_path, Secret("another-master-secret"))


@pytest.mark.parametrize(
    ("name", "master", "saved_kdf"),
    [
        ("keystore-random-master.bin", V1_RANDOM_MASTER, "hkdf-sha256"),
        ("keystore-passphrase-master.bin", V1_PASSPHRASE_MASTER, "scrypt"),
    ],
)
def test_format_1_keystore_opens_and_is_rewritten_in_format_2(tmp_path, name, master, saved_kdf):
    """Files written by the previous backupctl (tests/unit/keys/data_v1, see its README)."""
    path = tmp_path / name
    shutil.copyfile(V1_DATA / name, path)
    store = Keystore.open(path, master)
    assert store.format_version == 1 and store.kdf_id == "scrypt"
    assert {n: store.get(n).reveal() for n in store.names()} == V1_ENTRIES
    assert path.read_bytes() == (V1_DATA / name).read_bytes()  # reading changes nothing
    store.set("repo/new", Secret("new"))
    store.save()
    container = _header(path)
    assert container.version == 2 and container.header["kdf"]["id"] == saved_kdf
    reopened = Keystore.open(path, master)
    assert reopened.format_version == 2 and reopened.get("repo/web").reveal() == "web-password-v1"


def test_format_1_keystore_with_a_wrong_secret_keeps_the_old_ambiguous_message(tmp_path):
    path = tmp_path / "old.bin"
    shutil.copyfile(V1_DATA / "keystore-passphrase-master.bin", path)
    with pytest.raises(KeystoreUnreadable, match="format 1 keystore cannot tell which"):
        Keystore.open(path, Secret("not the old passphrase"))


@pytest.mark.parametrize("name", ["", "a\nb", "x" * 513, "tab\there"])
def test_bad_entry_names_are_refused(store_path, name):
    with pytest.raises(KeysError):
        Keystore.open(store_path, MASTER).set(name, Secret("v"))


def test_values_must_be_secrets(store_path):
    with pytest.raises(TypeError):
        Keystore.open(store_path, MASTER).set("repo/x", "plain")  # type: ignore[arg-type]


names = st.text(
    alphabet=st.characters(
        min_codepoint=32, blacklist_categories=("Cs",), blacklist_characters="\x7f"
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(names, st.text(max_size=80), max_size=8))
def test_round_trip_of_arbitrary_names_and_values(entries):
    assert store_format.DEFAULT_SCRYPT == FAST_KDF  # the autouse fixture holds for every example
    with tempfile.TemporaryDirectory() as directory:
        path = pathlib.Path(directory) / "ks.bin"
        store = Keystore.create(path, MASTER)
        for name, value in entries.items():
            store.set(name, Secret(value))
        store.save()
        reopened = Keystore.open(path, MASTER)
        assert reopened.names() == sorted(entries)
        assert {name: reopened.get(name).reveal() for name in reopened.names()} == entries


def _replace_with(path: pathlib.Path, kind: str) -> None:
    """Replace ``path`` by a symlink to /dev/zero, a FIFO, or a sparse file over 16 MiB."""
    path.unlink()
    if kind == "symlink to /dev/zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path, 0o600)
    else:
        with open(path, "wb") as stream:
            stream.write(sealed.KEYSTORE_MAGIC)
            stream.truncate(store_format.MAX_KEYSTORE_BYTES + 1)


@pytest.mark.timeout(30)  # an unbounded read of /dev/zero or a FIFO open would never return
@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("symlink to /dev/zero", "is a symbolic link; refusing to read it"),
        ("fifo", "is a FIFO; refusing to read it"),
        ("oversized", "is larger than 16 MiB; refusing to read it"),
    ],
)
def test_keystore_read_is_bounded_and_refuses_non_regular_files(store_path, kind, message):
    _replace_with(store_path, kind)
    with pytest.raises(UnsafeFile, match=message) as caught:
        Keystore.open(store_path, MASTER)
    assert str(store_path) in str(caught.value) and caught.value.exit_code == 4


def test_keystore_that_would_pass_the_bound_is_not_saved(store_path, monkeypatch):
    monkeypatch.setattr(store_format, "MAX_KEYSTORE_BYTES", 4096)
    store = Keystore.open(store_path, MASTER)
    before = store_path.read_bytes()
    store.set("repo/huge", Secret("x" * 5000))
    with pytest.raises(KeysError, match="would be larger than"):
        store.save()
    assert store_path.read_bytes() == before
