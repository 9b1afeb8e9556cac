"""A customer's lifecycle through the installed command, with real restic repositories on a local
directory, a real OpenSSH server and moto S3 (tests/fixtures/backup_env.py): offboarding and
cooling, reinstatement, a legal hold that blocks destruction, destruction with one location
down, finished by a later run; afterwards nothing of the tenant is left at any location (S3
object versions included) nor in the keystore, and the other tenant is untouched.

Two tenants: customer-7 (source shop-7) and other-9 (source shop-70, whose name starts like
shop-7's, so a prefix match or a path glob would catch it).

restic only writes the repositories here; destruction goes through the stores, not restic, so
this runs with the system's restic only (the ``restic_binary`` fixture is overridden).
"""

from __future__ import annotations

import datetime
import json
import pathlib

import pytest

from backupctl.keys import master_secret
from backupctl.keys import store as keystore
from tests.fixtures import backup_env as fixtures
from tests.fixtures import ports
from tests.fixtures.restic_binaries import SYSTEM_RESTIC

OTHER = """
[sources.shop-70]
paths = ["{root}/data2"]
tenant = "other-9"
locations = ["disk", "sftp-de", "s3-de"]
"""
TODAY = datetime.datetime.now(datetime.UTC).date()


@pytest.fixture
def restic_binary() -> str:
    """System restic only: destruction does not depend on restic's version (see above)."""
    return SYSTEM_RESTIC


def _configure(env, *, sftp_port: int | None = None) -> None:
    env.write_config(sftp_port=sftp_port)
    with env.config_path.open("a") as handle:
        handle.write(OTHER.format(root=env.root))


def _entries(env) -> list[str]:
    master = master_secret.load_master_secret(key_file=env.root / "master.key", key_command=None)
    return keystore.Keystore.open(env.root / "keystore.bin", master).names()


def _s3_versions(env, source: str) -> list[str]:
    listed = env.s3.client().list_object_versions(Bucket=env.bucket, Prefix=f"backups/{source}/")
    return [
        f"{item['Key']}@{item['VersionId']}"
        for item in (*listed.get("Versions", ()), *listed.get("DeleteMarkers", ()))
    ]


def _everything(env, source: str) -> dict[str, list[str]]:
    """What each location holds of a source, listed without backupctl."""

    def walk(root: pathlib.Path) -> list[str]:
        return (
            sorted(str(path.relative_to(root)) for path in root.rglob("*")) if root.exists() else []
        )

    return {
        "disk": walk(env.root / "disk" / source),
        "sftp-de": walk(env.root / "sftp-root" / source),  # the SFTP server runs on this host
        "s3-de": sorted(_s3_versions(env, source)),
    }


def _cached(env) -> set[str]:
    """The snapshot ids in restic's local cache (``<cache>/<repo id>/snapshots/xx/<id>``)."""
    cache = env.root / "state" / "restic-cache"
    return {path.name for path in cache.glob("*/snapshots/*/*")}


def _show(env, tenant: str) -> dict:
    shown = env.backupctl("tenant", "show", tenant, "--json", check=True)
    return json.loads(shown.stdout)


