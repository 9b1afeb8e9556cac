"""One registry maps a kind name to its spec and store; specs are pure values; ``targets`` has no
import cycles; only the kind in use is imported."""

from __future__ import annotations

import dataclasses
import itertools
import pathlib
import subprocess
import sys

import grimp
import pytest

from targets import errors, registry, specs

SETTINGS = {
    "local": {"path": "/srv/a"},
    "sftp": {
        "host": "192.0.2.1",
        "port": 2222,
        "user": "backup",
        "path": "/srv/b",
        "identity_file": "/etc/backupctl/id",
        "known_hosts": "/etc/backupctl/known_hosts",
    },
    "s3": {
        "endpoint": "http://127.0.0.1:9000",
        "bucket": "bk",
        "prefix": "/backups/",
        "region": "eu-central-1",
        "verify_tls": True,
    },
}
CREDENTIALS = {"access_key_id": "AKIAEXAMPLE", "secret_access_key": "SECRETVALUE"}


@pytest.mark.parametrize(
    ("kind", "subpath", "where"),
    [
        ("local", "src1", pathlib.Path("/srv/a/src1")),
        ("local", None, pathlib.Path("/srv/a")),
        ("sftp", "src1", "/srv/b/src1"),
        ("sftp", None, "/srv/b"),
        ("s3", "src1", "backups/src1"),
        ("s3", None, "backups"),
    ],
)
def test_spec_from_settings_appends_the_source_to_the_path_or_prefix(kind, subpath, where):
    asked: list[str] = []

    def credential(key: str) -> str:
        asked.append(key)
        return CREDENTIALS[key]

    spec = registry.spec_from_settings(
        kind, name="loc", settings=SETTINGS[kind], subpath=subpath, credential=credential
    )
    assert type(spec) is registry.KINDS[kind].spec_type
    assert registry.kind_of(spec).name == kind
    assert (spec.prefix if kind == "s3" else spec.path) == where
    assert asked == (["access_key_id", "secret_access_key"] if kind == "s3" else [])


def test_s3_secret_is_not_in_the_spec_repr():
    spec = registry.spec_from_settings(
        "s3", name="loc", settings=SETTINGS["s3"], subpath="src1", credential=CREDENTIALS.get
    )
    assert "SECRETVALUE" not in repr(spec) and spec.secret_access_key == "SECRETVALUE"


def test_unknown_kind_and_unknown_spec_are_refused():
    with pytest.raises(errors.TargetError, match="unknown location kind 'ftp'"):
        registry.kind_named("ftp")
    with pytest.raises(errors.TargetError, match="unknown location spec type object"):
        registry.open_store(object())


def test_every_spec_is_a_frozen_dataclass():
    for kind in registry.KINDS.values():
        assert dataclasses.is_dataclass(kind.spec_type)
        assert kind.spec_type.__dataclass_params__.frozen
    assert {kind.spec_type for kind in registry.KINDS.values()} == {
        specs.LocalSpec,
        specs.SftpSpec,
        specs.S3Spec,
    }


def test_targets_has_no_import_cycles():
    graph = grimp.build_graph("targets")  # TYPE_CHECKING imports count too
    cycles = [
        (first, second)
        for first, second in itertools.combinations(sorted(graph.modules), 2)
        if graph.find_shortest_chain(importer=first, imported=second)
        and graph.find_shortest_chain(importer=second, imported=first)
    ]
    assert cycles == []


def test_specs_and_registry_import_neither_paramiko_nor_boto3():
    graph = grimp.build_graph("targets", include_external_packages=True)
    for module in ("targets.specs", "targets.registry"):
        imported = graph.find_upstream_modules(module)
        assert not {"paramiko", "boto3", "botocore"} & imported, module


def test_only_the_kind_in_use_is_imported():
    code = (
        "import sys; from backupctl import config, locations\n"
        "location = config.Location(name='disk', kind='local', country='NL', offsite=False,\n"
        "    provider='', allow_outside_eea=None, settings={'path': '/srv/a'})\n"
        "store = locations.store_for(location, 'src1', keystore=None)\n"
        "assert store.restic_repository() == '/srv/a/src1'\n"
        "print(sorted(m for m in ('paramiko', 'boto3', 'botocore') if m in sys.modules))\n"
    )
    result = subprocess.run(
        (sys.executable, "-c", code), capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
