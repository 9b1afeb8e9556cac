"""Image a customer's medium for a repair job, and verify the image later.

The "what": check the job and the medium, plan the run (recovery.imaging), refuse what is unsafe,
record custody events (image.started, image.finished, image.interrupted, image.failed,
image.refused, image.verified) and run the plan (recovery.image_run, which drives ddrescue).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
from collections.abc import Callable

from recovery import (
    blockdev,
    custody,
    ddrescue,
    errors,
    image_folder,
    image_hash,
    image_run,
    image_state,
    imaging,
    udev_source,
)
from recovery import mapfile as mapfile_module
from recovery.devices import BlockDevice
from recovery.jobs import Job, JobStore, Medium

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Request:
    job_id: str
    device: str
    out_dir: pathlib.Path | None = None
    retries: int = 1
    direct: bool = False
    force_system: bool = False
    binary: str = ddrescue.DEFAULT_BINARY


@dataclasses.dataclass(frozen=True)
class Who:
    actor: str
    host: str
    state_paths: tuple[str, ...] = ()


def _record(store: JobStore, job_id: str, kind: str, who: Who, details: dict):
    return store.record_event(job_id, kind=kind, actor=who.actor, host=who.host, details=details)


def _check_medium(job: Job, device: BlockDevice) -> None:
    """Refuse a device that is not the job's medium (when the job has one recorded)."""
    differences = job.medium.differences(device) if job.medium is not None else ()
    if differences:
        raise errors.RefusedError(
            f"{device.node} is not the medium of job {job.job_id}: " + "; ".join(differences)
        )


def _attach_medium(store: JobStore, job: Job, device: BlockDevice, who: Who) -> None:
    """Record the device as the job's medium when it has none, or under its new node."""
    if job.medium is None or job.medium.node != device.node:
        store.attach(
            job.job_id,
            Medium.from_device(device),
            actor=who.actor,
            host=who.host,
            details={"by": "media image"},
        )


def _chosen_folder(
    job: Job, request: Request, recorded: image_state.FolderRecord | None
) -> tuple[pathlib.Path, bool, tuple[str, ...]]:
    """Return the job's image folder, whether it is to be created fresh, and why --out is unsafe.

    ``--out DIR`` means ``DIR/J/`` (created by this run, or reopened when an earlier run of this
    job created it); without it, the folder of the job's last imaging run, else the job's own.
    """
    if request.out_dir is not None:
        folder = pathlib.Path(os.path.abspath(request.out_dir)) / job.job_id
        return folder, True, image_folder.out_dir_reasons(request.out_dir)
    folder = recorded.folder if recorded is not None else job.folder
    return folder, not os.path.lexists(folder), ()


