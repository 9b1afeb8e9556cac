"""restic key files made and opened in Python (backupctl/restic/keyfile.py).

The known answer was made with real restic 0.14: `restic init` with the password below, the key
file as restic wrote it, and the master key `restic cat masterkey` printed. That restic itself
opens the key files made here is proven in tests/integration/backup/test_fast_key.py.
"""

from __future__ import annotations

import base64
import datetime
import json
import pickle

import pytest

from backupctl.restic import keyfile

RESTIC_PASSWORD = "known answer: restic 0.14 key"
RESTIC_KEY_FILE = (
    b'{"created":"2026-11-29T14:52:28.923003046Z","username":"root","hostname":"vm",'
    b'"kdf":"scrypt","N":32768,"r":8,"p":3,'
    b'"salt":"KCzrJOdTyBCpdRvKmsfR1M0u6yvfyweA46Y4wOSQl1NLgM7WG1yf86NSgFCMcE+pil1HJXuQ0fY0JxkEL6Vl1w==",'
    b'"data":"XoSP2vM5yTqrbSGsk3YN45oRE8NYDiulb05neSeHjjiT+jYI3PtBFLYDAfTGPsA2Ojris09SJYCnEOj3uYPPoby1'
    b"AQETJ0OL8UPEQih8dnxILHj7q2eZ0G3NrZHZIitsD3GqAY6jAhNXjsGUIstlBcF2O/e/mlr/T6H7zEeJ2EpznUutRgBdUd"
    b'RnLyRrGidI3S37+h2HuazAMjIXIUjylg=="}'
)
RESTIC_KEY_ID = "6f2d4e59357cafde04f9d0147856937a401c4abf246165a01f13bd5825d03273"
MASTER = {
    "mac": {"k": "RvH+on4DBOfwTsleOJulnA==", "r": "YKMhBJizLwLsRTUFdLE3CQ=="},
    "encrypt": "Kx4FfKWJqW1FbHVaeUotsnuEcQ+L/xcvV4a+zxFMKOU=",
}
WHEN = datetime.datetime(2026, 11, 29, 15, 0, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def master() -> keyfile.MasterKey:
    """The known-answer master key, opened once (restic's calibrated scrypt: about 0.4 s)."""
    return keyfile.open_key(RESTIC_KEY_FILE, RESTIC_PASSWORD)


def _cheap(master: keyfile.MasterKey, password: str = RESTIC_PASSWORD, **fixed) -> bytes:
    return keyfile.make_key(
        master, password, created=WHEN, username="backupctl", hostname="host", **fixed
    )


def test_restic_key_file_opens_to_the_master_key_restic_printed(master):
    assert json.loads(master.reveal()) == MASTER
    assert keyfile.key_id(RESTIC_KEY_FILE) == RESTIC_KEY_ID
    assert keyfile.params_of(RESTIC_KEY_FILE) == keyfile.KdfParams(n=32768, r=8, p=3)


def test_made_key_holds_the_same_master_key_with_the_cheap_parameters(master):
    made = _cheap(master)
    assert keyfile.params_of(made) == keyfile.CHEAP == keyfile.KdfParams(n=1024, r=8, p=1)
    assert keyfile.open_key(made, RESTIC_PASSWORD) == master
    document = json.loads(made)
    assert document["kdf"] == "scrypt"
    assert document["created"] == "2026-11-29T15:00:00+00:00"
    assert len(base64.b64decode(document["salt"])) == 64
    # IV (16) + the master key's JSON + MAC (16)
    assert len(base64.b64decode(document["data"])) == 16 + len(master.reveal()) + 16


def test_made_key_is_fixed_by_salt_and_iv_and_random_otherwise(master):
    fixed = {"salt": bytes(range(64)), "iv": bytes(range(1, 17))}
    assert _cheap(master, **fixed) == _cheap(master, **fixed)
    assert _cheap(master) != _cheap(master)


def test_known_answer_made_key(master):
    """The bytes for a fixed salt and IV: a change in the format (and restic's acceptance of it,
    proven once in the integration test) shows here."""
    made = _cheap(master, salt=bytes(range(64)), iv=bytes(range(1, 17)))
    assert keyfile.key_id(made) == KNOWN_MADE_ID


# restic 0.14 opened this very file (`restic key list --key-hint c51695eb` marked it in use)
KNOWN_MADE_ID = "c51695eb980302af40bb2738c4b6782135d0e237bacffd33ef6fef45cf578649"


def test_wrong_password_is_refused(master):
    with pytest.raises(keyfile.WrongPassword):
        keyfile.open_key(_cheap(master), "another password")


def test_altered_key_file_is_refused(master):
    document = json.loads(_cheap(master))
    sealed = bytearray(base64.b64decode(document["data"]))
    sealed[20] ^= 1
    document["data"] = base64.b64encode(bytes(sealed)).decode()
    with pytest.raises(keyfile.WrongPassword):
        keyfile.open_key(json.dumps(document).encode(), RESTIC_PASSWORD)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"N": 2**24}, "beyond the bounds"),  # 16 GiB of memory
        ({"N": 2**15, "p": 2**10}, "beyond the bounds"),
        ({"N": 1000}, "not valid"),
        ({"N": 1}, "not valid"),
        ({"r": 0}, "not valid"),
        ({"p": "1"}, "not integers"),
        ({"N": True}, "not integers"),
        ({"kdf": "argon2"}, "not scrypt"),
        ({"salt": "c2hvcnQ="}, "wrong length"),
        ({"data": "!!"}, "not a restic key file"),
    ],
)
def test_key_files_beyond_the_bounds_are_refused_before_any_derivation(master, change, message):
    document = {**json.loads(_cheap(master)), **change}
    with pytest.raises(keyfile.KeyFileError, match=message) as raised:
        keyfile.open_key(json.dumps(document).encode(), RESTIC_PASSWORD)
    assert not isinstance(raised.value, keyfile.WrongPassword)


@pytest.mark.parametrize("data", [b"", b"not json", b"[]", b"{}", b" " * (64 * 1024 + 1)])
def test_not_a_key_file(data):
    with pytest.raises(keyfile.KeyFileError):
        keyfile.params_of(data)


def test_master_key_is_never_printed_nor_pickled(master):
    assert "redacted" in repr(master)
    assert MASTER["encrypt"] not in repr(master)
    with pytest.raises(TypeError):
        pickle.dumps(master)


def test_master_key_must_be_valid():
    with pytest.raises(keyfile.KeyFileError):
        keyfile.MasterKey(b'{"mac": {"k": "", "r": ""}, "encrypt": ""}')
