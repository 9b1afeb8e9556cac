"""One conformance suite for every location kind (modelled on restic's backend test suite):
the same tests run against a local directory, a real OpenSSH server and an S3 server (moto)."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
import pathlib
import secrets
import threading
import typing

import pytest

from targets import errors, health, local, registry, specs
from tests.integration.targets import restic_runner

KINDS = ("local", "sftp", "s3")
PASSWORD = "correct horse battery staple"
_counter = itertools.count()


def content_name(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def data_path(data: bytes) -> str:
    name = content_name(data)
    return f"data/{name[:2]}/{name}"


@dataclasses.dataclass
class Location:
    """Makes fresh specs of one kind; ``secret`` is what must never appear in a message."""

    kind: str
    make_spec: typing.Callable[[str], object]
    make_down_spec: typing.Callable[[str], object]
    raw_names: typing.Callable[[object], list[str]]
    plant: typing.Callable[[object, str, bytes], None]  # put a file there behind the store's back
    secret: str | None = None


@pytest.fixture(scope="session")
def s3_bucket_name(s3_server):
    # a name of its own: modules that import this fixture get their own session instance of it
    return s3_server.create_bucket(f"conformance-{secrets.token_hex(4)}")


@pytest.fixture(params=KINDS)
def location(request, tmp_path) -> Location:
    """A fresh, empty repository location of each kind for every test."""
    if request.param == "local":
        return Location(
            "local",
            lambda name: specs.LocalSpec(name=name, path=tmp_path / f"repo{next(_counter)}"),
            lambda name: specs.LocalSpec(name=name, path=tmp_path / "not-mounted" / "repo"),
            lambda spec: _local_names(spec.path),
            lambda spec, name, data: _local_plant(pathlib.Path(spec.path), name, data),
        )
    if request.param == "sftp":
        server = request.getfixturevalue("sshd_server")
        return Location(
            "sftp",
            lambda name: server.make_spec(name, tmp_path / f"repo{next(_counter)}"),
            lambda name: server.make_down_spec(name, tmp_path / "repo"),
            lambda spec: _local_names(pathlib.Path(spec.path)),
            lambda spec, name, data: _local_plant(pathlib.Path(spec.path), name, data),
        )
    server = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket_name")
    test_prefix = f"t{next(_counter)}"
    return Location(
        "s3",
        lambda name: server.make_spec(name, bucket, f"{test_prefix}/{name}"),
        lambda name: dataclasses.replace(
            server.make_spec(name, bucket, "p"), endpoint=_closed_endpoint()
        ),
        lambda spec: _s3_names(server, spec),
        lambda spec, name, data: server.client().put_object(
            Bucket=spec.bucket, Key=f"{spec.prefix}/{name}", Body=data
        ),
        secret=server.secret_access_key,
    )


def _closed_endpoint() -> str:
    from tests.fixtures import ports

    return f"http://127.0.0.1:{ports.free_port()}"


def _local_names(root: pathlib.Path) -> list[str]:
    return (
        [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
        if root.exists()
        else []
    )


def _local_plant(root: pathlib.Path, name: str, data: bytes) -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(data)


def _s3_names(server, spec) -> list[str]:
    pages = (
        server.client()
        .get_paginator("list_objects_v2")
        .paginate(Bucket=spec.bucket, Prefix=spec.prefix + "/")
    )
    return [
        item["Key"][len(spec.prefix) + 1 :] for page in pages for item in page.get("Contents", ())
    ]


@pytest.fixture
def opened(location):
    with registry.open_store(location.make_spec("loc-under-test")) as repository:
        yield repository


def test_empty_repository_lists_nothing(opened):
    assert opened.list_files() == {}


def test_write_then_read_returns_the_same_bytes(opened):
    data = os.urandom(1000)
    opened.write(data_path(data), data)
    assert opened.read(data_path(data)) == data
    assert opened.list_files() == {data_path(data): 1000}


def test_list_files_shows_repository_files_in_nested_dirs_and_never_locks(opened):
    blobs = [os.urandom(size) for size in (1, 10, 100, 1000)]
    expected = {"config": 7}
    opened.write("config", b"config!")
    # three directories, four blobs: the last blob is written under data/ only
    for directory, blob in zip(("keys", "index", "snapshots"), blobs, strict=False):
        opened.write(f"{directory}/{content_name(blob)}", blob)
        expected[f"{directory}/{content_name(blob)}"] = len(blob)
    for blob in blobs:
        opened.write(data_path(blob), blob)
        expected[data_path(blob)] = len(blob)
    opened.write(f"locks/{content_name(b'lock')}", b"lock")
    assert opened.list_files() == expected


def test_overwrite_replaces_content_and_leaves_no_temporary_files(opened, location):
    path = f"index/{content_name(b'x')}"
    opened.write(path, b"first version")
    opened.write(path, b"second")
    assert opened.read(path) == b"second"
    assert opened.list_files() == {path: 6}
    assert location.raw_names(opened.spec) == [path]


def test_reader_never_sees_a_partial_file(opened):
    versions = (b"A" * (2 << 20), b"B" * (3 << 20))
    path = f"snapshots/{content_name(b'atomic')}"
    opened.write(path, versions[0])
    with registry.open_store(opened.spec) as writer:
        thread = threading.Thread(
            target=lambda: [writer.write(path, versions[i % 2]) for i in range(6)]
        )
        thread.start()
        seen = [opened.read(path) for _ in range(6)]
        thread.join()
    assert all(content in versions for content in seen)


def test_large_object_round_trips(opened):
    data = os.urandom(16 << 20)
    opened.write(data_path(data), data)
    assert hashlib.sha256(opened.read(data_path(data))).hexdigest() == content_name(data)
    assert opened.list_files()[data_path(data)] == 16 << 20


def test_read_of_missing_file_raises_file_missing(opened):
    with pytest.raises(errors.FileMissing, match="loc-under-test"):
        opened.read(f"keys/{content_name(b'none')}")


def test_delete_removes_and_tolerates_missing(opened):
    opened.write("config", b"c")
    opened.delete("config")
    opened.delete("config")
    assert opened.list_files() == {}


@pytest.mark.parametrize("bad", ["../escape", "/etc/passwd", "data//x", "", "data/.config.tmp-1"])
def test_invalid_paths_are_refused(opened, bad):
    with pytest.raises(errors.InvalidPath):
        opened.write(bad, b"x")


def test_down_location_raises_location_unavailable_naming_it(location):
    spec = location.make_down_spec("offsite-down")
    with (
        registry.open_store(spec) as repository,
        pytest.raises(errors.LocationUnavailable) as raised,
    ):
        repository.list_files()
    message = str(raised.value)
    assert "offsite-down" in message
    assert location.secret is None or location.secret not in message
    assert raised.value.exit_code == 3
    ok, reason = health.check_reachable(spec)
    assert not ok and "offsite-down" in reason


def test_reachable_location_passes_health_check(location):
    assert health.check_reachable(location.make_spec("up")) == (True, "reachable")


def test_restic_init_backup_snapshots_through_the_store(opened, tmp_path, restic_binary):
    options = {"password": PASSWORD, "home": tmp_path, "restic": restic_binary}
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.txt").write_text("hello backupctl\n")
    (source / "b.bin").write_bytes(os.urandom(200_000))
    restic_runner.run_restic(opened, "init", **options)
    restic_runner.run_restic(opened, "backup", str(source), **options)
    assert restic_runner.snapshot_count(opened, **options) == 1
    files = opened.list_files()
    kinds = {path.split("/")[0] for path in files}
    assert kinds == {"config", "keys", "data", "index", "snapshots"}
    assert all(content_name(opened.read(p)) == p.rsplit("/", 1)[1] for p in files if p != "config")


def test_files_copied_through_the_store_form_a_repository_restic_accepts(
    opened, tmp_path, restic_binary
):
    options = {"password": PASSWORD, "home": tmp_path, "restic": restic_binary}
    source = tmp_path / "source"
    source.mkdir()
    (source / "c.txt").write_text("copy me\n")
    restic_runner.run_restic(opened, "init", **options)
    restic_runner.run_restic(opened, "backup", str(source), **options)
    copy = local.LocalStore(specs.LocalSpec(name="copy", path=tmp_path / "copy"))
    for path in opened.list_files():
        copy.write(path, opened.read(path))
    restic_runner.run_restic(copy, "check", "--read-data", **options)
    assert restic_runner.snapshot_count(copy, **options) == 1


def test_read_larger_than_the_limit_is_refused_without_reading_it(opened):
    data = os.urandom(1000)
    opened.write(data_path(data), data)
    with pytest.raises(errors.TargetError, match="more than the 999 allowed") as raised:
        opened.read(data_path(data), limit=999)
    assert not isinstance(raised.value, errors.FileMissing)
    assert "loc-under-test" in str(raised.value)
    assert opened.read(data_path(data), limit=1000) == data


def _temporary(final_name: str, token: str = "0123456789abcdef") -> str:
    return f".{final_name}.tmp-{token}"


def test_remove_stale_temporaries_removes_only_our_old_temporary_files(opened, location):
    pack = content_name(b"pack")
    ours = sorted(
        [
            _temporary("config"),
            f"data/{pack[:2]}/{_temporary(pack)}",
            f"index/{_temporary(content_name(b'index'))}",
            f"snapshots/{_temporary(content_name(b'snap'), 'fedcba9876543210')}",
        ]
    )
    others = [
        f"data/{pack[:2]}/notes.tmp-0123456789abcdef",  # not hidden
        f"data/{pack[:2]}/.{pack}.tmp-0123",  # not our token
        f"index/.{content_name(b'index')}.tmp-0123456789abcdefX",
        "keys/.ssh.tmp-0123456789abcdef",  # not a repository file's temporary
        ".config.TMP-0123456789abcdef",
    ]
    opened.write("config", b"c")
    opened.write(data_path(b"pack"), b"pack")
    for name in ours + others:
        location.plant(opened.spec, name, b"left by a killed run")
    expected_after = sorted(["config", data_path(b"pack"), *others])

    assert opened.remove_stale_temporaries(3600) == []  # all of them are young
    assert sorted(location.raw_names(opened.spec)) == sorted(expected_after + ours)
    assert sorted(opened.remove_stale_temporaries(0)) == ours
    assert sorted(location.raw_names(opened.spec)) == expected_after
    assert opened.remove_stale_temporaries(0) == []


def test_remove_stale_temporaries_on_an_empty_location_removes_nothing(opened):
    assert opened.remove_stale_temporaries(0) == []


def test_one_store_serves_a_reading_and_a_writing_thread_at_once(opened):
    """The replicator reads on its main thread while a location's writer thread writes through
    the same store; a store shared that way must neither mix up answers nor hang."""
    blobs = [os.urandom(300_000 + index) for index in range(12)]
    for blob in blobs[:6]:
        opened.write(data_path(blob), blob)
    failures: list[BaseException] = []

    def write_the_rest() -> None:
        try:
            for blob in blobs[6:]:
                opened.write(data_path(blob), blob)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            failures.append(error)

    writer = threading.Thread(target=write_the_rest, daemon=True)
    writer.start()
    read_back = [opened.read(data_path(blob)) for blob in blobs[:6] * 3]
    writer.join(60)
    assert not writer.is_alive(), "the writing thread hangs"
    assert failures == []
    assert read_back == blobs[:6] * 3
    assert opened.list_files() == {data_path(blob): len(blob) for blob in blobs}
