"""Tapes in the repair workshop: image a customer's tape into a SIMH .tap for a job, show a
drive's status, list the files of an image and extract one.

The "what": check the job and the drive, choose the job's private image folder, record custody
events (tape.started, tape.finished, tape.interrupted, tape.failed, tape.refused) and run the
read (recovery.tape_read) through the one st driver module (recovery.st_driver), reached via an
injected ``TapeAccess`` so tests can put the emulator behind the same interface.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from typing import Protocol

from backupctl import __version__
from backupctl.actions.image import Who
from recovery import (
    custody,
    errors,
    image_folder,
    image_state,
    simh_tap,
    st_driver,
    tape_output,
    tape_read,
    udev_source,
)
from recovery.devices import BlockDevice
from recovery.jobs import JobStore, Medium

__all__ = ["Request", "SystemTapeAccess", "TapeAccess", "Who", "image", "info"]

logger = logging.getLogger(__name__)
DEFAULT_RETRIES = 3
MAX_LISTED = 1000  # bad records listed in the custody event (all are counted)


class TapeAccess(Protocol):
    """How the tape actions reach a drive: its description, and the drive itself."""

    def describe(self, node: str) -> BlockDevice: ...

    def open(self, node: str) -> st_driver.TapeDrive: ...


class SystemTapeAccess:
    """The real drives: udev for the description, the st driver for the rest."""

    def __init__(self, state_paths: tuple[str, ...] = ()) -> None:
        self.state_paths = state_paths

    def describe(self, node: str) -> BlockDevice:
        return udev_source.describe(node, state_paths=self.state_paths)

    def open(self, node: str) -> st_driver.TapeDrive:
        return st_driver.open_drive(node)


@dataclasses.dataclass(frozen=True)
class Request:
    job_id: str
    device: str
    retries: int = DEFAULT_RETRIES
    label: str | None = None
    restart: bool = False


def _record(store: JobStore, job_id: str, kind: str, who: Who, details: dict) -> None:
    store.record_event(job_id, kind=kind, actor=who.actor, host=who.host, details=details)


def _tape_device(access: TapeAccess, node: str) -> BlockDevice:
    device = access.describe(node)
    if device.kind != "tape":
        raise errors.InvalidRequest(
            f"{node} is a {device.kind}, not a tape drive; image disks with: backupctl media image"
        )
    return device


def info(access: TapeAccess, node: str) -> dict:
    """Given a tape drive's node, return its identity and status (the tape is not moved)."""
    device = _tape_device(access, node)
    drive = access.open(device.node)
    try:
        status = drive.status()
    except OSError as error:
        raise errors.RecoveryError(f"cannot read the status of {node}: {error.strerror}") from None
    finally:
        drive.close()
    return {
        "device": device.node,
        "vendor": device.vendor,
        "model": device.model,
        "serial": device.serial,
        **status.to_dict(),
        "variable_block_mode": status.block_size == 0,
    }


def _prepare_folder(
    store: JobStore, request: Request, device: BlockDevice, who: Who
) -> tape_output.TapePaths:
    """Check the job and the drive, attach the drive, open the job's image folder."""
    job = store.get(request.job_id)
    if job.status != "open":
        raise errors.JobClosedError(f"job {job.job_id} is closed; open a new job to image again")
    differences = job.medium.differences(device) if job.medium is not None else ()
    if differences:
        reasons = (
            f"{device.node} is not the drive of job {job.job_id}: " + "; ".join(differences),
        )
        _record(store, job.job_id, "tape.refused", who, {"device": device.node, "reasons": reasons})
        raise errors.RefusedError(reasons[0])
    if job.medium is None or job.medium.node != device.node:
        medium = Medium.from_device(device)
        store.attach(job.job_id, medium, actor=who.actor, host=who.host, details={"by": "tape"})
    state = image_state.ImageState(store.db_path)
    recorded = state.folder(job.job_id)
    folder = recorded.folder if recorded is not None else job.folder
    record = image_folder.open_folder(
        folder, recorded, job_id=job.job_id, fresh=not os.path.lexists(folder)
    )
    state.record_folder(job.job_id, record)
    paths = tape_output.TapePaths.in_folder(folder, job.job_id, request.label)
    image_folder.check_own_file(paths.image)
    return paths


def _started(device: BlockDevice, status: st_driver.DriveStatus, request: Request) -> dict:
    return {
        "device": device.node,
        "vendor": device.vendor,
        "model": device.model,
        "serial": device.serial,
        "label": request.label,
        "retries": request.retries,
        "drive_status": status.to_dict(),
        "tool": f"backupctl {__version__}",
        "started_at": custody.utc_now(),
    }


def image(
    store: JobStore,
    request: Request,
    who: Who,
    *,
    access: TapeAccess | None = None,
    on_progress: Callable[[tape_read.Progress], None] | None = None,
) -> dict:
    """Image the tape in a drive into the job's folder; return the tape.finished details.

    Resume after the last complete tape file of an interrupted image (the drive spaces over
    the filemarks) unless ``restart``. Raise RefusedError, TapeReadError (no tape, or the
    drive cannot rewind or position), JobClosedError.
    """
    access = access or SystemTapeAccess(who.state_paths)
    device = _tape_device(access, request.device)
    paths = _prepare_folder(store, request, device, who)
    with tape_output.exclusive(paths):
        stream, point = tape_output.open_for_writing(paths, restart=request.restart)
        drive = access.open(device.node)
        try:
            status = tape_read.prepare(drive, skip_files=len(point.complete_files))
            started = {
                **_started(device, status, request),
                "paths": paths.to_dict(),
                "resume_from_file": len(point.complete_files),
            }
            _record(store, request.job_id, "tape.started", who, started)
            result = _run(store, request, who, drive, stream, point, on_progress)
        finally:
            drive.close()
            tape_output.finish(stream)
    digests = stream.digests()
    files = point.complete_files + result.files
    details = {
        "paths": paths.to_dict(),
        **digests.to_dict(),
        "files": [file.to_dict() for file in files],
        "bad_records": [bad.to_dict() for bad in result.bad_records[:MAX_LISTED]],
        "bad_record_count": len(result.bad_records),
        "records": sum(file.records for file in files),
        "data_bytes": sum(file.bytes for file in files),
        "end": result.end,
        "largest_buffer": result.largest_buffer,
        "tool": f"backupctl {__version__}",
        "format": "SIMH .tap",
        "started_at": started["started_at"],
        "finished_at": custody.utc_now(),
    }
    _record(store, request.job_id, "tape.finished", who, details)
    return details


def _run(store, request, who, drive, stream, point, on_progress) -> tape_read.ReadResult:
    """Read the tape; record tape.interrupted or tape.failed when the read does not finish."""
    try:
        return tape_read.read_tape(
            drive,
            simh_tap.Writer(stream),
            retries=request.retries,
            first_file=len(point.complete_files),
            on_progress=on_progress,
        )
    except BaseException as error:  # every started run ends in the custody record
        kind = "tape.interrupted" if isinstance(error, KeyboardInterrupt) else "tape.failed"
        try:
            _record(
                store, request.job_id, kind, who, {"reason": str(error) or type(error).__name__}
            )
        except Exception:  # the original error is the one to report
            logger.exception("cannot record the end of tape imaging for job %s", request.job_id)
        raise