def _existing_mapfile(path: pathlib.Path) -> mapfile_module.Mapfile | None:
    """A damaged mapfile is an error, never a silent restart from nothing."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with open(path) as stream:
        return mapfile_module.parse(stream)


def _existing_ancestor(folder: pathlib.Path) -> pathlib.Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _safety(device: BlockDevice, paths: imaging.ImagePaths, request: Request) -> tuple[str, ...]:
    folder = _existing_ancestor(paths.image.parent)  # nothing is created before the checks pass
    stacked = blockdev.stacked_numbers(blockdev.device_number(device.node))
    is_file = paths.image.is_file() and not paths.image.is_symlink()
    existing = paths.image.stat().st_blocks * 512 if is_file else 0
    not_a_file = (  # e.g. a link to a block device: ddrescue would write to that device
        (f"{paths.image} exists and is not a regular file",)
        if os.path.lexists(paths.image) and not is_file
        else ()
    )
    return (
        imaging.output_on_source_reasons(
            device,
            output_dir=folder,
            output_number=blockdev.filesystem_number(folder),
            stacked=stacked,
        )
        + imaging.system_reasons(device, force_system=request.force_system)
        + imaging.space_reasons(
            size_bytes=device.size_bytes,
            existing_image_bytes=existing,
            free_bytes=blockdev.free_bytes(folder),
        )
        + not_a_file
    )


def _refuse(store: JobStore, job_id: str, who: Who, node: str, reasons: tuple[str, ...]) -> None:
    _record(store, job_id, "image.refused", who, {"device": node, "reasons": list(reasons)})
    imaging.check_or_refuse(reasons)


def plan(store: JobStore, request: Request, who: Who) -> tuple[imaging.ImagePlan, BlockDevice]:
    """Given a request, return the plan and the device; raise RefusedError when it is unsafe,
    InvalidRequest when ``--out`` is not a directory."""
    job = store.get(request.job_id)
    if job.status != "open":
        raise errors.JobClosedError(f"job {job.job_id} is closed; open a new job to image again")
    device = udev_source.describe(request.device, state_paths=who.state_paths)
    if device.kind == "tape":
        raise errors.InvalidRequest(
            f"{device.node} is a tape drive; image tapes with:"
            f" backupctl tape image {device.node} --job {job.job_id}"
        )
    _check_medium(job, device)
    state = image_state.ImageState(store.db_path)
    recorded = state.folder(job.job_id)
    folder, fresh, out_reasons = _chosen_folder(job, request, recorded)
    paths = imaging.ImagePaths.in_folder(folder, job.job_id)
    reasons = out_reasons or _safety(device, paths, request)
    if reasons:
        _refuse(store, job.job_id, who, device.node, reasons)
    _attach_medium(store, job, device, who)
    try:
        record = image_folder.open_folder(folder, recorded, job_id=job.job_id, fresh=fresh)
        for path in (paths.image, paths.mapfile):
            image_folder.check_own_file(path)
    except errors.RefusedError as error:
        _refuse(store, job.job_id, who, device.node, (str(error),))
        raise
    state.record_folder(job.job_id, record)
    current = _existing_mapfile(paths.mapfile)
    phases, why = imaging.choose_phases(current, retries=request.retries)
    direct, direct_why = imaging.choose_direct(device, requested=request.direct)
    options = ddrescue.RescueOptions(
        sector_size=device.logical_sector_size or 512,
        retries=request.retries,
        direct=direct,
    )
    return imaging.ImagePlan(
        device.node,
        paths,
        device.size_bytes,
        options,
        phases,
        resume=current is not None,
        reasons=(why, direct_why) if direct_why else (why,),
    ), device


def _totals_details(totals: mapfile_module.Totals, areas) -> dict:
    bad_area_list = [[area.position, area.size] for area in areas[:1000]]
    return {**dataclasses.asdict(totals), "bad_area_list": bad_area_list}


def _started_details(
    image_plan: imaging.ImagePlan, device: BlockDevice, request: Request, version: str
) -> dict:
    argvs = [list(argv) for argv in image_plan.argvs(request.binary)]
    return {
        "device": device.node,
        "serial": device.serial,
        "size_bytes": device.size_bytes,
        "paths": image_plan.paths.to_dict(),
        "resume": image_plan.resume,
        "runs": list(image_plan.phases),
        "why": list(image_plan.reasons),
        "ddrescue_version": version,
        "command_lines": argvs,
        "force_system_device": request.force_system,
        "system_reasons": list(device.system_reasons),
        "started_at": custody.utc_now(),
    }


def _record_stop(
    store: JobStore, job_id: str, who: Who, paths: imaging.ImagePaths, error: BaseException
) -> None:
    """Record image.interrupted or image.failed with the totals the mapfile holds so far."""
    interrupted = isinstance(error, ddrescue.DdrescueInterrupted | KeyboardInterrupt)
    kind = "image.interrupted" if interrupted else "image.failed"
    current = image_hash.read_mapfile(paths.mapfile)
    details = {"reason": str(error) or type(error).__name__, "at": custody.utc_now()}
    if current is not None:
        details["totals"] = _totals_details(current.totals(), current.bad_areas())
    _record(store, job_id, kind, who, details)


def image(
    store: JobStore,
    request: Request,
    who: Who,
    *,
    on_progress: Callable[[image_run.Progress], None] | None = None,
) -> dict:
    """Image the medium of a job; return the details recorded in the image.finished event.

    Raise RefusedError when unsafe, DdrescueInterrupted (resumable) on a signal, DdrescueError.
    """
    version = ".".join(map(str, ddrescue.version(request.binary)))
    image_plan, device = plan(store, request, who)
    with image_run.exclusive(image_plan.paths):
        started = _started_details(image_plan, device, request, version)
        _record(store, request.job_id, "image.started", who, started)
        try:
            result = image_run.execute(
                image_plan,
                read_only_record=image_state.JobReadOnlyRecord(
                    image_state.ImageState(store.db_path), request.job_id
                ),
                on_progress=on_progress,
                binary=request.binary,
            )
        except BaseException as error:  # every started run ends in the custody record
            try:
                _record_stop(store, request.job_id, who, image_plan.paths, error)
            except Exception:  # the original error is the one to report
                logger.exception("cannot record the end of imaging for job %s", request.job_id)
            raise
    details = {
        "paths": image_plan.paths.to_dict(),
        **result.digests.to_dict(),
        "totals": _totals_details(result.totals, result.bad_areas),
        "ddrescue_version": version,
        "command_lines": [list(argv) for argv in result.argvs],
        "started_at": started["started_at"],
        "finished_at": custody.utc_now(),
        "read_only_enforced": result.read_only.enforced,
        "read_only_note": result.read_only.reason,
    }
    _record(store, request.job_id, "image.finished", who, details)
    return details


def verify(store: JobStore, job_id: str, who: Who) -> dict:
    """Re-hash the job's image and compare with the image.finished record; raise on a mismatch."""
    finished = [event for event in store.events(job_id) if event.kind == "image.finished"]
    if not finished:
        raise imaging.NoImageError(f"job {job_id} has no finished image to verify")
    expected = finished[-1].details
    image_path = pathlib.Path(expected["paths"]["image"])
    if not image_path.exists():
        actual = {"size": None, "md5": None, "sha256": None}
    else:
        actual = image_hash.hash_file(image_path).to_dict()
    differences = imaging.compare_digests(expected, actual)
    details = {
        "image": str(image_path),
        "match": not differences,
        "differences": list(differences),
        **actual,
    }
    if store.get(job_id).status == "open":
        _record(store, job_id, "image.verified", who, details)
    else:
        logger.warning(
            "job %s is closed: the verification is not added to its custody record", job_id
        )
    if differences:
        raise imaging.ImageMismatchError(
            f"image of job {job_id} does not match: " + "; ".join(differences)
        )
    return details
