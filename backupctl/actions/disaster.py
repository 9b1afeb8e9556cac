"""The disaster path: one repository's password from the escrow and the offline recovery key,
for plain restic, when backupctl itself cannot run its restore path (docs/restore.md).

It needs neither the config, the keystore nor the state database. Its use is recorded before the
password is handed out: in the audit log when the state database can still be written, else in a
record file the operator names (``--record``), to be brought to the auditor; when neither can be
written, no password is given (fail closed).
"""

from __future__ import annotations

import datetime
import io
import json
import logging
import os
import pathlib
from collections.abc import Callable

from backupctl.actions import audited
from backupctl.audit import log
from backupctl.errors import BackupctlError, RefusedError
from backupctl.identity import Actor
from backupctl.keys import escrow, recovery_key, securefile
from backupctl.keys.errors import EscrowError
from backupctl.keys.secret import Secret
from backupctl.restore import checks

logger = logging.getLogger(__name__)


def disaster_password(
    *,
    source: str,
    escrow_file: pathlib.Path,
    private_key_file: pathlib.Path,
    passphrase: Callable[[], Secret] | None,
    reason: str,
    actor: Actor,
    db: pathlib.Path | None,
    record_file: pathlib.Path | None,
) -> Secret:
    """Given a source, the escrow and the recovery private key, record the use and return the
    source's repository password; raise EscrowError, RefusedError or AuditError."""
    problem = checks.text_problem("reason", reason)
    if problem:
        raise RefusedError(f"refused: {problem}")
    private = recovery_key.load_private_key(
        _read(private_key_file, recovery_key.MAX_KEY_FILE_BYTES, "recovery key"),
        where=str(private_key_file),
        passphrase=passphrase,
    )
    data = _read(escrow_file, escrow.MAX_ESCROW_BYTES, "escrow file")
    entries = escrow.open_entries(io.BytesIO(data), private, where=str(escrow_file))
    password = entries.get(f"repo/{source}")
    if password is None:
        known = sorted(name.removeprefix("repo/") for name in entries if name.startswith("repo/"))
        raise EscrowError(f"the escrow holds no password for {source} (it has: {', '.join(known)})")
    event = log.Event(
        "recovery.disaster_key",
        actor.name,
        "warning",
        {"source": source},
        {
            "reason": audited.typed_text(reason),
            "recovery_key": recovery_key.fingerprint(private.public_key()),
        },
    )
    _record(event, db=db, record_file=record_file)
    return password


def _read(path: pathlib.Path, limit: int, what: str) -> bytes:
    try:
        return securefile.read_bounded(path, limit=limit, what=what)
    except OSError as error:
        raise EscrowError(f"{what} {path} cannot be read: {error.strerror}") from None


def _record(event: log.Event, *, db: pathlib.Path | None, record_file: pathlib.Path | None) -> None:
    """Write the record to the audit log, else to the record file; raise when neither works."""
    failure = "no state database (no usable config)"
    if db is not None:
        try:
            log.append(db, event)
            return
        except (BackupctlError, OSError) as error:  # AuditError, StateError, no directory
            failure = str(error)
    if record_file is None:
        raise log.AuditError(
            f"cannot record the use of the recovery key ({failure}); give --record FILE to "
            "write the record there instead"
        )
    line = {
        "at": checks.stamp(datetime.datetime.now(datetime.UTC)),
        "actor": event.actor,
        "action": event.action,
        "outcome": event.outcome,
        "subjects": dict(event.subjects),
        "details": dict(event.details),
        "not_in_audit_log_because": failure[:300],
    }
    try:
        descriptor = os.open(
            record_file,
            os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
        )
        with os.fdopen(descriptor, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(line, sort_keys=True) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
    except OSError as error:
        raise log.AuditError(f"cannot write the record file {record_file}: {error}") from None
    logger.warning(
        "the use of the recovery key is recorded in %s, not in the audit log (%s): hand it to "
        "the auditor",
        record_file,
        failure,
    )
