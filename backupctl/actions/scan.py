"""Scan a job's image for files, and browse what its file systems hold.

The "what": find the job's finished image and its mapfile (the last ``image.finished`` event),
refuse an unsafe output folder, run ``recovery.scan`` and record the scan as a custody event
(``scan.finished``, ``scan.failed`` or ``scan.interrupted``) with the output folder, the counts,
the tool versions and the manifest's SHA-256. Browsing is read-only and recorded too
(``scan.browsed``): looking at a customer's file names is an audited act.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib

from backupctl.actions.image import Who
from recovery import custody, damage, errors, image_folder, image_hash, imaging, scan
from recovery.jobs import JobStore
from recovery.scan_model import FoundFile, Partition

__all__ = ["Browse", "Who", "browse", "run_scan"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Browse:
    """What the file systems of a job's image hold under a path."""

    partitions: tuple[Partition, ...]
    files: tuple[FoundFile, ...]
    warnings: tuple[str, ...]
    damaged: tuple[int, ...] = ()  # damaged bytes of each file, from the job's mapfile

    def to_dict(self) -> dict:
        return {
            "partitions": [partition.to_dict() for partition in self.partitions],
            "files": [
                {
                    "partition": item.partition,
                    "path": item.path,
                    "size": item.size,
                    "state": item.origin,
                    "times": item.times,
                    "damaged_bytes": damaged,
                    "damaged": damaged > 0,
                    "byte_runs": [[run.offset, run.length] for run in item.runs],
                }
                for item, damaged in zip(self.files, self.damaged, strict=True)
            ],
            "warnings": list(self.warnings),
        }


def _image_paths(store: JobStore, job_id: str) -> tuple[pathlib.Path, pathlib.Path, dict]:
    """Return the image, the mapfile and the image.finished details of the job's last imaging."""
    finished = [event for event in store.events(job_id) if event.kind == "image.finished"]
    if not finished:
        raise imaging.NoImageError(f"job {job_id} has no finished image to scan (media image)")
    details = finished[-1].details
    image = pathlib.Path(details["paths"]["image"])
    if not image.is_file() or image.is_symlink():
        raise errors.RefusedError(f"the image of job {job_id} ({image}) is gone or not a file")
    return image, pathlib.Path(details["paths"]["mapfile"]), details


def _require_open(store: JobStore, job_id: str) -> None:
    if store.get(job_id).status != "open":
        raise errors.JobClosedError(f"job {job_id} is closed; a scan is recorded on an open job")


def run_scan(
    store: JobStore,
    job_id: str,
    out_dir: pathlib.Path,
    who: Who,
    *,
    carve: bool = True,
    fs_timeout: float = scan.ScanOptions.fs_timeout,
    on_progress: scan.OnProgress | None = None,
) -> dict:
    """Scan the job's image into ``out_dir``; return the summary recorded in scan.finished.

    Raise NoImageError without a finished image, RefusedError for an unsafe or non-empty
    folder or a closed job, PhotorecError when carving fails; a started scan that fails is
    recorded as scan.failed (scan.interrupted on Ctrl-C).
    """
    _require_open(store, job_id)
    image, mapfile_path, imaged = _image_paths(store, job_id)
    reasons = image_folder.out_dir_reasons(out_dir)
    if reasons:
        raise errors.RefusedError("--to is unsafe: " + "; ".join(reasons))
    mapfile = image_hash.read_mapfile(mapfile_path)
    if mapfile is None:
        logger.warning("job %s: no readable mapfile; damaged_bytes cannot be told", job_id)
    started = custody.utc_now()
    options = scan.ScanOptions(carve=carve, fs_timeout=fs_timeout)
    try:
        result = scan.scan(image, mapfile, out_dir, options=options, on_progress=on_progress)
    except BaseException as error:  # every started scan ends in the custody record
        interrupted = isinstance(error, KeyboardInterrupt)
        details = {
            "output": str(out_dir),
            "reason": str(error) or type(error).__name__,
            "started_at": started,
        }
        try:
            store.record_event(
                job_id,
                kind="scan.interrupted" if interrupted else "scan.failed",
                actor=who.actor,
                host=who.host,
                details=details,
            )
        except Exception:  # the original error is the one to report
            logger.exception("cannot record the end of the scan for job %s", job_id)
        raise
    summary = result.summary()
    details = {
        **{key: summary[key] for key in ("output", "counts", "bytes", "dropped", "tools")},
        "manifest_sha256": summary["manifest_sha256"],
        "partitions": summary["partitions"],
        "warnings": len(summary["warnings"]),
        "image_sha256": imaged.get("sha256"),
        "carved": carve,
        "started_at": started,
        "finished_at": custody.utc_now(),
    }
    store.record_event(
        job_id, kind="scan.finished", actor=who.actor, host=who.host, details=details
    )
    return summary


def browse(
    store: JobStore,
    job_id: str,
    path: str,
    who: Who,
    *,
    fs_timeout: float = scan.ScanOptions.fs_timeout,
) -> Browse:
    """List the files (allocated and deleted) under ``path`` on the job's image, read-only.

    Recorded as scan.browsed while the job is open. Raise NoImageError without an image.
    """
    image, mapfile_path, _ = _image_paths(store, job_id)
    unreadable = damage.unreadable_runs(image_hash.read_mapfile(mapfile_path))
    warnings: list[str] = []
    partitions, found = scan.list_files(image, warnings.append, timeout=fs_timeout)
    prefix = "/" + path.strip("/")
    files = tuple(
        item
        for _, item in found
        if prefix == "/" or item.path == prefix or item.path.startswith(prefix + "/")
    )
    if store.get(job_id).status == "open":
        details = {"path": prefix, "files": len(files)}
        store.record_event(
            job_id, kind="scan.browsed", actor=who.actor, host=who.host, details=details
        )
    damaged = tuple(damage.damaged_bytes(item.runs, unreadable) for item in files)
    return Browse(partitions, files, tuple(warnings), damaged)
