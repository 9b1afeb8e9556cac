"""`restore run`: check everything a restore needs, then restore from the first healthy location
into a private staging directory, compare it with the snapshot's listing, hash it, move it into
the destination and write the manifest next to it.

Single use is decided in one transaction with the ``restore.run started`` record: a second run of
the same request finds that record (in the audit log itself, not only in a status column) and is
refused. A break-glass run (admin, with a reason) skips the approvals, never the requester's
signature, the tenant gate or the destination rules, and stays in `status` until an auditor
acknowledges it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import logging
import pathlib
import pwd
import shutil
import time
from collections.abc import Callable

from backupctl import identity, state
from backupctl.actions import audited, snapshot_access
from backupctl.actions import restore as requests
from backupctl.audit import log
from backupctl.config import Config
from backupctl.errors import BackupctlError, ExitCode, RefusedError, is_expected
from backupctl.identity import Actor
from backupctl.restic import restoring
from backupctl.restore import checks, gate, hashing, place, store, tree
from backupctl.staff import registry
from policies import access as policy_access
from policies.access import Role

logger = logging.getLogger(__name__)

# on_progress(phase, done, total): phase "restore" (restic runs; no counts), "verify" (bytes).
OnProgress = Callable[[str, int, int], None]


class RestoreFailed(BackupctlError):
    """The restore started but did not complete; nothing was moved into the destination."""

    exit_code = ExitCode.FAILED


@dataclasses.dataclass(frozen=True)
class RunResult:
    request: str
    location: str
    destination: pathlib.Path
    manifest: pathlib.Path
    files: int
    bytes: int
    break_glass: bool


def run(
    config: Config,
    request_id: str,
    *,
    actor: Actor,
    break_glass_reason: str | None = None,
    on_progress: OnProgress = lambda phase, done, total: None,
    now: datetime.datetime | None = None,
) -> RunResult:
    """Given an approved request (or, with a break-glass reason, any request, by an admin), run
    it once; raise AccessDenied or RefusedError (each recorded) or RestoreFailed."""
    now = now or datetime.datetime.now(datetime.UTC)
    db = requests.db_of(config)
    stored = requests.load_request(config, request_id, actor=actor, action="restore.run")
    body = stored.body
    subjects = {"request": body.id, "source": body.source, "tenant": body.tenant}
    breaking = break_glass_reason is not None
    _require_runner(config, stored, actor=actor, breaking=breaking, subjects=subjects)
    problem = _refusal(config, stored, breaking=breaking, reason=break_glass_reason, now=now)
    root = config.restore.root_for(config.state_dir)
    destination = pathlib.Path(body.destination)
    if problem is None:
        try:
            place.prepare_destination(root, destination)
        except (RefusedError, OSError) as error:
            problem = str(error).removeprefix("refused: ")
    if problem:
        audited.refuse(db, action="restore.run", actor=actor, subjects=subjects, reason=problem)
    if not _start(
        db, stored, actor=actor, subjects=subjects, break_glass_reason=break_glass_reason
    ):
        audited.refuse(
            db,
            action="restore.run",
            actor=actor,
            subjects=subjects,
            reason=f"request {body.id} was run already (approvals are single-use)",
        )
    try:
        result = _restore(config, stored, root, destination, on_progress, breaking)
    except OSError as error:  # the restore root's disk: full, another filesystem, ...
        _finish(db, body.id, actor, subjects, "failed", {"reason": error.strerror or "OSError"})
        raise RestoreFailed(f"restore {body.id} failed: {error.strerror}") from None
    except BaseException as error:  # interrupted, or a defect: recorded all the same
        expected = is_expected(error)
        reason = audited.redact(str(error)) if expected else type(error).__name__
        _finish(db, body.id, actor, subjects, "failed", {"reason": reason})
        if not expected or isinstance(error, RefusedError | RestoreFailed):
            raise
        raise RestoreFailed(f"restore {body.id} failed: {error}") from None
    _finish(
        db,
        body.id,
        actor,
        subjects,
        "ok",
        {
            "location": result.location,
            "files": result.files,
            "bytes": result.bytes,
            "manifest_sha256": hashlib.sha256(result.manifest.read_bytes()).hexdigest(),
        },
    )
    return result


def _require_runner(config, stored, *, actor, breaking, subjects) -> None:
    body = stored.body
    role = Role.ADMIN if breaking else Role.RESTORE_REQUESTER
    audited.require_role(
        config, role, actor=actor, action="restore.run", tenant=body.tenant, subjects=subjects
    )
    if not breaking and actor.name != body.requester:
        audited.refuse(
            requests.db_of(config),
            action="restore.run",
            actor=actor,
            subjects=subjects,
            reason=f"request {body.id} was made by {body.requester}; only they may run it",
        )


def _refusal(config, stored, *, breaking, reason, now) -> str | None:
    """Return why the stored request may not run now (pure checks plus the tenant gate)."""
    body = stored.body
    db = requests.db_of(config)
    if breaking:
        problem = checks.text_problem("reason", reason or "")
        if problem:
            return problem
    if stored.status == "denied":
        return f"request {body.id} was denied"
    with state.connect(db) as connection:
        if store.was_run_in(connection, body.id) or stored.status in ("running", "done", "failed"):
            return f"request {body.id} was run already (approvals are single-use)"
        problem = checks.run_refusal(
            body,
            stored.signature,
            stored.approvals,
            keys=lambda fingerprint: registry.by_fingerprint(connection, fingerprint),
            now=now,
            needed=config.restore.approvals_for(tenant=body.tenant, source=body.source),
            is_approver=lambda name: _holds(config, name, Role.APPROVER, body.tenant),
            break_glass=breaking,
        )
    root = str(config.restore.root_for(config.state_dir))
    return (
        problem
        or gate.refusal(db, body.tenant)
        or checks.destination_problem(body.destination, root)
    )


def _holds(config: Config, account: str, role: Role, tenant: str) -> bool:
    """Given an account name (an approver recorded earlier), return whether it holds the role
    for the tenant now (its groups looked up by name; an account gone holds only grants by
    name)."""
    try:
        uid = pwd.getpwnam(account).pw_uid
        groups = identity.groups_of(identity.Actor(uid, account, "account"))
    except KeyError:
        groups = frozenset()
    return (
        policy_access.missing(
            config.access, account=account, groups=groups, role=role, tenant=tenant
        )
        is None
    )


def _start(db, stored, *, actor, subjects, break_glass_reason) -> bool:
    """Mark the request running and record the start, once; return False (nothing written) when
    a run of it is recorded already: a concurrent second run finds that record inside the same
    write transaction."""
    body = stored.body
    with audited.transaction(db) as connection:
        if store.was_run_in(connection, body.id):
            return False
        fields = {"run_by": actor.name, "run_at": state.utc_now()}
        if break_glass_reason is not None:
            fields["break_glass_reason"] = break_glass_reason
            log.append_in(
                connection,
                log.Event(
                    "restore.break_glass",
                    actor.name,
                    "warning",
                    subjects,
                    {
                        "reason": audited.typed_text(break_glass_reason),
                        "requester": body.requester,
                    },
                ),
            )
        store.set_status_in(connection, body.id, "running", **fields)
        log.append_in(
            connection,
            log.Event(
                "restore.run",
                actor.name,
                "started",
                {**subjects, "snapshot": body.snapshot},
                {"paths": len(body.paths), "break_glass": break_glass_reason is not None},
            ),
        )
    return True


def _finish(db, request_id, actor, subjects, outcome, details) -> None:
    with audited.transaction(db) as connection:
        store.set_status_in(
            connection, request_id, "done" if outcome == "ok" else "failed", result=details
        )
        log.append_in(connection, log.Event("restore.run", actor.name, outcome, subjects, details))


def _restore(config, stored, root, destination, on_progress, breaking) -> RunResult:
    body = stored.body
    source = snapshot_access.source_named(config, body.source)
    with contextlib.ExitStack() as keep:  # restic ls and restore share one ssh login (SFTP)
        # the whole tree: `restic ls SNAPSHOT DIR` lists DIR's children only (not recursive)
        opened, nodes = snapshot_access.first_listing(config, source, body.snapshot, keep=keep)
        return _restore_listed(body, opened, nodes, root, destination, on_progress, breaking)


def _restore_listed(body, opened, nodes, root, destination, on_progress, breaking) -> RunResult:
    problem = tree.escape_problem(nodes)
    if problem:
        raise RefusedError(f"refused: {problem}")
    missing = tree.missing_paths(nodes, body.paths)
    if missing:
        raise RestoreFailed(f"the snapshot holds no {missing[0]} ({len(missing)} path(s) missing)")
    expected = tree.selected(nodes, body.paths)
    staging = place.new_staging(root, body.id)
    try:
        with hashing.Hasher(staging, expected, body.paths) as hasher:
            on_progress("restore", 0, sum(node.size for node in expected))
            started = time.monotonic()
            outcome = restoring.restore(
                opened.restic,
                opened.repository,
                opened.password,
                body.snapshot,
                staging,
                body.paths,
                on_bytes=lambda done, total: on_progress("restore", done, total),
                on_restored=hasher.restored,  # restic >= 0.17: hashed while restic goes on
            )
            if not outcome.ok:
                raise RestoreFailed(f"restic restore from {opened.location}: {outcome.reason()}")
            differences = hasher.differences() + tree.differences(
                expected, tree.restored_entries(staging), body.paths
            )
            if differences:
                raise RestoreFailed(
                    f"what was restored differs from the snapshot ({len(differences)} "
                    f"difference(s), first: {differences[0]})"
                )
            ended = time.monotonic()
            files = hasher.results(lambda done, total: on_progress("verify", done, total))
            logger.debug(
                "restic restored in %.2f s; %d of %d file(s) hashed while restic ran; "
                "%.2f s of hashing after restic",
                ended - started,
                hasher.hashed_early,
                len(files),
                time.monotonic() - ended,
            )
        place.move_in(staging, destination)
    finally:
        if staging.exists():
            shutil.rmtree(staging)  # never follows symlinks
    manifest = place.write_manifest(destination, _manifest_document(body, opened.location, files))
    return RunResult(
        body.id,
        opened.location,
        destination,
        manifest,
        len(files),
        sum(entry["size"] for entry in files),
        breaking,
    )


def _manifest_document(body, location: str, files: list[dict]) -> dict:
    return {
        "request": body.id,
        "source": body.source,
        "tenant": body.tenant,
        "snapshot": body.snapshot,
        "location": location,
        "requester": body.requester,
        "ticket": body.ticket,
        "restored_at": state.utc_now(),
        "files": files,
    }
