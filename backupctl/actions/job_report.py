"""`job report`: gather a job's record, its mapfile and its latest scan, write the HTML report.

The report is written root-only (0600) through a fresh temporary file in the target's folder
that is then renamed over the target: an existing symlink, device or folder at the target is
refused, never followed or written through. Writing it is a custody event (``report.written``,
with the file's SHA-256), recorded on closed jobs too: a report is often made at hand-over.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
import pathlib
import stat
import tempfile

from recovery import closeout, errors, recovered_files, report_facts, report_html, scan_record
from recovery import mapfile as mapfile_module
from recovery.jobs import JobStore

MAX_MAPFILE_BYTES = 64 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class WrittenReport:
    path: pathlib.Path
    sha256: str
    size: int
    chain: str = ""  # why the custody chain does not verify; empty when it does

    def to_dict(self) -> dict:
        return {"path": str(self.path), "sha256": self.sha256, "size": self.size}


def require_verified(written: WrittenReport) -> None:
    """Raise CustodyBrokenError (exit 3) when the report was written over a broken chain (the
    report says so too)."""
    if written.chain:
        raise errors.CustodyBrokenError(
            f"report written to {written.path}, but the custody chain does not verify:"
            f" {written.chain}"
        )


def _read_mapfile(path: str | None, destroyed: bool) -> tuple[mapfile_module.Mapfile | None, str]:
    """Return the mapfile (or None) and, when None, why there is no map."""
    if path is None:
        return None, "No sector map: the medium has not been imaged."
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        why = "deleted with the workshop's copies" if destroyed else "not found"
        return None, f"No sector map: the mapfile {path} was {why}."
    except OSError as error:
        return None, f"No sector map: the mapfile {path} cannot be read ({error.strerror})."
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            return None, f"No sector map: {path} is not a regular file."
        data = stream.read(MAX_MAPFILE_BYTES + 1)
    if len(data) > MAX_MAPFILE_BYTES:
        return None, f"No sector map: the mapfile {path} is larger than {MAX_MAPFILE_BYTES} bytes."
    try:
        return mapfile_module.parse(data.decode("utf-8", "replace").splitlines(True)), ""
    except mapfile_module.MapfileError as error:
        return None, f"No sector map: the mapfile is damaged ({error})."


def gather(
    store: JobStore, job_id: str, *, kept_days: int, now: datetime.datetime
) -> report_html.ReportInput:
    """Given a job, return everything its report shows; raise JobNotFound for an unknown job."""
    job = store.get(job_id)
    verifies, explanation = store.verify_chain(job_id)
    events = tuple(store.events(job_id))
    destroyed = closeout.completed_destruction(events) is not None
    mapfile, note = _read_mapfile(report_facts.mapfile_path(events), destroyed)
    return report_html.ReportInput(
        job=job,
        events=events,
        chain_verifies=verifies,
        chain_explanation=explanation,
        mapfile=mapfile,
        mapfile_note=note,
        scan=recovered_files.load(scan_record.latest_scan(events)),
        deletion=closeout.deletion_text(events, kept_days=kept_days, now=now),
        generated_at=now.isoformat(timespec="seconds"),
    )


def _write_private(target: pathlib.Path, content: bytes) -> None:
    """Write ``content`` to ``target`` 0600 by rename; refuse a target that is not a regular
    file (a symlink is not followed: it is refused)."""
    if os.path.lexists(target):
        info = os.lstat(target)
        if not stat.S_ISREG(info.st_mode):
            raise errors.RefusedError(f"{target} exists and is not a regular file (a symlink?)")
    folder = target.parent
    if not folder.is_dir():
        raise errors.InvalidRequest(f"--to: the folder {folder} does not exist")
    descriptor, temporary = tempfile.mkstemp(prefix=".report-", dir=folder)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            os.fchmod(stream.fileno(), 0o600)
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        pathlib.Path(temporary).unlink(missing_ok=True)
        raise


def write(
    store: JobStore,
    job_id: str,
    *,
    to: pathlib.Path | None,
    kept_days: int,
    now: datetime.datetime,
    actor: str,
    host: str,
) -> WrittenReport:
    """Render the job's report into ``to`` (default: the job folder) and record it in custody.

    Raise RefusedError when the target is a symlink or not a regular file, InvalidRequest when
    its folder does not exist.
    """
    data = gather(store, job_id, kept_days=kept_days, now=now)
    target = pathlib.Path(os.path.abspath(to or data.job.folder / f"{job_id}-report.html"))
    content = report_html.render(data).encode("utf-8")
    _write_private(target, content)
    chain = "" if data.chain_verifies else data.chain_explanation
    written = WrittenReport(target, hashlib.sha256(content).hexdigest(), len(content), chain)
    store.record_event(
        job_id, kind="report.written", actor=actor, host=host, details=written.to_dict()
    )
    return written
