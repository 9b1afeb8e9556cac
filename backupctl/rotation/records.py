"""Rotation's tables in the state database: when backupctl took or first saw each snapshot, the
intent of an unfinished rotation (so the next run finishes it), every forget, prune, deletion
and check per location, and the locations that still hold data rotation deleted."""

from __future__ import annotations

import dataclasses
import datetime
import json
import pathlib
import sqlite3
from collections.abc import Iterable, Mapping

from backupctl import state


def _now() -> str:
    return state.utc_now()


def _time(text: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


# ---- recorded times ----------------------------------------------------------------------------


def remember_taken(db: pathlib.Path, source: str, snapshot_id: str, location: str) -> None:
    """Record that backupctl took this snapshot now (a later sighting keeps this time)."""
    with state.connect(db) as connection:
        connection.execute(
            "INSERT INTO snapshot_records (source, snapshot_id, recorded_at, how, location)"
            " VALUES (?, ?, ?, 'backup', ?) ON CONFLICT(source, snapshot_id) DO NOTHING",
            (source, snapshot_id, _now(), location),
        )


def remember_seen(
    db: pathlib.Path, source: str, sightings: Mapping[str, str]
) -> dict[str, datetime.datetime]:
    """Given snapshot ids and where each was seen, record the ones never recorded as first seen
    now; return the recorded time of every given id."""
    now = _now()
    with state.connect(db) as connection:
        connection.executemany(
            "INSERT INTO snapshot_records (source, snapshot_id, recorded_at, how, location)"
            " VALUES (?, ?, ?, 'seen', ?) ON CONFLICT(source, snapshot_id) DO NOTHING",
            [(source, snapshot_id, now, location) for snapshot_id, location in sightings.items()],
        )
    return recorded_times(db, source, sightings)


def recorded_times(
    db: pathlib.Path, source: str, snapshot_ids: Iterable[str]
) -> dict[str, datetime.datetime]:
    """Return the recorded time of each of these snapshots that has one."""
    wanted = set(snapshot_ids)
    with state.connect(db) as connection:
        rows = connection.execute(
            "SELECT snapshot_id, recorded_at FROM snapshot_records WHERE source = ?", (source,)
        ).fetchall()
    return {snapshot_id: _time(at) for snapshot_id, at in rows if snapshot_id in wanted}


# ---- intent ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Intent:
    """A rotation that began at ``location`` and has not finished: the next run goes on from
    ``stage``."""

    source: str
    run_id: int
    location: str
    snapshot_ids: tuple[str, ...]
    stage: str  # 'forget', 'prune' or 'replicate'
    before_prune: Mapping[str, int] | None
    started_at: str


def begin(
    db: pathlib.Path, source: str, *, run_id: int, location: str, snapshot_ids: tuple[str, ...]
) -> Intent:
    """Record, before anything is deleted, that a rotation forgets these snapshots here."""
    intent = Intent(source, run_id, location, snapshot_ids, "forget", None, _now())
    with state.connect(db) as connection:
        connection.execute(
            "INSERT INTO rotation_intents (source, run_id, location, snapshot_ids, stage,"
            " before_prune, started_at) VALUES (?, ?, ?, ?, ?, NULL, ?)",
            (source, run_id, location, json.dumps(list(snapshot_ids)), "forget", intent.started_at),
        )
    return intent


def advance(
    db: pathlib.Path, intent: Intent, stage: str, *, before_prune: Mapping[str, int] | None = None
) -> Intent:
    """Record that the rotation reached ``stage`` (with the listing taken before prune)."""
    listing = before_prune if before_prune is not None else intent.before_prune
    with state.connect(db) as connection:
        connection.execute(
            "UPDATE rotation_intents SET stage = ?, before_prune = ? WHERE source = ?",
            (stage, json.dumps(dict(listing)) if listing is not None else None, intent.source),
        )
    return dataclasses.replace(intent, stage=stage, before_prune=listing)


def finish(db: pathlib.Path, source: str) -> None:
    with state.connect(db) as connection:
        connection.execute("DELETE FROM rotation_intents WHERE source = ?", (source,))


def unfinished(db: pathlib.Path, source: str) -> Intent | None:
    """Return the source's unfinished rotation, or None."""
    with state.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        row = connection.execute(
            "SELECT * FROM rotation_intents WHERE source = ?", (source,)
        ).fetchone()
    if row is None:
        return None
    before = json.loads(row["before_prune"]) if row["before_prune"] else None
    return Intent(
        row["source"],
        row["run_id"],
        row["location"],
        tuple(json.loads(row["snapshot_ids"])),
        row["stage"],
        before,
        row["started_at"],
    )


# ---- events ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Event:
    """One step of a rotation at one location, with the ids and counts it touched."""

    source: str
    location: str
    step: str  # 'forget', 'prune', 'delete', 'copy', 'verify'
    ok: bool
    snapshot_ids: tuple[str, ...] = ()
    files: int = 0
    bytes: int = 0
    detail: str = ""


def record_event(db: pathlib.Path, run_id: int, event: Event) -> None:
    with state.connect(db) as connection:
        connection.execute(
            "INSERT INTO rotation_events (run_id, source, location, step, ok, snapshot_ids,"
            " files, bytes, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                event.source,
                event.location,
                event.step,
                int(event.ok),
                json.dumps(list(event.snapshot_ids)),
                event.files,
                event.bytes,
                event.detail,
                _now(),
            ),
        )


