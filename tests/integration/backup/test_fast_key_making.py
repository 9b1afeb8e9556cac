"""The fast key is made once, for a repository restic created (the upgrade path: a repository
with only restic's calibrated key), taken up when found instead of made again, and never made for
a password backupctl did not generate. Real restic (the system's 0.14 creates the repository),
a real local store and a real state database; restic 0.14 and 0.18 opening the key is
test_fast_key.py."""

from __future__ import annotations

import base64
import os
import pathlib
import shutil
import subprocess

import pytest

from backupctl import reach, state
from backupctl.audit import log
from backupctl.fastkey import making, records
from backupctl.keys.secret import Secret
from backupctl.restic import keyfile
from targets.local import LocalStore
from targets.specs import LocalSpec


class CountingStore(LocalStore):
    """A real local store that counts its reads and writes (to show a second run does none)."""

    def __init__(self, spec: LocalSpec) -> None:
        super().__init__(spec)
        self.reads = self.writes = 0

    def read(self, relative_path: str, *, limit: int | None = None) -> bytes:
        self.reads += 1
        return super().read(relative_path, limit=limit)

    def write(self, relative_path: str, data: bytes) -> None:
        self.writes += 1
        super().write(relative_path, data)


def _generated() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def _restic_init(repository: pathlib.Path, password: str) -> None:
    password_file = repository.parent / f"{repository.name}.password"  # never in argv
    password_file.write_text(password)
    subprocess.run(
        ("restic", "init", "--repo", str(repository), "--password-file", str(password_file)),
        check=True,
        capture_output=True,
        timeout=120,
    )


HUMAN = "correct horse battery staple"


@pytest.fixture(scope="module")
def made_by_restic(tmp_path_factory) -> dict[str, tuple[pathlib.Path, str]]:
    """Two repositories restic made once for the module (restic init calibrates its key: about
    a second): one with a generated password, one with a human one."""
    base = tmp_path_factory.mktemp("made-by-restic")
    repositories = {"generated": (base / "generated", _generated()), "human": (base / "h", HUMAN)}
    for repository, password in repositories.values():
        repository.parent.mkdir(exist_ok=True)
        _restic_init(repository, password)
    return repositories


@pytest.fixture
def repository(tmp_path, made_by_restic) -> tuple[pathlib.Path, str]:
    """A copy of the repository with the generated password, and that password."""
    original, password = made_by_restic["generated"]
    shutil.copytree(original, tmp_path / "repo")
    return tmp_path / "repo", password


def _reached(store: LocalStore, hint: str | None = None) -> reach.Reached:
    return reach.Reached({"a": store}, {"a": store.list_files()}, {}, hint)


@pytest.fixture
def db(tmp_path) -> pathlib.Path:
    path = state.db_path(tmp_path / "state")
    state.establish_manifest(path, "mail", {}, how="init", location="a")
    return path


def _keys(repository: pathlib.Path) -> set[str]:
    return {path.name for path in (repository / "keys").iterdir()}


def test_made_once_for_an_existing_repository_then_nothing_more(tmp_path, db, repository):
    _, password = repository
    calibrated = _keys(tmp_path / "repo")
    store = CountingStore(LocalSpec("a", tmp_path / "repo"))

    first = making.ensure(db, "mail", _reached(store), Secret(password), ("a",))

    made = records.recorded(db, "mail")
    assert first.key_hint == made and made not in calibrated
    assert _keys(tmp_path / "repo") == calibrated | {made}
    data = (tmp_path / "repo" / "keys" / made).read_bytes()
    assert keyfile.key_id(data) == made
    assert keyfile.params_of(data) == keyfile.CHEAP
    assert f"keys/{made}" in first.listings["a"]
    assert state.load_manifest(db, "mail").files == {f"keys/{made}": len(data)}
    assert first.repository("a").key_hint == made
    assert (store.reads, store.writes) == (1, 1)

    again = making.ensure(db, "mail", _reached(store, made), Secret(password), ("a",))
    assert again.key_hint == made
    assert (store.reads, store.writes) == (1, 1), "a recorded key costs no read nor write"
    assert _keys(tmp_path / "repo") == calibrated | {made}
    key_records = [record for record in log.records(db) if record.action == "repository.key"]
    assert len(key_records) == 1, "a key change is in the audit log, once"
    assert key_records[0].subjects == {"source": "mail", "location": "a"}
    assert key_records[0].details["key"] == made and key_records[0].details["how"] == "made"


def test_a_fast_key_found_is_taken_up_not_made_again(tmp_path, db, repository):
    _, password = repository
    store = CountingStore(LocalSpec("a", tmp_path / "repo"))
    made = making.ensure(db, "mail", _reached(store), Secret(password), ("a",)).key_hint
    with state.connect(db) as connection:  # the state database lost its record
        connection.execute("DELETE FROM fast_keys")
    keys = _keys(tmp_path / "repo")

    found = making.ensure(db, "mail", _reached(store), Secret(password), ("a",))

    assert found.key_hint == made == records.recorded(db, "mail")
    assert _keys(tmp_path / "repo") == keys
    assert store.writes == 1
    with state.connect(db) as connection:
        assert connection.execute("SELECT how FROM fast_keys").fetchone() == ("found",)


def test_a_password_backupctl_did_not_generate_keeps_the_calibrated_key_alone(
    tmp_path, db, made_by_restic
):
    shutil.copytree(made_by_restic["human"][0], tmp_path / "repo")
    store = CountingStore(LocalSpec("a", tmp_path / "repo"))
    keys = _keys(tmp_path / "repo")

    result = making.ensure(db, "mail", _reached(store), Secret(HUMAN), ("a",))

    assert result.key_hint is None and records.recorded(db, "mail") is None
    assert _keys(tmp_path / "repo") == keys
    assert (store.reads, store.writes) == (0, 0)


def test_a_password_that_opens_no_key_makes_nothing_and_stops_nothing(
    tmp_path, db, caplog, repository
):
    store = CountingStore(LocalSpec("a", tmp_path / "repo"))
    keys = _keys(tmp_path / "repo")

    result = making.ensure(db, "mail", _reached(store), Secret(_generated()), ("a",))

    assert result.key_hint is None and records.recorded(db, "mail") is None
    assert _keys(tmp_path / "repo") == keys and store.writes == 0
    assert "no fast key made at a" in caplog.text
