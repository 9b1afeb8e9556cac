"""The audit commands: verify the log against itself, its checkpoints and the anchors at every
location; show, export and scan it for alerts (docs/audit.md)."""

from __future__ import annotations

import dataclasses
import datetime
import logging
import pathlib
from collections.abc import Iterator

from backupctl import locations, state
from backupctl.audit import alerts as alert_rules
from backupctl.audit import (
    anchors,
    chain,
    checkpoint,
    export,
    judge,
    log,
    merkle,
    parallel,
    query,
    trail,
)
from backupctl.config import Config
from backupctl.errors import ConfigError, ExitCode, is_expected
from backupctl.keys import access as keyaccess

logger = logging.getLogger(__name__)

__all__ = [
    "AnchorCheck",
    "Filters",
    "Rules",
    "Proof",
    "VerifyResult",
    "alerts",
    "as_dict",
    "export_lines",
    "prove",
    "show",
    "verify",
]

Filters = query.Filters
Rules = alert_rules.Rules
as_dict = query.as_dict


@dataclasses.dataclass(frozen=True)
class AnchorCheck:
    """One location's anchor: what it covers, or why it could not be read."""

    location: str
    tree_size: int | None = None
    at: str | None = None
    error: str = ""


@dataclasses.dataclass(frozen=True)
class VerifyResult:
    records: int
    head: str
    problems: tuple[chain.Problem, ...]
    local_checkpoints: int
    anchors: tuple[AnchorCheck, ...]

    @property
    def exit_code(self) -> ExitCode:
        """3 tampering found; 1 intact but an anchor could not be read; 0 all agree."""
        if self.problems:
            return ExitCode.FAILED
        return ExitCode.PARTIAL if any(check.error for check in self.anchors) else ExitCode.OK


def verify(config: Config, *, host: str, actor: str) -> VerifyResult:
    """Given the config and this host's name, walk the log, judge it against every checkpoint
    and anchor, record the verification and return the result."""
    db = state.db_path(config.state_dir)
    host_key = checkpoint.public_hex(checkpoint.signing_key(config.state_dir))
    local = checkpoint.local_checkpoints(db)
    found = _read_anchors(config, host)
    anchored = [(f"the anchor at location {name}", made) for name, made, _ in found if made]
    locked, locked_check = _read_locked(config, host)
    anchored += locked
    judged = [(f"checkpoint {made.tree_size}", made) for made in local] + anchored
    walked = _walk(db, sizes={made.tree_size for _, made in judged})
    problems = list(walked.problems)
    for where, made in judged:
        problems += judge.judge(made, walked, host_key=host_key, where=where)
    problems += _narrowed(judged, problems)
    checks = tuple(
        AnchorCheck(name, made.tree_size, made.at) if made else AnchorCheck(name, error=error)
        for name, made, error in found
    ) + ((locked_check,) if locked_check else ())
    result = VerifyResult(walked.count, walked.head, tuple(problems), len(local), checks)
    trail.end(
        db,
        "audit.verify",
        actor,
        outcome="ok" if not problems else "failed",
        details={
            "records": walked.count,
            "problems": len(problems),
            "exit_code": int(result.exit_code),
        },
    )
    return result


def _walk(db: pathlib.Path, *, sizes: set[int]) -> chain.Walk:
    """Walk the log; a long one on two cores (the Merkle roots in a second process)."""
    with state.connect(db) as connection:
        last = connection.execute("SELECT MAX(seq) FROM audit_log").fetchone()[0] or 0
        rows = connection.execute(
            "SELECT seq, at, actor, action, subjects, outcome, details, prev, hash"
            " FROM audit_log ORDER BY seq"
        )
        if last < parallel.THRESHOLD:
            return chain.walk(rows, sizes=sizes)
        process = parallel.start(db, sizes)
        try:
            walked = chain.walk(rows, sizes=sizes, tree=False)
            try:
                roots = parallel.collect(process)
            except (RuntimeError, ValueError, OSError) as error:  # then here, one core
                logger.warning("audit verify: the second process failed (%s); continuing", error)
                roots = parallel.roots(str(db), sorted(sizes))
            return chain.with_roots(walked, roots)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def _read_anchors(config: Config, host: str) -> list[tuple[str, checkpoint.Checkpoint | None, str]]:
    """Given the config, return each location's anchor, or None and why it could not be read."""
    try:
        keystore = keyaccess.open_keystore(config)
    except Exception as error:
        if not is_expected(error):
            raise
        return [
            (name, None, f"keystore not readable: {error}") for name in sorted(config.locations)
        ]
    found = []
    for name, location in sorted(config.locations.items()):
        if name == config.audit_lock_location:
            continue  # its checkpoints are write-once objects: _read_locked
        try:
            with locations.store_for(location, anchors.SUBPATH, keystore) as store:
                found.append((name, anchors.read(store, host), ""))
        except Exception as error:
            if not is_expected(error):
                raise
            found.append((name, None, str(error)))
    return found