def test_offboarding_hold_and_destruction_with_a_location_down(backup_env):
    env = backup_env
    fixtures.write_tree(env.root / "data2", files=8, size=4000, seed=9)
    _configure(env)
    env.backupctl("init", "--quiet", check=True)
    env.backupctl("backup", "--quiet", check=True)

    # cooling: from the effective date no backups of the tenant; the other tenant goes on
    env.backupctl(
        "tenant",
        "offboard",
        "customer-7",
        "--reason",
        "cancellation",
        "--effective",
        str(TODAY),
        check=True,
    )
    refused = env.backupctl("backup", "shop-7")
    assert refused.returncode == 4, refused.stderr
    assert "tenant customer-7: offboarded (cancellation)" in refused.stderr
    assert f"destruction due {TODAY + datetime.timedelta(days=90)}" in refused.stderr
    assert env.backupctl("backup", "--quiet").returncode == 0  # shop-7 left out, shop-70 done
    later = f"{TODAY + datetime.timedelta(days=91)}T12:00"
    planned = env.backupctl("rotate", "--dry-run", "--as-of", later)
    assert "would destroy: tenant customer-7 offboarded" in planned.stdout, planned.stdout
    env.backupctl("rotate", "--quiet", check=True)  # not due yet: an ordinary rotation
    assert all(_everything(env, "shop-7").values())

    # reinstated during the cooling period: backups again
    env.backupctl("tenant", "reinstate", "customer-7", "--reason", "paid after all", check=True)
    env.backupctl("backup", "shop-7", "--quiet", check=True)
    other_before = _everything(env, "shop-70")  # shop-70 is not written to from here on
    assert all(other_before.values())

    # offboarded again, effective long enough ago that destruction is due; a legal hold stops it
    past = TODAY - datetime.timedelta(days=91)
    env.backupctl(
        "tenant",
        "offboard",
        "customer-7",
        "--reason",
        "non-payment",
        "--effective",
        str(past),
        check=True,
    )
    env.backupctl(
        "tenant",
        "hold",
        "customer-7",
        "--reference",
        "COURT-114",
        "--reason",
        "order of 3 Nov",
        check=True,
    )
    env.backupctl("rotate", "--quiet", check=True)
    assert all(_everything(env, "shop-7").values()), "a legal hold did not stop destruction"
    status = env.backupctl("status")
    assert "note: tenant customer-7: legal hold COURT-114" in status.stdout, status.stdout
    assert "rotation and destruction suspended" in status.stdout
    assert "repo/shop-7" in _entries(env)
    env.backupctl(
        "tenant",
        "release",
        "customer-7",
        "--reference",
        "COURT-114",
        "--reason",
        "lifted",
        check=True,
    )
    # destruction due but not begun: reinstating is still allowed
    env.backupctl("tenant", "reinstate", "customer-7", "--reason", "one more week", check=True)
    env.backupctl(
        "tenant",
        "offboard",
        "customer-7",
        "--reason",
        "non-payment",
        "--effective",
        str(past),
        check=True,
    )

    snapshot_ids = {
        path.removeprefix("snapshots/")
        for path in _everything(env, "shop-7")["disk"]
        if path.startswith("snapshots/")
    }
    assert _cached(env) & snapshot_ids  # restic's cache holds the repository's snapshots

    # destruction with the SFTP location down: the others are destroyed, it stays pending
    _configure(env, sftp_port=ports.free_port())
    first = env.backupctl("rotate")
    assert first.returncode == 1, first.stdout + first.stderr
    left = _everything(env, "shop-7")
    assert left["disk"] == [] and left["s3-de"] == [], left
    assert left["sftp-de"], "the down location cannot have been destroyed"
    assert "repo/shop-7" not in _entries(env)
    assert not _cached(env) & snapshot_ids, "restic's cache of the repository was left"
    status = env.backupctl("status")
    assert "destruction unfinished at location sftp-de (source shop-7" in status.stdout
    shown = _show(env, "customer-7")
    assert shown["phase"] == "destroying"
    pending = [entry for entry in shown["destruction"] if entry["finished_at"] is None]
    assert [entry["location"] for entry in pending] == ["sftp-de"]
    human = env.backupctl("tenant", "show", "customer-7", check=True).stdout
    assert "PENDING shop-7 at sftp-de" in human and "the next rotate finishes it" in human
    refused = env.backupctl("tenant", "reinstate", "customer-7", "--reason", "please")
    assert refused.returncode == 4 and "destruction has begun" in refused.stderr

    # the location is back: the next rotation finishes there
    _configure(env)
    env.backupctl("rotate", "--quiet", check=True)
    assert _everything(env, "shop-7") == {"disk": [], "sftp-de": [], "s3-de": []}
    shown = _show(env, "customer-7")
    assert shown["phase"] == "destroyed"
    assert {entry["location"] for entry in shown["destruction"]} == {"disk", "sftp-de", "s3-de"}
    assert all(entry["finished_at"] and entry["checked"] for entry in shown["destruction"])
    assert [key["entry"] for key in shown["erased_keys"]] == ["repo/shop-7"]
    assert "no escrow made since" in shown["escrow"]
    assert [c["change"] for c in shown["history"]][-2:] == ["destroying", "destroyed"]
    status = env.backupctl("status")
    assert "destruction unfinished" not in status.stdout
    listed = env.backupctl("tenant", "list", check=True).stdout
    assert "customer-7" in listed and "destroyed" in listed and "other-9" in listed
    human = env.backupctl("tenant", "show", "customer-7", check=True).stdout
    assert "destroyed shop-7 at sftp-de" in human and "keystore entry repo/shop-7 erased" in human
    assert "source shop-7 (tenant customer-7, destroyed): remove it" in status.stdout

    # the other tenant: every file, version and its key where they were
    assert _everything(env, "shop-70") == other_before
    assert "repo/shop-70" in _entries(env)
    env.backupctl("backup", "shop-70", "--quiet", check=True)
    assert env.backupctl("backup", "shop-7").returncode == 4
    verified = env.backupctl("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
