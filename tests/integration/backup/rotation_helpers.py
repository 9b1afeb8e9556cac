"""Helpers for the rotation tests: backdated snapshots made with plain restic, either as the
toolkit's own (added to the manifest, with a recorded time, as a backup would) or by hand."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pathlib
import subprocess
import sys

from backupctl import state
from backupctl.keys import master_secret
from backupctl.keys import store as keystore

BACKUPCTL = pathlib.Path(sys.executable).parent / "backupctl"
NOW = datetime.datetime.now(datetime.UTC)


def days_ago(days: float) -> datetime.datetime:
    return NOW - datetime.timedelta(days=days)


def restic_time(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def listing(repository: pathlib.Path) -> dict[str, int]:
    """Every repository file below a local repository (path -> size), locks left out."""
    return {
        str(path.relative_to(repository)): path.stat().st_size
        for path in repository.rglob("*")
        if path.is_file() and not str(path.relative_to(repository)).startswith("locks/")
    }


def snapshot_files(repository: pathlib.Path) -> set[str]:
    directory = repository / "snapshots"
    return {path.name for path in directory.iterdir()} if directory.exists() else set()


@dataclasses.dataclass
class TwoDisks:
    """Two local locations a (on-site) and b (off-site) and one source ``books``."""

    root: pathlib.Path
    restic_binary: str
    policy: str = "backup-12m"

    @property
    def config(self) -> pathlib.Path:
        return self.root / "c.toml"

    @property
    def db(self) -> pathlib.Path:
        return state.db_path(self.root / "state")

    def repo(self, location: str) -> pathlib.Path:
        return self.root / f"disk-{location}" / "books"

    def write_config(self) -> None:
        root = self.root
        self.config.write_text(
            f'[backupctl]\nstate_dir = "{root}/state"\nkeystore = "{root}/ks.bin"\n'
            f'master_key_file = "{root}/master.key"\nrestic = "{self.restic_binary}"\n'
            f'[locations.a]\nkind = "local"\npath = "{root}/disk-a"\ncountry = "NL"\n'
            "offsite = false\n"
            f'[locations.b]\nkind = "local"\npath = "{root}/disk-b"\ncountry = "BE"\n'
            "offsite = true\n"
            f'[sources.books]\npaths = ["{root}/data"]\ntenant = "t"\nlocations = ["a", "b"]\n'
            f'retention = "{self.policy}"\n'
        )

    def backupctl(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        result = subprocess.run(
            (str(BACKUPCTL), "--config", str(self.config), *args),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check:
            assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result

    def password_file(self) -> pathlib.Path:
        master = master_secret.load_master_secret(
            key_file=self.root / "master.key", key_command=None
        )
        secret = keystore.Keystore.open(self.root / "ks.bin", master).get("repo/books")
        path = self.root / "pw"
        path.write_text(secret.reveal())
        path.chmod(0o600)
        return path

    def restic(self, location: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            (
                self.restic_binary,
                "-r",
                str(self.repo(location)),
                "--password-file",
                str(self.password_file()),
                "--no-cache",
                *args,
            ),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env={**os.environ},
        )

    def snapshot_times(self, location: str) -> dict[str, str]:
        result = self.restic(location, "snapshots", "--json")
        assert result.returncode == 0, result.stderr
        return {entry["id"]: entry["time"] for entry in json.loads(result.stdout or "[]")}


def set_up(root: pathlib.Path, restic_binary: str, policy: str = "backup-12m") -> TwoDisks:
    """Initialise two local locations with one ordinary backup."""
    for name in ("disk-a", "disk-b", "data"):
        (root / name).mkdir()
    (root / "data" / "ledger.txt").write_text("ledger 2026\n")
    master_secret.generate_master_key_file(root / "master.key")
    env = TwoDisks(root, restic_binary, policy)
    env.write_config()
    env.backupctl("init", "--quiet", check=True)
    return env


def make_snapshot(
    repository: pathlib.Path,
    restic_binary: str,
    password_file: pathlib.Path,
    data: pathlib.Path,
    *,
    when: datetime.datetime,
    tags: tuple[str, ...],
    env: dict[str, str] | None = None,
) -> str:
    """Back ``data`` up with plain restic into a local repository at restic time ``when``;
    return the new snapshot's id."""
    (data / "changing.txt").write_text(f"content as of {when.isoformat()}\n")
    before = snapshot_files(repository)
    subprocess.run(
        (
            restic_binary,
            "-r",
            str(repository),
            "--password-file",
            str(password_file),
            "--no-cache",
            "backup",
            "-q",
            "--time",
            restic_time(when),
            *(part for tag in tags for part in ("--tag", tag)),
            str(data),
        ),
        check=True,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
    (new,) = snapshot_files(repository) - before
    return new


def as_toolkit_snapshot(
    db: pathlib.Path,
    source: str,
    repository: pathlib.Path,
    before: dict[str, int],
    snapshot_id: str,
    *,
    recorded: datetime.datetime,
    location: str,
) -> None:
    """Make a snapshot plain restic just wrote look as if backupctl had taken it at
    ``recorded``: its files join the manifest, its recorded time is stored."""
    written = {path: size for path, size in listing(repository).items() if path not in before}
    state.add_to_manifest(db, source, written)
    with state.connect(db) as connection:
        connection.execute(
            "INSERT INTO snapshot_records (source, snapshot_id, recorded_at, how, location)"
            " VALUES (?, ?, ?, 'backup', ?)",
            (source, snapshot_id, recorded.isoformat(timespec="seconds"), location),
        )


def toolkit_snapshot(
    env: TwoDisks,
    *,
    when: datetime.datetime,
    recorded: datetime.datetime,
    extra_tags: tuple[str, ...] = (),
) -> str:
    """A snapshot of ``books`` taken at location a as backupctl would: restic time ``when``,
    recorded at ``recorded``; the next backup copies it to b."""
    before = listing(env.repo("a"))
    snapshot_id = make_snapshot(
        env.repo("a"),
        env.restic_binary,
        env.password_file(),
        env.root / "data",
        when=when,
        tags=("backupctl", "source:books", "tenant:t", *extra_tags),
    )
    as_toolkit_snapshot(
        env.db, "books", env.repo("a"), before, snapshot_id, recorded=recorded, location="a"
    )
    return snapshot_id
