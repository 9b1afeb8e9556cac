"""Execute an imaging plan: hold the medium read-only, run the ddrescue runs, follow the mapfile
for progress and the overlapped hash, and return what the custody record needs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
from collections.abc import Callable

from recovery import (
    blockdev,
    ddrescue,
    ddrescue_status,
    image_folder,
    image_hash,
    imaging,
    output_lock,
)
from recovery import mapfile as mapfile_module
from recovery.imaging import ImagePaths, ImagePlan

logger = logging.getLogger(__name__)
POLL_SECONDS = 0.5


@dataclasses.dataclass(frozen=True)
class Progress:
    """One progress report; sizes in bytes, rates in bytes per second, None when unknown yet."""

    run: str
    pass_message: str | None
    domain_size: int
    rescued: int
    percent_rescued: float
    non_tried: int
    bad_sector: int
    bad_areas: int
    current_rate: int | None
    since_last_read: int | None
    hashed: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ImageResult:
    digests: image_hash.Digests
    totals: mapfile_module.Totals
    bad_areas: tuple[mapfile_module.Block, ...]
    argvs: tuple[tuple[str, ...], ...]
    read_only: blockdev.ReadOnlyGuard


class _Monitor(threading.Thread):
    """Poll the mapfile: advance the overlapped hash and report progress, until stopped."""

    def __init__(
        self,
        plan: ImagePlan,
        hasher: image_hash.FollowingHasher,
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        super().__init__(daemon=True, name="image-monitor")
        self.plan, self.hasher, self.on_progress = plan, hasher, on_progress
        self.status = ddrescue_status.StatusParser()
        self.run_name = ""
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                if self.tick():  # caught up with the finished prefix: wait for more
                    self.stopping.wait(POLL_SECONDS)
        except Exception as error:  # noqa: BLE001 (re-raised by execute once ddrescue ends)
            self.error = error

    def tick(self) -> bool:
        """Hash for at most POLL_SECONDS, report progress; return True when the hash caught up."""
        current = image_hash.read_mapfile(self.plan.paths.mapfile)
        self.hasher.follow(current, budget_seconds=POLL_SECONDS)
        if current is not None and self.on_progress is not None:
            self.on_progress(self.progress(current))
        return current is None or self.hasher.position >= current.finished_prefix()

    def progress(self, current: mapfile_module.Mapfile) -> Progress:
        totals, screen = current.totals(), self.status.status()
        return Progress(
            run=self.run_name,
            pass_message=screen.pass_message,
            domain_size=totals.domain_size,
            rescued=totals.rescued,
            percent_rescued=round(totals.percent_rescued, 2),
            non_tried=totals.non_tried,
            bad_sector=totals.bad_sector,
            bad_areas=totals.bad_areas,
            current_rate=screen.current_rate,
            since_last_read=screen.since_last_read,
            hashed=self.hasher.position,
        )


def exclusive(paths: ImagePaths) -> contextlib.AbstractContextManager[None]:
    """Hold the job's imaging lock (0600, never through a symlink); raise RefusedError when another
    run holds it."""
    return output_lock.exclusive(
        paths.lock, busy=f"another media image run is writing {paths.image}; wait for it or stop it"
    )


def execute(
    plan: ImagePlan,
    *,
    read_only_record: blockdev.ReadOnlyRecord,
    on_progress: Callable[[Progress], None] | None = None,
    binary: str = ddrescue.DEFAULT_BINARY,
) -> ImageResult:
    """Run the plan's ddrescue runs with the source held read-only; return digests and totals.

    The plan's folder is the job's own (recovery/image_folder.py); the image is created there
    0600 before ddrescue opens it, and ddrescue runs with umask 077. Raise DdrescueInterrupted
    on SIGINT/SIGTERM (the mapfile is saved and the run can resume), DdrescueError when ddrescue
    fails. The read-only flag is put back in every case.
    """
    image_folder.create_private(plan.paths.image)
    image_folder.check_own_file(plan.paths.mapfile)
    hasher = image_hash.FollowingHasher(plan.paths.image)
    monitor = _Monitor(plan, hasher, on_progress)
    argvs = plan.argvs(binary)
    ran: list[tuple[str, ...]] = []
    with blockdev.read_only(plan.source, record=read_only_record) as guard:
        monitor.start()
        try:
            for phase, argv in zip(plan.phases, argvs, strict=True):
                if not _still_needed(plan, phase):
                    continue
                monitor.run_name = phase
                monitor.status = ddrescue_status.StatusParser()
                ddrescue.run(argv, on_output=lambda text: monitor.status.feed(text))
                ran.append(argv)
        finally:
            monitor.stopping.set()
            monitor.join()
            if monitor.error is None:
                # the last progress report (after an interruption too), still read-only
                monitor.tick()
            backup = plan.paths.mapfile.with_name(plan.paths.mapfile.name + ".bak")
            for name in (plan.paths.mapfile, backup):
                image_folder.make_private(name)
        if monitor.error is not None:
            raise monitor.error
    final = image_hash.read_mapfile(plan.paths.mapfile)
    if final is None:
        raise ddrescue.DdrescueError(f"ddrescue left no readable mapfile at {plan.paths.mapfile}")
    _extend_to(plan.paths.image, plan.size_bytes)
    logger.info("ddrescue done; %d of %d bytes already hashed", hasher.position, plan.size_bytes)
    digests = hasher.finish()
    return ImageResult(digests, final.totals(), final.bad_areas(), tuple(ran), guard)


def _still_needed(plan: ImagePlan, phase: str) -> bool:
    """After the copy run, skip the scrape run when the mapfile leaves it nothing to do."""
    if phase == plan.phases[0]:
        return True
    current = image_hash.read_mapfile(plan.paths.mapfile)
    return phase in imaging.choose_phases(current, retries=plan.options.retries)[0]


def _extend_to(image, size_bytes: int) -> None:
    """Make the image as long as the medium: ddrescue leaves a bad tail unwritten (zeros, like
    every other bad area in an image file it created)."""
    descriptor = os.open(image, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if os.fstat(descriptor).st_size < size_bytes:
            os.ftruncate(descriptor, size_bytes)
    finally:
        os.close(descriptor)
