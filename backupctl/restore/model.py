"""A restore request and its approvals as values, and the canonical bytes their signatures cover.

Canonical bytes are JSON with sorted keys, no whitespace and ASCII only: the same request gives
the same bytes on every host and Python version, and any change to a field changes them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

REQUEST_KIND = "backupctl-restore-request-v1"
APPROVAL_KIND = "backupctl-restore-approval-v1"
# The fields an approval repeats from the request it approves: its signature covers them.
COVERED = ("source", "snapshot", "paths", "destination", "requester", "expires_at")


@dataclasses.dataclass(frozen=True)
class RequestBody:
    """What a requester asks for and signs."""

    id: str
    source: str
    tenant: str
    snapshot: str  # the full 64-hex snapshot id, resolved when the request is made
    paths: tuple[str, ...]  # absolute paths inside the snapshot; empty: all of it
    destination: str  # absolute, normalised, below the restore root
    requester: str
    reason: str
    ticket: str
    created_at: str
    expires_at: str
    key: str  # fingerprint of the requester's signing key

    def canonical(self) -> bytes:
        return canonical({"kind": REQUEST_KIND, **dataclasses.asdict(self)})

    def digest(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


@dataclasses.dataclass(frozen=True)
class ApprovalBody:
    """What an approver signs: the request's digest and, spelled out, the fields it covers."""

    request_id: str
    request_digest: str
    source: str
    snapshot: str
    paths: tuple[str, ...]
    destination: str
    requester: str
    expires_at: str  # the request's expiry
    approver: str
    approved_at: str
    valid_until: str  # the approval's own expiry
    key: str  # fingerprint of the approver's signing key

    def canonical(self) -> bytes:
        return canonical({"kind": APPROVAL_KIND, **dataclasses.asdict(self)})


def canonical(body: dict[str, Any]) -> bytes:
    """Given a JSON-able mapping, return its canonical bytes."""
    return json.dumps(
        _listed(body), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    ).encode("ascii")


def _listed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _listed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_listed(item) for item in value]
    return value


def approval_for(
    request: RequestBody, *, approver: str, at: str, until: str, key: str
) -> ApprovalBody:
    """Given a request, return the approval body an approver signs for it."""
    return ApprovalBody(
        request_id=request.id,
        request_digest=request.digest(),
        source=request.source,
        snapshot=request.snapshot,
        paths=request.paths,
        destination=request.destination,
        requester=request.requester,
        expires_at=request.expires_at,
        approver=approver,
        approved_at=at,
        valid_until=until,
        key=key,
    )


def request_from_json(text: str) -> RequestBody:
    """Given a stored request body, return it; raise ValueError when it is malformed."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.pop("kind", None) != REQUEST_KIND:
        raise ValueError("not a restore request body")
    data["paths"] = tuple(data.get("paths", ()))
    return RequestBody(**data)


def approval_from_json(text: str) -> ApprovalBody:
    """Given a stored approval body, return it; raise ValueError when it is malformed."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.pop("kind", None) != APPROVAL_KIND:
        raise ValueError("not a restore approval body")
    data["paths"] = tuple(data.get("paths", ()))
    return ApprovalBody(**data)
