"""Media on the bench: list what is plugged in, and watch media come and go.

When a medium appears while a job waits for one, it is attached in one step: to the job named
with ``attach_to``, or to the one an injected mediator chooses (the CLI prompts on a TTY).
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
from collections.abc import Callable, Iterator
from typing import Protocol

from backupctl.actions import custody_audit
from backupctl.actions import jobs as job_actions
from recovery import errors, udev_source
from recovery.devices import BlockDevice, describe_size
from recovery.jobs import Job, JobStore

__all__ = ["AttachMediator", "BlockDevice", "Job", "NoMediator", "WatchEvent", "describe_size"]

logger = logging.getLogger(__name__)


class AttachMediator(Protocol):
    """Asks the technician which waiting job a new medium belongs to (dfvfs-style mediator)."""

    def choose_job(self, device: BlockDevice, waiting: list[Job]) -> str | None:
        """Return the id of the job to attach the medium to, or None to leave it unattached."""


class NoMediator:
    """Never attaches: for scripts and when stdin is not a terminal."""

    def choose_job(self, device: BlockDevice, waiting: list[Job]) -> str | None:
        return None


@dataclasses.dataclass(frozen=True)
class WatchEvent:
    action: str  # "appeared", "changed", "removed" or "attached"
    device: BlockDevice
    job: Job | None = None
    refused: str | None = None  # why the medium was not attached, when it was refused

    def to_dict(self) -> dict:
        return {
            "action": self.action,
            "device": self.device.to_dict(),
            "job_id": self.job.job_id if self.job else None,
            "refused": self.refused,
        }


def list_media(*, state_dir: pathlib.Path, include_empty: bool = False) -> list[BlockDevice]:
    """Return every disk and tape drive; the disk holding ``state_dir`` counts as a system
    device."""
    return udev_source.list_devices(state_paths=(str(state_dir),), include_empty=include_empty)


def watch_media(
    *,
    state_dir: pathlib.Path,
    job_store: JobStore,
    timeout: float | None,
    count: int | None,
    attach_to: str | None,
    mediator: AttachMediator,
    actor: str,
    host: str,
    on_ready: Callable[[], None] | None = None,
) -> Iterator[WatchEvent]:
    """Yield media events until ``timeout`` passes or ``count`` events were shown.

    With ``attach_to``, the first non-system medium that appears is attached to that job and
    the watch ends. Otherwise, when open jobs wait for a medium, the mediator may choose one.
    """
    if attach_to is not None:
        job_store.get(attach_to)  # fail at once for an unknown job, not after the medium appears
    changes = udev_source.watch(timeout=timeout, state_paths=(str(state_dir),), on_ready=on_ready)
    for shown, (action, device) in enumerate(changes, start=1):
        yield WatchEvent(action, device)
        if action == udev_source.APPEARED:
            attached = _attach(
                job_store,
                device,
                attach_to=attach_to,
                mediator=mediator,
                state_dir=state_dir,
                actor=actor,
                host=host,
            )
            if attached is not None:
                yield attached
                if attach_to is not None and attached.job is not None:
                    return
        if count is not None and shown >= count:
            return


def _attach(
    job_store: JobStore,
    device: BlockDevice,
    *,
    attach_to: str | None,
    mediator: AttachMediator,
    state_dir: pathlib.Path,
    actor: str,
    host: str,
) -> WatchEvent | None:
    """Attach a medium that just appeared to the named or chosen job; return what happened."""
    if device.is_system:
        return (
            WatchEvent("refused", device, refused="; ".join(device.system_reasons))
            if attach_to
            else None
        )
    job_id = attach_to
    if job_id is None:
        waiting = job_actions.waiting_for_medium(job_store)
        job_id = mediator.choose_job(device, waiting) if waiting else None
    if job_id is None:
        return None
    try:
        job = job_actions.attach_device(
            job_store,
            job_id,
            device.node,
            state_dir=state_dir,
            allow_system=False,
            actor=actor,
            host=host,
        )
    except errors.RefusedError as error:
        return WatchEvent("refused", device, refused=str(error))
    custody_audit.mirror(job_store.db_path)  # a long watch: into the audit log now, not at its end
    return WatchEvent("attached", device, job=job)
