"""`backupctl restore ...` and `backupctl browse`: approval-gated restores (docs/restore.md)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import pathlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from backupctl import identity
from backupctl.actions import browse as browse_action
from backupctl.actions import restore as actions
from backupctl.actions import restore_run
from backupctl.cli import options, passphrase
from backupctl.cli.options import json_option, quiet_option
from backupctl.cli.roles import Role, checked_by_action

if TYPE_CHECKING:
    from backupctl.cli.context import AppContext

logger = logging.getLogger(__name__)


def _signer(key_file: pathlib.Path | None, fd: int | None) -> actions.SigningInput:
    return actions.SigningInput(passphrase=passphrase.reader(fd), key_file=key_file)


@click.group("restore")
def restore() -> None:
    """Request, approve and run restores; each needs a second person's signed approval.

    Roles (docs/access.md): request and run need restore-requester; approve and deny need
    approver (never for your own request); acknowledge needs auditor; run --break-glass needs
    admin.
    """


@restore.command("request")
@click.argument("source")
@click.option("--snapshot", help="Snapshot id (at least 8 hex digits).")
@click.option("--at", "at", help="Or: the newest snapshot taken at or before this ISO time.")
@click.option(
    "--path",
    "paths",
    multiple=True,
    help="A path inside the snapshot, as `browse` shows it "
    "(repeatable; default: the whole snapshot).",
)
@click.option(
    "--to",
    "destination",
    required=True,
    help="New or empty directory below the restore root (access.restore.root).",
)
@click.option("--reason", required=True, help="Why the data is needed.")
@click.option("--ticket", required=True, help="The ticket or case reference.")
@passphrase.key_option
@passphrase.passphrase_fd_option
@json_option
@click.pass_obj
@checked_by_action(Role.RESTORE_REQUESTER, action="restore.request")
def request_command(
    app: AppContext,
    source: str,
    snapshot: str | None,
    at: str | None,
    paths: tuple[str, ...],
    destination: str,
    reason: str,
    ticket: str,
    key_file: pathlib.Path | None,
    passphrase_fd: int | None,
    as_json: bool,
) -> None:
    """Ask for a restore of SOURCE; the request is signed with your key and waits for approval."""
    body = actions.request(
        app.config(),
        actions.RequestSpec(
            source,
            snapshot,
            options.parse_moment(at, naive_is="local", param_hint="--at"),
            paths,
            destination,
            reason,
            ticket,
        ),
        actor=identity.current(),
        signer=_signer(key_file, passphrase_fd),
    )
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(body), indent=2))
    else:
        click.echo(
            f"request {body.id}: {body.source} snapshot {body.snapshot[:12]} → "
            f"{body.destination}; pending approval until {body.expires_at}"
        )


@restore.command("approve")
@click.argument("request_id")
@passphrase.key_option
@passphrase.passphrase_fd_option
@click.pass_obj
@checked_by_action(Role.APPROVER, action="restore.approve")
def approve_command(
    app: AppContext, request_id: str, key_file: pathlib.Path | None, passphrase_fd: int | None
) -> None:
    """Approve REQUEST_ID (approver; not your own request). Your signature covers the source,
    snapshot, paths, destination, requester and expiry exactly as requested."""
    stored = actions.approve(
        app.config(), request_id, actor=identity.current(), signer=_signer(key_file, passphrase_fd)
    )
    click.echo(f"request {stored.body.id}: {stored.status} ({len(stored.approvals)} approval(s))")


@restore.command("deny")
@click.argument("request_id")
@click.option("--reason", required=True, help="Why it is denied.")
@click.pass_obj
@checked_by_action(Role.APPROVER, action="restore.deny")
def deny_command(app: AppContext, request_id: str, reason: str) -> None:
    """Deny REQUEST_ID (approver; it can then never run)."""
    stored = actions.deny(app.config(), request_id, actor=identity.current(), reason=reason)
    click.echo(f"request {stored.body.id}: denied")


@restore.command("run")
@click.argument("request_id")
@click.option("--break-glass", is_flag=True, help="Admin only: run without approval.")
@click.option("--reason", help="With --break-glass: why it cannot wait (required).")
@quiet_option
@json_option
@click.pass_obj
@checked_by_action(Role.RESTORE_REQUESTER, Role.ADMIN, action="restore.run")
def run_command(
    app: AppContext,
    request_id: str,
    break_glass: bool,
    reason: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Run an approved REQUEST_ID once: restore into its destination, check it against the
    snapshot and write DESTINATION.manifest.json (path, size, SHA-256 of every file).

    Exit 4 when refused (each refusal is in the audit log), 3 when the restore failed.
    """
    if break_glass and not reason:
        raise click.UsageError("--break-glass needs --reason")
    with _progress(quiet or as_json) as on_progress:
        result = restore_run.run(
            app.config(),
            request_id,
            actor=identity.current(),
            break_glass_reason=reason if break_glass else None,
            on_progress=on_progress,
        )
    if as_json:
        click.echo(
            json.dumps(
                {
                    k: str(v) if isinstance(v, pathlib.Path) else v
                    for k, v in dataclasses.asdict(result).items()
                },
                indent=2,
            )
        )
        return
    click.echo(
        f"restored {result.files} file(s), {result.bytes} bytes from {result.location} "
        f"into {result.destination}"
    )
    click.echo(f"manifest {result.manifest}")
    if result.break_glass:
        click.echo("BREAK GLASS: recorded; shown in `status` until an auditor acknowledges it")