LOCKED_CHECKED = 20  # the newest write-once checkpoints judged on each verification


def _read_locked(
    config: Config, host: str
) -> tuple[list[tuple[str, checkpoint.Checkpoint]], AnchorCheck | None]:
    """Given the config, return the newest write-once checkpoints of this host in the object-lock
    bucket and the bucket's line in the report (nothing without such a bucket)."""
    if not config.audit_lock_location:
        return [], None
    from targets import s3_lock

    name = config.audit_lock_location
    try:
        keystore = keyaccess.open_keystore(config)
        spec = locations.spec_for(config.locations[name], anchors.SUBPATH, keystore)
        found = s3_lock.newest(spec, anchors.locked_directory(host), count=LOCKED_CHECKED)
        judged = [
            (f"the write-once checkpoint {key} at {name}", checkpoint.parse(data, where=key))
            for key, data in found
        ]
    except Exception as error:
        if not is_expected(error):
            raise
        return [], AnchorCheck(name, error=str(error))
    if not judged:
        return [], AnchorCheck(name, error="no write-once checkpoint of this host yet")
    newest = judged[-1][1]
    return judged, AnchorCheck(name, newest.tree_size, newest.at)


def _narrowed(judged, problems: list[chain.Problem]) -> list[chain.Problem]:
    """When some checkpoints agree with the log and a later one does not, say between which
    records the log was rewritten."""
    bad = sorted({p.seq for p in problems if p.kind == "replaced" and p.seq is not None})
    if not bad:
        return []
    good = [made.tree_size for _, made in judged if made.tree_size < bad[0]]
    good = [size for size in good if size not in bad]
    start = max(good, default=0) + 1
    return [
        chain.Problem(
            start,
            "replaced",
            f"the log differs from its checkpoints first between records {start} and {bad[0]}",
        )
    ]


def show(config: Config, filters: query.Filters) -> Iterator[log.Record]:
    """Given the filters, yield the matching records in order."""
    return query.select(state.db_path(config.state_dir), filters)


def export_lines(config: Config, filters: query.Filters, *, fmt: str) -> Iterator[str]:
    """Given the filters and a format (jsonl or csv), yield the export's lines."""
    return export.lines(show(config, filters), fmt=fmt)


def alerts(
    config: Config, filters: query.Filters, rules: alert_rules.Rules
) -> list[alert_rules.Alert]:
    """Given the filters and the rules, return the alerts the matching records raise."""
    return alert_rules.find(show(config, filters), rules)


def since(text: str | None) -> str | None:
    """Given ``--since`` as typed (or None), return it normalised; raise ConfigError."""
    if text is None:
        return None
    return query.parse_since(text, now=datetime.datetime.now(datetime.UTC))


@dataclasses.dataclass(frozen=True)
class Proof:
    """A Merkle proof against the newest signed checkpoint: that record ``seq`` is in the log
    (inclusion), or that the log of ``old_size`` records is a prefix of it (consistency)."""

    checkpoint: checkpoint.Checkpoint
    kind: str  # "inclusion" or "consistency"
    seq: int | None
    leaf: str | None  # the record's hash (inclusion)
    old_size: int | None
    old_root: str | None
    path: tuple[str, ...]


def prove(config: Config, *, seq: int | None = None, old_size: int | None = None) -> Proof:
    """Given a record number (or an earlier log size), return its proof against the newest local
    checkpoint; raise ConfigError when the number is outside the checkpoint."""
    db = state.db_path(config.state_dir)
    local = checkpoint.local_checkpoints(db)
    if not local:
        raise ConfigError("no signed checkpoint yet: a backup or init run makes one")
    newest = local[-1]
    wanted = seq if seq is not None else old_size
    if wanted is None or not 1 <= wanted <= newest.tree_size:
        raise ConfigError(f"give a number from 1 to {newest.tree_size} (the newest checkpoint)")
    with state.connect(db) as connection:
        hashes = [
            row[0]
            for row in connection.execute(
                "SELECT hash FROM audit_log WHERE seq <= ? ORDER BY seq", (newest.tree_size,)
            )
        ]
    leaves = [merkle.leaf_hash(bytes.fromhex(value)) for value in hashes]
    if seq is not None:
        path = merkle.inclusion_proof(leaves, seq - 1)
        return Proof(newest, "inclusion", seq, hashes[seq - 1], None, None, _hex(path))
    path = merkle.consistency_proof(leaves, old_size)
    old_root = merkle.root_of(leaves[:old_size]).hex()
    return Proof(newest, "consistency", None, None, old_size, old_root, _hex(path))


def _hex(path: list[bytes]) -> tuple[str, ...]:
    return tuple(node.hex() for node in path)