def events(db: pathlib.Path, run_ids: Iterable[int]) -> dict[int, list[dict]]:
    """Return the rotation events of these runs, in order, by run id."""
    found: dict[int, list[dict]] = {}
    with state.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        for run_id in run_ids:
            rows = connection.execute(
                "SELECT * FROM rotation_events WHERE run_id = ? ORDER BY rowid", (run_id,)
            ).fetchall()
            if rows:
                found[run_id] = [
                    {**dict(row), "snapshot_ids": json.loads(row["snapshot_ids"])} for row in rows
                ]
    return found


# ---- locations still holding deleted data ------------------------------------------------------


def still_held(db: pathlib.Path, source: str, location: str, *, run_id: int, reason: str) -> None:
    """Record that ``location`` still holds data rotation deleted (kept from the first run that
    found it so)."""
    with state.connect(db) as connection:
        connection.execute(
            "INSERT INTO rotation_pending (source, location, since, run_id, reason)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(source, location) DO UPDATE SET"
            " reason = excluded.reason",
            (source, location, _now(), run_id, reason),
        )


def caught_up(db: pathlib.Path, source: str, location: str) -> None:
    with state.connect(db) as connection:
        connection.execute(
            "DELETE FROM rotation_pending WHERE source = ? AND location = ?", (source, location)
        )


def pending(db: pathlib.Path, source: str) -> list[dict]:
    """Return the locations of a source that still hold data rotation deleted."""
    with state.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute(
            "SELECT * FROM rotation_pending WHERE source = ? ORDER BY location", (source,)
        ).fetchall()
    return [dict(row) for row in rows]


# ---- the manifest ------------------------------------------------------------------------------


def mark_removed(db: pathlib.Path, source: str, paths: Iterable[str]) -> None:
    """Record that the toolkit removed these repository files (also ones the manifest never
    held, such as a foreign snapshot): every location then deletes them, none copies them."""
    now = _now()
    with state.connect(db) as connection:
        connection.executemany(
            "INSERT INTO manifest_files (source, path, size, added_at, deleted_at)"
            " VALUES (?, ?, 0, ?, ?) ON CONFLICT(source, path) DO UPDATE SET"
            " deleted_at = COALESCE(manifest_files.deleted_at, excluded.deleted_at)",
            [(source, path, now, now) for path in paths],
        )


def mark_written(db: pathlib.Path, source: str, files: Mapping[str, int]) -> None:
    """Record files prune wrote: live in the manifest at this size (a name restic reuses for
    identical content is live again)."""
    now = _now()
    with state.connect(db) as connection:
        connection.executemany(
            "INSERT INTO manifest_files (source, path, size, added_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(source, path) DO UPDATE SET size = excluded.size, deleted_at = NULL",
            [(source, path, size, now) for path, size in files.items()],
        )
