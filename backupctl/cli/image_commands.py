"""`backupctl media image` and `backupctl media verify`, added to the media group."""

from __future__ import annotations

import json
import pathlib
import sys
import time

import click

from backupctl.actions import image as image_action
from backupctl.actions import jobs as job_actions
from backupctl.cli import context
from backupctl.cli.options import json_option, quiet_option
from backupctl.cli.roles import Role, requires
from backupctl.cli.text import shown


def _store(obj: context.AppContext) -> job_actions.JobStore:
    return job_actions.store(state_dir=obj.state_dir(), state_db=obj.state_db())


def _who(obj: context.AppContext) -> image_action.Who:
    return image_action.Who(context.actor(), context.host(), state_paths=(str(obj.state_dir()),))


class _JsonProgress:
    """Progress as JSON lines on stderr (like the backup progress), at most one a second."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self, progress) -> None:
        now = time.monotonic()
        if now - self.last >= 1.0:
            self.last = now
            sys.stderr.write(json.dumps({"event": "image-progress", **progress.to_dict()}) + "\n")
            sys.stderr.flush()

    def close(self) -> None:
        pass


class _BarProgress:
    """A tqdm bar of rescued bytes with the pass, bad areas, rate and time since the last good
    read."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            unit="B", unit_scale=True, unit_divisor=1024, desc="rescued", file=sys.stderr
        )

    def __call__(self, progress) -> None:
        self.bar.total = progress.domain_size
        self.bar.n = progress.rescued
        since = "-" if progress.since_last_read is None else f"{progress.since_last_read}s"
        rate = "-" if progress.current_rate is None else f"{progress.current_rate / 1e6:.1f}MB/s"
        self.bar.set_postfix_str(
            f"{progress.percent_rescued:.2f}% {progress.pass_message or progress.run}, "
            f"bad areas {progress.bad_areas} ({progress.bad_sector} B), rate {rate}, "
            f"last good read {since} ago",
            refresh=True,
        )

    def close(self) -> None:
        self.bar.close()


def _progress(as_json: bool, quiet: bool):
    if as_json:
        return _JsonProgress()
    if quiet or not sys.stderr.isatty():
        return None
    return _BarProgress()


@click.command("image")
@click.argument("device")
@click.option("--job", "job_id", required=True, help="The repair job the image belongs to.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    help="Directory under which the job's image folder DIR/JOB/ is created (0700; default: the"
    " job's folder). Never on the medium; refused when a symlink, another user's, or writable by"
    " others without the sticky bit.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Retry passes over bad sectors after scraping (ddrescue --retry-passes).",
)
@click.option(
    "--direct",
    is_flag=True,
    help="Read the medium with direct disc access, bypassing the kernel cache"
    " (ddrescue --idirect).",
)
@click.option(
    "--force-system-device",
    "--allow-system-device",
    "force_system",
    is_flag=True,
    help="Image a system or mounted device anyway (still read-only; recorded on the job).",
)
@json_option
@quiet_option
@click.pass_obj
@requires(
    Role.TECHNICIAN, action="media.image", record=True, subjects={"job": "job_id"}, custody=True
)
def image(
    obj: context.AppContext,
    device: str,
    job_id: str,
    out_dir: pathlib.Path | None,
    retries: int,
    direct: bool,
    force_system: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Image DEVICE read-only into the job's folder with GNU ddrescue, resumably, and hash it.

    A second run on the same job continues from the mapfile without rereading what was rescued.
    """
    request = image_action.Request(
        job_id=job_id,
        device=device,
        out_dir=out_dir,
        retries=retries,
        direct=direct,
        force_system=force_system,
    )
    progress = _progress(as_json, quiet)
    try:
        details = image_action.image(_store(obj), request, _who(obj), on_progress=progress)
    finally:
        if progress is not None:
            progress.close()
    if as_json:
        click.echo(json.dumps(details))
        return
    totals = details["totals"]
    click.echo(f"image:    {shown(details['paths']['image'])}")
    click.echo(f"mapfile:  {shown(details['paths']['mapfile'])}")
    click.echo(
        f"rescued:  {totals['rescued']} of {totals['domain_size']} bytes"
        f" ({100.0 * totals['rescued'] / max(totals['domain_size'], 1):.2f}%),"
        f" bad: {totals['bad_sector']} bytes in {totals['bad_areas']} areas"
    )
    click.echo(f"md5:      {details['md5']}\nsha256:   {details['sha256']}")


@click.command("verify")
@click.argument("job_id")
@json_option
@click.pass_obj
@requires(
    Role.TECHNICIAN, action="media.verify", record=True, subjects={"job": "job_id"}, custody=True
)
def verify(obj: context.AppContext, job_id: str, as_json: bool) -> None:
    """Re-hash the image of JOB_ID and compare with the digests recorded when imaging finished."""
    details = image_action.verify(_store(obj), job_id, _who(obj))
    if as_json:
        click.echo(json.dumps(details))
    else:
        click.echo(
            f"{shown(details['image'])}: OK (md5 {details['md5']}, sha256 {details['sha256']})"
        )


media_subcommands = [image, verify]
