"""`backupctl tape`: image a customer's tape into a job, show a drive, list and extract files."""

from __future__ import annotations

import json
import logging
import pathlib
import sys
import time

import click

from backupctl.actions import image as image_action
from backupctl.actions import jobs as job_actions
from backupctl.actions import tape as tape_action
from backupctl.actions import tape_extract
from backupctl.cli import context
from backupctl.cli.options import json_option, quiet_option
from backupctl.cli.roles import Role, requires
from backupctl.cli.text import shown

logger = logging.getLogger(__name__)
LOG_INTERVAL_SECONDS = 10.0


def _who(obj: context.AppContext) -> image_action.Who:
    return image_action.Who(context.actor(), context.host(), state_paths=(str(obj.state_dir()),))


def _store(obj: context.AppContext) -> job_actions.JobStore:
    return job_actions.store(state_dir=obj.state_dir(), state_db=obj.state_db())


class _Throttled:
    """Progress as JSON lines on stderr (--json, at most one a second) or as log lines without
    a terminal (at most one every 10 s)."""

    def __init__(self, *, as_json: bool) -> None:
        self.as_json, self.last = as_json, 0.0
        self.interval = 1.0 if as_json else LOG_INTERVAL_SECONDS

    def __call__(self, progress) -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        if self.as_json:
            sys.stderr.write(json.dumps({"event": "tape-progress", **progress.to_dict()}) + "\n")
            sys.stderr.flush()
        else:
            logger.info(
                "progress: file %d, %d records, %d bytes, %d bad records",
                progress.file_number,
                progress.records,
                progress.bytes,
                progress.bad_records,
            )

    def close(self) -> None:
        pass


class _Bar:
    """A tqdm bar of bytes read, with the tape file, records and bad records."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(unit="B", unit_scale=True, unit_divisor=1024, desc="read", file=sys.stderr)

    def __call__(self, progress) -> None:
        self.bar.n = progress.bytes
        self.bar.set_postfix_str(
            f"file {progress.file_number}, {progress.records} records, {progress.bad_records} bad",
            refresh=True,
        )

    def close(self) -> None:
        self.bar.close()


def _progress(as_json: bool, quiet: bool):
    if quiet:
        return None
    if as_json or not sys.stderr.isatty():
        return _Throttled(as_json=as_json)
    return _Bar()


@click.group()
def tape() -> None:
    """Customer tapes: image them into a repair job (SIMH .tap), list and extract their files.

    Tape drives are used through the non-rewinding node (/dev/nstN); see `media list`.
    """


@tape.command("image")
@click.argument("device")
@click.option("--job", "job_id", required=True, help="The repair job the image belongs to.")
@click.option(
    "--retries",
    type=click.IntRange(min=0, max=100),
    default=tape_action.DEFAULT_RETRIES,
    show_default=True,
    help="Read a failing record again this many times before writing it as an error record.",
)
@click.option(
    "--label",
    help="Name of this tape when the job has several (the image is JOB-LABEL.tap).",
)
@click.option(
    "--restart",
    is_flag=True,
    help="Read the tape from the start, replacing an unfinished or finished image.",
)
@json_option
@quiet_option
@click.pass_obj
@requires(Role.TECHNICIAN, action="tape.image", record=True, custody=True)
def image_command(
    obj: context.AppContext,
    device: str,
    job_id: str,
    retries: int,
    label: str | None,
    restart: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Image the tape in DEVICE (/dev/nstN) into the job's folder as a SIMH .tap file.

    Rewinds, reads in variable block mode record by record through every filemark until the
    end of data, retries failing records and keeps the rest readable. Records per-file SHA-256
    and record sizes on the job. An interrupted run continues after the last complete tape file.
    """
    request = tape_action.Request(job_id, device, retries=retries, label=label, restart=restart)
    progress = _progress(as_json, quiet)
    try:
        details = tape_action.image(_store(obj), request, _who(obj), on_progress=progress)
    finally:
        if progress is not None:
            progress.close()
    if as_json:
        click.echo(json.dumps(details))
        return
    click.echo(f"image:    {shown(details['paths']['image'])}")
    click.echo(
        f"read:     {len(details['files'])} tape files, {details['records']} records,"
        f" {details['data_bytes']} bytes; stopped at {details['end']}"
    )
    click.echo(f"bad:      {len(details['bad_records'])} unreadable records")
    for bad in details["bad_records"]:
        click.echo(
            f"          file {bad['file_number']} record {bad['record_number']}:"
            f" {shown(bad['reason'])} after {bad['attempts']} attempts"
        )
    click.echo(f"md5:      {details['md5']}\nsha256:   {details['sha256']}")
    _print_files(details["files"])


