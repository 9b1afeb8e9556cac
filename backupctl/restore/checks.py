"""What a restore must pass, as pure functions that return the reason for a refusal (or None).

The clock, the registered keys and the access policy are parameters; nothing here reads a file
or the database. ``run_refusal`` is the whole gate of ``restore run``: the requester's
signature, each approval's signature, what it covers, its expiry, who gave it, and how many.
"""

from __future__ import annotations

import dataclasses
import datetime
import posixpath
from collections.abc import Callable, Sequence

from backupctl.keys import signing
from backupctl.restore import model
from backupctl.staff.registry import StaffKey

KeyLookup = Callable[[str], StaffKey | None]
MAX_PATHS = 64
MAX_TEXT = 500


@dataclasses.dataclass(frozen=True)
class StoredApproval:
    """One approval row as stored: its body (None when unparseable) and signature."""

    approver: str
    body: model.ApprovalBody | None
    signature: str


GLOB_CHARACTERS = "*?[\\"


def snapshot_path(value: str) -> str:
    """Given a path inside a snapshot as typed, return it normalised; raise ValueError for a
    relative path, a '..' component or a control character."""
    if not value.startswith("/"):
        raise ValueError(f"--path {value!r}: must be an absolute path inside the snapshot")
    if any(ord(char) < 32 for char in value) or len(value) > 4096:
        raise ValueError("--path: control characters or an over-long path")
    if ".." in value.split("/"):
        raise ValueError(f"--path {value!r}: '..' is not allowed")
    if any(char in value for char in GLOB_CHARACTERS):
        # restic --include reads them as a pattern: more could be restored than was approved
        raise ValueError(f"--path {value!r}: '*', '?', '[' and '\\' are not allowed")
    return posixpath.normpath(value).replace("//", "/")


def destination_problem(destination: str, root: str) -> str | None:
    """Given a destination and the restore root (both as typed), return why it is not allowed,
    or None: it must be absolute, free of '..' and strictly below the root."""
    if not destination.startswith("/"):
        return f"destination {destination} is not an absolute path"
    if ".." in destination.split("/") or any(ord(char) < 32 for char in destination):
        return f"destination {destination} holds '..' or a control character"
    normal, base = posixpath.normpath(destination), posixpath.normpath(root)
    if normal == base or not normal.startswith(base.rstrip("/") + "/"):
        return f"destination {normal} is not below the restore root {base}"
    return None


def text_problem(name: str, value: str) -> str | None:
    """Given a free-text field (reason, ticket), return why it is unusable, or None."""
    if not value.strip():
        return f"--{name} is required"
    if len(value) > MAX_TEXT or any(ord(char) < 32 for char in value):
        return f"--{name}: at most {MAX_TEXT} characters, no control characters"
    return None


def signature_problem(
    who: str, key_fingerprint: str, message: bytes, signature: str, keys: KeyLookup
) -> str | None:
    """Given who signed, with which key, what and the signature, return why it does not hold."""
    key = keys(key_fingerprint)
    if key is None:
        return f"the key {key_fingerprint} of {who} is not registered"
    if key.account != who:
        return f"the key {key_fingerprint} is registered to {key.account}, not {who}"
    if not key.active:
        return f"the key {key_fingerprint} of {who} was revoked at {key.revoked_at}"
    if not signing.verify(key.public_key, message, signature):
        return f"the signature of {who} does not match (forged or altered)"
    return None


def approval_problem(
    request: model.RequestBody, approval: StoredApproval, keys: KeyLookup, now: datetime.datetime
) -> str | None:
    """Given a request and one stored approval, return why the approval does not count."""
    body = approval.body
    if body is None:
        return f"the approval by {approval.approver} is malformed"
    if body.approver != approval.approver:
        return f"the approval by {approval.approver} names {body.approver} inside"
    if body.approver == request.requester:
        return f"{body.approver} approved their own request"
    if body.request_id != request.id or body.request_digest != request.digest():
        return f"the approval by {body.approver} is for another request"
    for field in model.COVERED:
        if getattr(body, field) != getattr(request, field):
            return f"the approval by {body.approver} covers another {field.replace('_', ' ')}"
    problem = signature_problem(body.approver, body.key, body.canonical(), approval.signature, keys)
    if problem:
        return problem
    if now >= parse_time(body.valid_until):
        return f"the approval by {body.approver} expired at {body.valid_until}"
    return None


def run_refusal(
    request: model.RequestBody,
    signature: str,
    approvals: Sequence[StoredApproval],
    *,
    keys: KeyLookup,
    now: datetime.datetime,
    needed: int,
    is_approver: Callable[[str], bool],
    break_glass: bool = False,
) -> str | None:
    """Given a request, its signature and approvals, return why it may not run now, or None.

    Every approval present must hold (an altered one is a refusal, not just not counted); a
    break-glass run needs the requester's signature only."""
    problem = signature_problem(
        request.requester, request.key, request.canonical(), signature, keys
    )
    if problem:
        return f"request {request.id}: {problem}"
    if break_glass:
        return None
    # the request's own expiry bounds when it may be approved (actions/restore.py); once approved,
    # each approval's valid_until bounds when it may run
    approvers = set()
    for approval in approvals:
        problem = approval_problem(request, approval, keys, now)
        if problem:
            return f"request {request.id}: {problem}"
        if not is_approver(approval.approver):
            return f"request {request.id}: {approval.approver} no longer holds the approver role"
        approvers.add(approval.approver)
    if len(approvers) < needed:
        return f"request {request.id} has {len(approvers)} valid approval(s) of the {needed} needed"
    return None


def parse_time(text: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def stamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat(timespec="seconds")
