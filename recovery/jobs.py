"""Repair jobs and their chain of custody, kept in the toolkit's embedded SQLite state.

A job is opened with the customer's consent reference, gets one medium attached (its identity:
model, serial, size, sector sizes), collects custody events (imaging adds its own) and is closed.
Events are append-only (SQLite triggers refuse UPDATE and DELETE) and hash-chained
(``recovery/custody.py``); the job row keeps the head digest, and the store-wide ledger
(``recovery/ledger.py``) records every event of every job, so removing the last events of a job or
deleting a job row shows too. Identifiers are checked where they enter (``job_sql.check_*``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import sqlite3
from collections.abc import Callable

from recovery import custody, errors, job_sql, ledger, state_db
from recovery.custody import CustodyEvent  # re-exported: callers use jobs.CustodyEvent
from recovery.devices import BlockDevice

__all__ = ["CustodyEvent", "Job", "JobStore", "Medium"]


@dataclasses.dataclass(frozen=True)
class Medium:
    """The identity of a customer's medium as recorded when it was attached to a job."""

    node: str
    kind: str
    model: str | None
    serial: str | None
    size_bytes: int
    logical_sector_size: int
    physical_sector_size: int

    @classmethod
    def from_device(cls, device: BlockDevice) -> Medium:
        return cls(
            node=device.node,
            kind=device.kind,
            model=device.model,
            serial=device.serial,
            size_bytes=device.size_bytes,
            logical_sector_size=device.logical_sector_size,
            physical_sector_size=device.physical_sector_size,
        )

    def differences(self, other: Medium | BlockDevice) -> tuple[str, ...]:
        """Given another medium or a device, return how its identity differs (node aside)."""
        fields = ("model", "serial", "size_bytes", "logical_sector_size", "physical_sector_size")
        return tuple(
            f"{name}: recorded {getattr(self, name)!r}, now {getattr(other, name)!r}"
            for name in fields
            if getattr(self, name) != getattr(other, name)
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Job:
    job_id: str
    customer: str
    consent_ref: str
    ticket: str | None
    note: str | None
    status: str  # "open" or "closed"
    opened_at: str
    medium: Medium | None
    folder: pathlib.Path
    closed_at: str | None = None

    def to_dict(self) -> dict:
        result = dataclasses.asdict(self)
        result["folder"] = str(self.folder)
        result["medium"] = self.medium.to_dict() if self.medium else None
        return result


class JobStore:
    """Given the SQLite state file and the jobs folder root, keep repair jobs and custody events."""

    def __init__(
        self,
        db_path: pathlib.Path,
        jobs_root: pathlib.Path,
        *,
        clock: Callable[[], str] = custody.utc_now,
    ) -> None:
        self.db_path = pathlib.Path(db_path)
        self.jobs_root = pathlib.Path(jobs_root)
        self._clock = clock
        state_db.prepare(self.db_path)
        with self._connect() as connection:
            job_sql.migrate(connection, ledger.adopt)

    def _connect(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return state_db.connect(self.db_path)

    def _write(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return state_db.write(self.db_path)

    # -- jobs -------------------------------------------------------------------------------

    def open_job(
        self,
        *,
        customer: str,
        consent_ref: str,
        ticket: str | None,
        note: str | None,
        actor: str,
        host: str,
    ) -> Job:
        """Open a job for a customer with their consent reference; refuse without consent.

        Raise InvalidRequest for a reference or ticket with other characters than letters, digits
        and ``. _ : / # -`` (at most 64), or free text longer than 2000 characters.
        """
        job_sql.check_free_text("customer", customer)
        job_sql.check_free_text("note", note)
        job_sql.check_reference("ticket", ticket)
        if not customer.strip():
            raise errors.InvalidRequest("a job needs the customer's name or number")
        if not consent_ref.strip():
            raise errors.RefusedError(
                "no consent reference: a job needs the customer's recorded consent"
            )
        job_sql.check_reference("consent reference", consent_ref)
        at = self._clock()
        with self._write() as connection:
            job_id = job_sql.next_job_id(connection, at)
            connection.execute(
                "INSERT INTO recovery_jobs (job_id, customer, consent_ref, ticket, note, status,"
                " opened_at, head_digest) VALUES (?, ?, ?, ?, ?, 'open', ?, ?)",
                (job_id, customer, consent_ref, ticket, note, at, custody.GENESIS),
            )
            details = {
                "customer": customer,
                "consent_ref": consent_ref,
                "ticket": ticket,
                "note": note,
            }
            self._append(
                connection,
                job_id,
                kind=custody.JOB_OPENED,
                actor=actor,
                host=host,
                at=at,
                details=details,
            )
        _make_private_folder(self.jobs_root / job_id)
        return self.get(job_id)

    def attach(
        self, job_id: str, medium: Medium, *, actor: str, host: str, details: dict | None = None
    ) -> Job:
        """Record the medium's identity on an open job; refuse a different medium than the one
        attached.

        Attaching the same medium again (same model, serial, size, sectors) records its new node,
        for a medium that was unplugged and came back under another name.
        """
        with self._write() as connection:
            job = self._job_row(connection, job_id)
            _require_open(job)
            reattached = job.medium is not None
            if job.medium is not None and job.medium.differences(medium):
                raise errors.RefusedError(
                    f"job {job_id} already has a medium ({job.medium.model or 'unknown model'},"
                    f" serial {job.medium.serial or 'unknown'}); open a new job for another medium"
                )
            connection.execute(
                "UPDATE recovery_jobs SET medium = ? WHERE job_id = ?",
                (json.dumps(medium.to_dict()), job_id),
            )
            event_details = {
                "medium": medium.to_dict(),
                "reattached": reattached,
                **(details or {}),
            }
            self._append(
                connection,
                job_id,
                kind=custody.MEDIUM_ATTACHED,
                actor=actor,
                host=host,
                at=self._clock(),
                details=event_details,
            )
        return self.get(job_id)

    def close(
        self, job_id: str, *, actor: str, host: str, details: Callable[[str], dict] = lambda at: {}
    ) -> Job:
        """Close an open job; refuse one that is already closed. ``details(closed_at)`` gives the
        event's details (the outcome and deletion date, ``recovery/closeout.py``)."""
        at = self._clock()
        with self._write() as connection:
            _require_open(self._job_row(connection, job_id))
            connection.execute(
                "UPDATE recovery_jobs SET status = 'closed', closed_at = ? WHERE job_id = ?",
                (at, job_id),
            )
            self._append(
                connection,
                job_id,
                kind=custody.JOB_CLOSED,
                actor=actor,
                host=host,
                at=at,
                details=details(at),
            )
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        """Return the job; raise JobNotFound when there is none with that id, InvalidRequest for
        a malformed id and CustodyBrokenError for a job whose row was deleted."""
        with self._connect() as connection:
            return self._job_row(connection, job_id)

    def store_problems(self) -> list[str]:
        """Return what is wrong store-wide: the ledger chain, deleted or unrecorded job rows."""
        with self._connect() as connection:
            connection.execute("BEGIN")
            problems = ledger.store_problems(connection)
            connection.execute("COMMIT")
        return problems

    def list(self, *, open_only: bool = False) -> list[Job]:
        """Return all jobs (or only open ones), oldest first."""
        query = "SELECT * FROM recovery_jobs"
        query += " WHERE status = 'open'" if open_only else ""
        with self._connect() as connection:
            rows = connection.execute(query + " ORDER BY opened_at, job_id").fetchall()
        return [self._job_from_row(row) for row in rows]

    # -- custody ----------------------------------------------------------------------------

    def record_event(
        self, job_id: str, *, kind: str, actor: str, host: str, details: dict
    ) -> CustodyEvent:
        """Append a custody event to an open job and return it; raise JobClosedError when closed
        (except for the kinds recorded after close: custody.AFTER_CLOSE_KINDS)."""
        with self._write() as connection:
            job = self._job_row(connection, job_id)
            if kind not in custody.AFTER_CLOSE_KINDS:
                _require_open(job)
            return self._append(
                connection,
                job_id,
                kind=kind,
                actor=actor,
                host=host,
                at=self._clock(),
                details=details,
            )

    def events(self, job_id: str) -> list[CustodyEvent]:
        """Return the job's custody events in order; raise JobNotFound for an unknown job."""
        with self._connect() as connection:
            self._job_row(connection, job_id)
            return _events(connection, job_id)

    def verify_chain(self, job_id: str) -> tuple[bool, str]:
        """Return (verifies, explanation) for the job's custody chain and the job record itself."""
        with self._connect() as connection:
            connection.execute("BEGIN")  # one snapshot: an event appended meanwhile is no "break"
            job = self._job_row(connection, job_id)
            head = connection.execute(
                "SELECT head_digest FROM recovery_jobs WHERE job_id = ?", (job_id,)
            ).fetchone()["head_digest"]
            events = _events(connection, job_id)
            pairs = [(event.sequence, event.digest) for event in events]
            problems = ledger.job_problems(connection, job_id, pairs)
            problems += ledger.chain_problems(connection)
            connection.execute("COMMIT")
        verifies, explanation = custody.verify(events, head_digest=head)
        if not verifies:
            return verifies, explanation
        if problems:
            return False, "; ".join(problems)
        mismatch = _record_mismatch(job, events)
        return (False, mismatch) if mismatch else (True, explanation)

    # -- internals --------------------------------------------------------------------------

    def _append(
        self,
        connection: sqlite3.Connection,
        job_id: str,
        *,
        kind: str,
        actor: str,
        host: str,
        at: str,
        details: dict,
    ) -> CustodyEvent:
        row = connection.execute(
            "SELECT sequence, digest FROM recovery_custody_events WHERE job_id = ?"
            " ORDER BY sequence DESC LIMIT 1",
            (job_id,),
        ).fetchone()
        sequence, previous = (row["sequence"] + 1, row["digest"]) if row else (1, custody.GENESIS)
        details = json.loads(json.dumps(details))  # the stored form, so digests recompute exactly
        unsealed = CustodyEvent(sequence, job_id, kind, actor, host, at, details, digest="")
        digest = custody.digest_of(unsealed, previous)
        connection.execute(
            "INSERT INTO recovery_custody_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (job_id, sequence, kind, actor, host, at, json.dumps(details, sort_keys=True), digest),
        )
        connection.execute(
            "UPDATE recovery_jobs SET head_digest = ? WHERE job_id = ?", (digest, job_id)
        )
        ledger.append(connection, job_id, sequence, digest)
        return dataclasses.replace(unsealed, digest=digest)

    def _job_row(self, connection: sqlite3.Connection, job_id: str) -> Job:
        job_sql.check_job_id(job_id)
        row = connection.execute(
            "SELECT * FROM recovery_jobs WHERE job_id = ?", (job_id,)
        ).fetchone()
        if row is None and job_id in ledger.missing_jobs(connection):
            raise errors.CustodyBrokenError(
                f"job {job_id} was deleted: the custody ledger records it but its row is missing"
            )
        if row is None:
            raise errors.JobNotFound(f"no repair job {job_id!r} (see: backupctl job list)")
        return self._job_from_row(row)

    def _job_from_row(self, row: sqlite3.Row) -> Job:
        medium = Medium(**json.loads(row["medium"])) if row["medium"] else None
        return Job(
            job_id=row["job_id"],
            customer=row["customer"],
            consent_ref=row["consent_ref"],
            ticket=row["ticket"],
            note=row["note"],
            status=row["status"],
            opened_at=row["opened_at"],
            medium=medium,
            folder=self.jobs_root / row["job_id"],
            closed_at=row["closed_at"],
        )


def _events(connection: sqlite3.Connection, job_id: str) -> list[CustodyEvent]:
    rows = connection.execute(
        "SELECT * FROM recovery_custody_events WHERE job_id = ? ORDER BY sequence", (job_id,)
    ).fetchall()
    return [job_sql.event_from_row(row) for row in rows]


def _make_private_folder(folder: pathlib.Path) -> None:
    """Create a job's folder 0700 (its parent too); refuse one that is a symlink or not ours."""
    folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if folder.parent.stat().st_uid == os.geteuid():
        os.chmod(folder.parent, 0o700)
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        info = os.lstat(folder)
        if not pathlib.Path(folder).is_dir() or folder.is_symlink() or info.st_uid != os.geteuid():
            raise errors.RefusedError(
                f"{folder} exists and is not a folder of this user: refusing to use it"
            ) from None
    os.chmod(folder, 0o700)


def _require_open(job: Job) -> None:
    if job.status != "open":
        raise errors.JobClosedError(
            f"job {job.job_id} is closed; its custody record takes no more events"
        )


def _record_mismatch(job: Job, events: list[CustodyEvent]) -> str | None:
    """Given a job record and its verified events, return how the record disagrees with them."""
    opened = events[0].details if events[0].kind == custody.JOB_OPENED else {}
    for name in ("customer", "consent_ref", "ticket", "note"):
        if opened.get(name) != getattr(job, name):
            return f"the job record's {name} differs from the custody record: it was altered"
    attached = [
        event.details["medium"] for event in events if event.kind == custody.MEDIUM_ATTACHED
    ]
    recorded = job.medium.to_dict() if job.medium else None
    if (attached[-1] if attached else None) != recorded:
        return "the job record's medium differs from the custody record: it was altered"
    closed = any(event.kind == custody.JOB_CLOSED for event in events)
    if closed != (job.status == "closed"):
        return "the job record's status differs from the custody record: it was altered"
    return None
