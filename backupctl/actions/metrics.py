"""`metrics`: gather what `status` knows about every source, plus the recorded results of
backups, checks, drills and rotation, and write the Prometheus textfile atomically (0644: it
holds ids, counts, sizes and times only)."""

from __future__ import annotations

import datetime
import pathlib

from backupctl import state
from backupctl.actions import prepare
from backupctl.actions import status as status_action
from backupctl.checking import records as checking
from backupctl.config import Config
from backupctl.keys import securefile
from backupctl.monitoring import metrics
from backupctl.rotation import records as rotation


def text(config: Config, *, now: datetime.datetime) -> str:
    """Given the config and the moment, ask every location of every source and return the
    textfile; raise KeysError or ResticError when nothing can be asked."""
    keystore, restic = prepare.keystore_and_restic(config)
    facts = tuple(
        _facts(config, status_action.source_status(config, keystore, restic, source, now=now))
        for source in config.sources.values()
    )
    return metrics.render(facts, now=now)


def write(config: Config, path: pathlib.Path) -> None:
    """Given the config and the textfile's path, write it atomically (temporary file, rename),
    never through a symlink."""
    rendered = text(config, now=datetime.datetime.now(datetime.UTC))
    securefile.write_atomic(path, rendered.encode(), mode=0o644, what="metrics file")


def _facts(config: Config, found: status_action.SourceStatus) -> metrics.SourceFacts:
    db = state.db_path(config.state_dir)
    successes, newest = _backup_results(db, found.source)
    pending = {entry["location"] for entry in rotation.pending(db, found.source)}
    checks = {entry["location"]: entry for entry in checking.last_checks(db, found.source)}
    drill = checking.last_drill(db, found.source)
    foreign: dict[str, int] = {}
    for entry in found.foreign:
        foreign[entry.location] = foreign.get(entry.location, 0) + 1
    places = tuple(
        metrics.LocationFacts(
            location=place.name,
            reachable=place.reachable,
            snapshots=len(place.snapshot_ids),
            size_bytes=place.size_bytes,
            newest=place.newest,
            oldest=place.oldest,
            last_success=successes.get(place.name),
            last_ok=newest.get(place.name),
            foreign_files=foreign.get(place.name, 0),
            rotation_pending=place.name in pending,
            check_ok=bool(checks[place.name]["ok"]) if place.name in checks else None,
            check_at=_time(checks[place.name]["finished_at"]) if place.name in checks else None,
        )
        for place in found.locations
    )
    return metrics.SourceFacts(
        source=found.source,
        tenant=found.tenant,
        locations=places,
        warnings=len(found.warnings),
        damaged_files=(found.last_verify or {}).get("unrepairable", 0),
        drill_ok=bool(drill["ok"]) if drill else None,
        drill_at=_time(drill["finished_at"]) if drill else None,
        drill_mismatched=drill["mismatched"] if drill else 0,
    )


def _backup_results(db: pathlib.Path, source: str) -> tuple[dict, dict]:
    """Return per location: when a backup or copy last succeeded, and whether the newest did."""
    with state.connect(db) as connection:
        succeeded = connection.execute(
            "SELECT location, MAX(finished_at) FROM run_results WHERE source = ? AND ok = 1"
            " AND step IN ('backup', 'replicate') GROUP BY location",
            (source,),
        ).fetchall()
        newest = connection.execute(
            "SELECT r.location, r.ok FROM run_results r JOIN (SELECT location, MAX(rowid) AS n"
            " FROM run_results WHERE source = ? AND step IN ('backup', 'replicate')"
            " GROUP BY location) m ON r.rowid = m.n",
            (source,),
        ).fetchall()
    return (
        {location: _time(moment) for location, moment in succeeded},
        {location: bool(ok) for location, ok in newest},
    )


def _time(text: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)