class _Bar:
    """Progress of a restore: a tqdm bar per phase on a terminal ("restore": bytes restic
    restored, from restic >= 0.17; "verify": bytes hashed for the manifest), a log line per
    phase without one."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.bar, self.phase = quiet, None, ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.quiet:
            return
        if phase != self.phase:
            self.phase = phase
            self.close()
            logger.info("%s: %d bytes", phase, total)
            import tqdm

            self.bar = tqdm.tqdm(
                total=total,
                desc=phase,
                unit="B",
                unit_scale=True,
                file=sys.stderr,
                leave=False,
                disable=not sys.stderr.isatty(),
            )
        if self.bar is not None:
            if total and self.bar.total != total:
                self.bar.total = total
            self.bar.update(max(0, done - self.bar.n))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@contextlib.contextmanager
def _progress(quiet: bool) -> Iterator[_Bar]:
    bar = _Bar(quiet)
    try:
        yield bar
    finally:
        bar.close()


@restore.command("list")
@json_option
@click.pass_obj
@checked_by_action(
    Role.RESTORE_REQUESTER, Role.APPROVER, Role.AUDITOR, Role.ADMIN, action="restore.list"
)
def list_command(app: AppContext, as_json: bool) -> None:
    """List the newest restore requests and their state."""
    rows = actions.list_requests(app.config(), actor=identity.current())
    if as_json:
        click.echo(json.dumps({"requests": rows}, indent=2))
        return
    for row in rows:
        glass = (
            "  BREAK GLASS" + ("" if row["acknowledged_by"] else " (unacknowledged)")
            if row["break_glass_reason"]
            else ""
        )
        click.echo(
            f"{row['id']}  {row['status']:<8} {row['source']:<16} by {row['requester']:<12}"
            f" {row['created_at']}{glass}"
        )


@restore.command("show")
@click.argument("request_id")
@json_option
@click.pass_obj
@checked_by_action(
    Role.RESTORE_REQUESTER, Role.APPROVER, Role.AUDITOR, Role.ADMIN, action="restore.show"
)
def show_command(app: AppContext, request_id: str, as_json: bool) -> None:
    """Show one request: what, where, why, who approved or denied, and how it ran."""
    stored = actions.show(app.config(), request_id, actor=identity.current())
    data = {
        **dataclasses.asdict(stored.body),
        "status": stored.status,
        "approvals": [
            {
                "approver": a.approver,
                "at": a.body.approved_at if a.body else None,
                "valid_until": a.body.valid_until if a.body else None,
            }
            for a in stored.approvals
        ],
        "denials": [{"approver": d[0], "at": d[1], "reason": d[2]} for d in stored.denials],
        "run_by": stored.run_by,
        "run_at": stored.run_at,
        "break_glass_reason": stored.break_glass_reason,
        "acknowledged_by": stored.acknowledged_by,
        "result": stored.result,
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        click.echo(f"{key}: {value}")


@restore.command("acknowledge")
@click.argument("request_id")
@click.pass_obj
@checked_by_action(Role.AUDITOR, action="restore.break_glass_ack")
def acknowledge_command(app: AppContext, request_id: str) -> None:
    """Acknowledge a break-glass restore (auditor; not the admin who ran it)."""
    stored = actions.acknowledge(app.config(), request_id, actor=identity.current())
    click.echo(f"request {stored.body.id}: break glass acknowledged by {stored.acknowledged_by}")


@click.command("browse")
@click.argument("source")
@click.argument("path", required=False)
@click.option("--snapshot", help="Snapshot id (default: the newest).")
@json_option
@click.pass_obj
@checked_by_action(Role.RESTORE_REQUESTER, action="browse")
def browse(
    app: AppContext, source: str, path: str | None, snapshot: str | None, as_json: bool
) -> None:
    """List SOURCE's snapshot tree below PATH: names, types and sizes, never contents
    (restore-requester; recorded in the audit log)."""
    listing = browse_action.browse(
        app.config(), source, actor=identity.current(), snapshot=snapshot, path=path
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "snapshot": listing.snapshot,
                    "location": listing.location,
                    "nodes": [dataclasses.asdict(n) for n in listing.nodes],
                },
                indent=2,
            )
        )
        return
    click.echo(f"snapshot {listing.snapshot} at {listing.location}")
    for node in listing.nodes:
        size = str(node.size) if node.type == "file" else ""
        click.echo(f"{node.type:<8} {size:>12}  {node.path}")


commands = [restore, browse]
