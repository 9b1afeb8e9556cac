"""`backupctl media`: list the media on the bench and watch them come and go (imaging and
scanning add more)."""

from __future__ import annotations

import json
import sys

import click

from backupctl.actions import jobs as job_actions
from backupctl.actions import media as media_actions
from backupctl.cli import context, image_commands, scan_commands
from backupctl.cli.options import json_option
from backupctl.cli.roles import Role, requires
from backupctl.cli.text import shown as _text

BlockDevice = media_actions.BlockDevice
describe_size = media_actions.describe_size


def _points(points) -> str:
    return ", ".join(_text(point) for point in points) or "-"


def device_line(device: BlockDevice) -> str:
    """Given a device, return its one-line summary for the human table."""
    flags = [
        flag
        for flag, on in (("removable", device.removable), ("read-only", device.read_only))
        if on
    ]
    reasons = "; ".join(_text(reason) for reason in device.system_reasons)
    system = f"SYSTEM ({reasons})" if device.is_system else ""
    tape = device.kind == "tape"  # no size or sectors: read it with `backupctl tape`
    return (
        f"{_text(device.node):<14} {_text(device.kind):<9} {_text(device.bus):<8} "
        f"{'-' if tape else describe_size(device.size_bytes):>10}  "
        f"{_text(device.vendor)} {_text(device.model)}  serial {_text(device.serial)}  "
        + ("(backupctl tape info/image)  " if tape else "")
        + ("" if tape else f"sectors {device.logical_sector_size}/{device.physical_sector_size}  ")
        + f"{' '.join(flags)}  {system}"
    ).rstrip()


def _print_device(device: BlockDevice) -> None:
    click.echo(device_line(device))
    if device.filesystem or device.mountpoints:
        click.echo(
            f"    (whole device) {_text(device.filesystem)}  "
            f"mounted at {_points(device.mountpoints)}"
        )
    for partition in device.partitions:
        click.echo(
            f"    {_text(partition.node):<16} {_text(partition.filesystem):<8} "
            f"{_text(partition.label):<12} {describe_size(partition.size_bytes):>10}  "
            f"mounted at {_points(partition.mountpoints)}"
        )


@click.group()
def media() -> None:
    """Customer media on the bench: list, watch, image, scan and browse them.

    System devices (holding a mounted filesystem, swap or the toolkit's state) are marked and
    are never written; they are only imaged when the technician insists with an explicit flag.
    """


@media.command("list")
@json_option
@click.option(
    "--all",
    "include_empty",
    is_flag=True,
    help="Also list empty devices (unattached loop devices).",
)
@click.pass_obj
@requires(Role.TECHNICIAN, action="media.list")
def list_command(app: context.AppContext, as_json: bool, include_empty: bool) -> None:
    """List every disk, stick, card, optical and tape drive with its identity and system status."""
    found = media_actions.list_media(state_dir=app.state_dir(), include_empty=include_empty)
    if as_json:
        click.echo(json.dumps([device.to_dict() for device in found], indent=2))
        return
    if not found:
        click.echo("no media found")
    for device in found:
        _print_device(device)


class PromptMediator:
    """Asks on the terminal which waiting job a new medium belongs to."""

    def choose_job(self, device: BlockDevice, waiting: list[media_actions.Job]) -> str | None:
        click.echo(f"{_text(device.node)} appeared; jobs waiting for a medium:", err=True)
        for index, job in enumerate(waiting, start=1):
            click.echo(
                f"  {index}) {job.job_id}  {_text(job.customer)}  ticket {_text(job.ticket)}",
                err=True,
            )
        answer = click.prompt(
            "attach to (number, or Enter to skip)", default="", show_default=False, err=True
        )
        if answer.strip().isdigit() and 1 <= int(answer) <= len(waiting):
            return waiting[int(answer) - 1].job_id
        return None


def _print_event(event: media_actions.WatchEvent, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(event.to_dict()))
    elif event.action == "attached":
        click.echo(
            f"attached {_text(event.device.node)} to job {event.job.job_id}"
            f" ({_text(event.job.customer)})"
        )
    elif event.action == "refused":
        click.echo(f"refused  {_text(event.device.node)}: {_text(event.refused)}")
    else:
        click.echo(f"{event.action:<8} " + device_line(event.device))
        for partition in event.device.partitions if event.action != "removed" else ():
            click.echo(
                f"         {_text(partition.node):<16} {_text(partition.filesystem):<8}"
                f" {_text(partition.label)}"
            )


@media.command("watch")
@json_option
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop after this many seconds (default: until Ctrl-C).",
)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many media events (appeared, changed, removed).",
)
@click.option(
    "--attach-to",
    "attach_to",
    metavar="JOB",
    help="Attach the first customer medium that appears to this job, then stop.",
)
@click.pass_obj
@requires(Role.TECHNICIAN, action="media.watch", custody=True)
def watch_command(
    app: context.AppContext,
    as_json: bool,
    timeout: float | None,
    count: int | None,
    attach_to: str | None,
) -> None:
    """Show media as they are plugged in and removed; attach a new medium to a waiting job.

    On a terminal, when open jobs wait for a medium, asks which one a new medium belongs to.
    Stop with Ctrl-C.
    """
    mediator = (
        PromptMediator() if sys.stdin.isatty() and not as_json else media_actions.NoMediator()
    )
    events = media_actions.watch_media(
        state_dir=app.state_dir(),
        job_store=job_actions.store(state_dir=app.state_dir(), state_db=app.state_db()),
        timeout=timeout,
        count=count,
        attach_to=attach_to,
        mediator=mediator,
        actor=context.actor(),
        host=context.host(),
        on_ready=lambda: click.echo("watching for media (Ctrl-C to stop)", err=True),
    )
    for event in events:
        _print_event(event, as_json)


for _command in (*image_commands.media_subcommands, *scan_commands.media_subcommands):
    media.add_command(_command)

commands = [media]
