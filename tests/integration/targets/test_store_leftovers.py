"""Removing *everything* left of a repository (tenant destruction, docs/tenants.md), on every
location kind: locks, stray files and directories go, a sibling repository whose name starts the
same stays, a symlink is removed and never followed; on S3 every noncurrent version and delete
marker goes, and an object under object lock stays and is named with its date."""

from __future__ import annotations

import datetime
import pathlib

from targets import local, registry, s3, specs
from tests.integration.targets.test_store_conformance import (  # noqa: F401 - fixtures
    content_name,
    data_path,
    location,
    s3_bucket_name,
)


def test_everything_of_one_repository_goes_and_its_sibling_stays(location):  # noqa: F811
    spec = location.make_spec("gone")
    sibling_spec = _sibling(location, spec)
    with registry.open_store(spec) as store, registry.open_store(sibling_spec) as sibling:
        for repository in (store, sibling):
            repository.write("config", b"config")
            repository.write(data_path(b"blob"), b"blob")
            repository.write(f"locks/{content_name(b'lock')}", b"lock")
        location.plant(spec, "notes/stray.txt", b"left by hand")
        assert any(entry.startswith("notes/stray.txt") for entry in store.leftovers())
        for path in store.list_files():
            store.delete(path)
        removal = store.remove_leftovers()
        assert removal.removed >= 2 and removal.kept == ()  # the lock and the stray file at least
        assert store.list_files() == {}
        assert store.leftovers() == []
        assert sibling.list_files() == {"config": 6, data_path(b"blob"): 4}
        assert store.remove_leftovers().removed == 0  # nothing left: nothing to do


def _sibling(location, spec):  # noqa: F811
    if location.kind == "s3":
        return s3.S3Spec(**{**spec.__dict__, "prefix": spec.prefix + "-2"})
    if location.kind == "local":
        return specs.LocalSpec(name="sibling", path=pathlib.Path(f"{spec.path}-2"))
    return specs.SftpSpec(**{**spec.__dict__, "path": f"{spec.path}-2"})


def test_a_symlink_inside_the_repository_is_removed_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("not the tenant's")
    repository = tmp_path / "repo"
    with local.LocalStore(specs.LocalSpec(name="disk", path=repository)) as store:
        store.write("config", b"c")
        (repository / "data").mkdir()
        (repository / "data" / "ab").symlink_to(outside)
        assert "data/ab" in store.leftovers()
        store.remove_leftovers()
    assert not repository.exists()
    assert (outside / "precious").read_text() == "not the tenant's"


def test_noncurrent_versions_and_delete_markers_go_for_good(s3_server):
    bucket = s3_server.create_bucket("leftovers-versioned")
    client = s3_server.client()
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    spec = s3_server.make_spec("s3", bucket, "backups/web")
    with s3.S3Store(spec) as store:
        store.write("config", b"one")
        store.write("config", b"two")  # the first becomes noncurrent
        store.write(data_path(b"x"), b"x")
        store.delete(data_path(b"x"))  # a delete marker over the version
        assert store.list_files() == {"config": 3}
        assert len(store.leftovers()) == 4
        removal = store.remove_leftovers()
        assert (removal.removed, removal.kept) == (4, ())
        assert store.leftovers() == []
    listed = client.list_object_versions(Bucket=bucket, Prefix="backups/web/")
    assert not listed.get("Versions") and not listed.get("DeleteMarkers")


def test_an_object_under_object_lock_stays_and_is_named_with_its_date(s3_server):
    bucket = "leftovers-locked"
    client = s3_server.client()
    client.create_bucket(
        Bucket=bucket,
        CreateBucketConfiguration={"LocationConstraint": s3_server.region},
        ObjectLockEnabledForBucket=True,
    )
    until = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3)
    client.put_object(
        Bucket=bucket,
        Key="backups/web/config",
        Body=b"locked",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
    )
    with s3.S3Store(s3_server.make_spec("s3", bucket, "backups/web")) as store:
        removal = store.remove_leftovers()
        assert removal.removed == 0
        (kept,) = removal.kept
        assert kept.startswith("config (version ")
        assert f"object lock (COMPLIANCE) until {until:%Y-%m-%d}" in kept
        assert len(store.leftovers()) == 1