def _print_files(files: list[dict]) -> None:
    click.echo("file  records  bad        bytes  sizes (common)          format")
    for item in files:
        sizes = ", ".join(f"{size}x{count}" for size, count in item["common_sizes"][:3]) or "-"
        click.echo(
            f"{item['number']:>4}  {item['records']:>7}  {item['error_records']:>3}"
            f"  {item['bytes']:>11}  {sizes:<22}  {shown(item['format'])}"
            + ("" if item["complete"] else "  (no filemark)")
        )
        click.echo(f"      sha256 {item['sha256']}")


@tape.command("info")
@click.argument("device")
@json_option
@click.pass_obj
@requires(Role.TECHNICIAN, action="tape.info")
def info_command(obj: context.AppContext, device: str, as_json: bool) -> None:
    """Show a tape drive's status: block size, density, file and block number, BOT/EOD/write
    protection. The tape is not moved."""
    details = tape_action.info(tape_action.SystemTapeAccess((str(obj.state_dir()),)), device)
    if as_json:
        click.echo(json.dumps(details))
        return
    block = "variable" if details["variable_block_mode"] else f"{details['block_size']} bytes"
    click.echo(
        f"{shown(details['device'])}  {shown(details['vendor'])} {shown(details['model'])}"
        f"  serial {shown(details['serial'])}"
    )
    click.echo(f"block size: {block}   density code: 0x{details['density']:02x}")
    click.echo(f"position:   file {details['file_number']}, block {details['block_number']}")
    click.echo(f"status:     {' '.join(details['flags']) or '-'}")


@tape.command("files")
@click.argument("image", type=click.Path(dir_okay=False, path_type=pathlib.Path))
@json_option
@requires(Role.TECHNICIAN, action="tape.files")
def files_command(image: pathlib.Path, as_json: bool) -> None:
    """List the tape files in a .tap IMAGE: records, sizes, SHA-256 and detected format."""
    summary = tape_extract.files(image)
    if as_json:
        click.echo(json.dumps(summary.to_dict()))
        return
    _print_files([file.to_dict() for file in summary.files])
    if not summary.ended:
        click.echo("(the image has no end-of-medium marker: an unfinished or cut-off image)")


@tape.command("extract")
@click.argument("image", type=click.Path(dir_okay=False, path_type=pathlib.Path))
@click.argument("number", type=click.IntRange(min=0))
@click.option(
    "--to",
    "to",
    required=True,
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    help="A new (or empty) folder for the data; created 0700.",
)
@click.option("--job", "job_id", help="Record the extraction on this repair job's custody.")
@json_option
@click.pass_obj
@requires(Role.TECHNICIAN, action="tape.extract", record=True, custody=True)
def extract_command(
    obj: context.AppContext,
    image: pathlib.Path,
    number: int,
    to: pathlib.Path,
    job_id: str | None,
    as_json: bool,
) -> None:
    """Write tape file NUMBER of IMAGE to DIR/file-N.bin, and unpack it into DIR/file-N/ when it
    is a tar archive: nothing outside DIR, no links, device nodes or setuid bits; 0700/0600.

    Unreadable records become zeros of the file's usual record size, so a tar archive stays
    aligned; the members they touch are listed as damaged.
    """
    request = tape_extract.ExtractRequest(image, number, to, job_id)
    store = _store(obj) if job_id else None
    details = tape_extract.extract(store, request, _who(obj) if job_id else None)
    if as_json:
        click.echo(json.dumps(details))
        return
    click.echo(f"data:     {shown(details['data'])} ({details['bytes']} bytes)")
    for item in details["filled"]:
        click.echo(
            f"filled:   record {item['record_number']}: {item['length']} zero bytes"
            f" at offset {item['offset']}"
        )
    unpacked = details["unpacked"]
    if unpacked:
        click.echo(
            f"unpacked: {unpacked['files']} files, {unpacked['directories']} folders into"
            f" {shown(unpacked['folder'])}"
        )
        for item in unpacked["skipped"]:
            click.echo(f"skipped:  {shown(item['name'])}: {shown(item['reason'])}")
        for name in unpacked["damaged"]:
            click.echo(f"damaged:  {shown(name)} (touches an unreadable record)")
        if unpacked["error"]:
            click.echo(f"stopped:  {shown(unpacked['error'])}")
    if details["note"]:
        click.echo(f"note:     {shown(details['note'])}")


commands = [tape]
