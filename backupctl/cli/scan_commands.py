"""`backupctl media scan` and `backupctl media browse`, added to the media group."""

from __future__ import annotations

import json
import pathlib

import click

from backupctl.actions import jobs as job_actions
from backupctl.actions import scan as scan_action
from backupctl.cli import context, progress
from backupctl.cli.options import json_option, quiet_option
from backupctl.cli.roles import Role, requires
from backupctl.cli.text import shown


def _store(obj: context.AppContext) -> job_actions.JobStore:
    return job_actions.store(state_dir=obj.state_dir(), state_db=obj.state_db())


def _who(obj: context.AppContext) -> scan_action.Who:
    return scan_action.Who(context.actor(), context.host(), state_paths=(str(obj.state_dir()),))


def _print_summary(summary: dict) -> None:
    counts = summary["counts"]
    click.echo(f"output:    {shown(summary['output'])}")
    for partition in summary["partitions"]:
        click.echo(
            f"partition {partition['index']}: {shown(partition['table'])} at {partition['offset']},"
            f" {partition['length']} bytes, file system {shown(partition['filesystem'])}"
        )
    click.echo(
        f"recovered: {counts['total']} files ({counts['allocated']} allocated,"
        f" {counts['deleted']} deleted, {counts['carved']} carved), {summary['bytes']} bytes"
    )
    if counts["damaged"]:
        click.echo(
            f"DAMAGED:   {counts['damaged']} files have bytes in unreadable areas"
            " (damaged_bytes in the manifest)"
        )
    click.echo(f"warnings:  {len(summary['warnings'])}")
    click.echo(f"manifest:  {shown(summary['manifest'])}  sha256 {summary['manifest_sha256']}")


fs_timeout_option = click.option(
    "--fs-timeout",
    type=click.FloatRange(min=1),
    default=3600.0,
    show_default=True,
    metavar="SECONDS",
    help="Time The Sleuth Kit may take for each step on the image (opening it, listing a file"
    " system, each 1 MiB read); past it that file system is skipped with a warning.",
)


@click.command("scan")
@click.argument("job_id")
@click.option(
    "--to",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    help="New (or empty) folder for the recovered files: allocated/, deleted/, carved/ and"
    " manifest.json + manifest.csv; made 0700, files 0600.",
)
@click.option("--no-carve", is_flag=True, help="Only the file systems: skip carving (PhotoRec).")
@fs_timeout_option
@json_option
@quiet_option
@click.pass_obj
@requires(
    Role.TECHNICIAN, action="media.scan", record=True, subjects={"job": "job_id"}, custody=True
)
def scan(
    obj: context.AppContext,
    job_id: str,
    out_dir: pathlib.Path,
    no_carve: bool,
    fs_timeout: float,
    as_json: bool,
    quiet: bool,
) -> None:
    """Recover every file from the image of JOB_ID: allocated and deleted files of every file
    system The Sleuth Kit reads, and files carved (PhotoRec) from the areas no file system
    accounts for. Files with bytes where ddrescue could not read are flagged (damaged_bytes).
    The scan is recorded on the job with the manifest's SHA-256.
    """
    reporter = progress.choose(quiet=quiet, as_json=as_json)
    try:
        summary = scan_action.run_scan(
            _store(obj),
            job_id,
            out_dir,
            _who(obj),
            carve=not no_carve,
            fs_timeout=fs_timeout,
            on_progress=lambda phase, done, total: reporter.scan_progress(
                job_id, phase, done, total
            ),
        )
    finally:
        reporter.scan_finished(job_id)
    if as_json:
        click.echo(json.dumps(summary))
    else:
        _print_summary(summary)


@click.command("browse")
@click.argument("job_id")
@click.argument("path", default="/")
@fs_timeout_option
@json_option
@click.pass_obj
@requires(Role.TECHNICIAN, action="media.browse", custody=True)
def browse(
    obj: context.AppContext, job_id: str, path: str, fs_timeout: float, as_json: bool
) -> None:
    """List the files (allocated and deleted) under PATH on the file systems of JOB_ID's image,
    read-only, without exporting anything. Recorded on the job."""
    found = scan_action.browse(_store(obj), job_id, path, _who(obj), fs_timeout=fs_timeout)
    if as_json:
        click.echo(json.dumps(found.to_dict()))
        return
    for partition in found.partitions:
        click.echo(
            f"partition {partition.index}: {shown(partition.table)} at {partition.offset},"
            f" file system {shown(partition.filesystem)}"
        )
    for item, damaged in zip(found.files, found.damaged, strict=True):
        modified = item.times.get("mtime", "-")
        flag = f"  DAMAGED ({damaged} bytes unreadable)" if damaged else ""
        click.echo(
            f"p{item.partition} {item.origin:<9} {item.size:>12}  {modified:<25}"
            f" {shown(item.path)}{flag}"
        )
    if not found.files:
        click.echo("no files")


media_subcommands = [scan, browse]
