"""`drill`: the automated restore test. For each source, under its lock: take the newest
snapshot at the first location holding it, choose a random sample of its files while restic
lists them, restore them (restic verifies each against the snapshot's content hashes) into a
private scratch directory, restore them again from a second location that holds the snapshot
(or a second read of the same one), compare SHA-256 and sizes, remove the scratch copy.

A drill is a restore of customer data: it is recorded like one (``drill.run`` in the audit log
with source, snapshot, locations and counts; never a file name) and leaves no data behind.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import random

from backupctl import identity, reach, state
from backupctl.actions import prepare
from backupctl.actions.backup import select_sources
from backupctl.audit import trail
from backupctl.checking import records, sample, scratch
from backupctl.config import Config, Source
from backupctl.errors import ExitCode, RefusedError, is_expected, most_serious
from backupctl.restic import messages, operations
from backupctl.tenants import guard

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DrillReport:
    source: str
    ok: bool
    snapshot_id: str = ""
    restored_from: str = ""
    compared_with: str = ""
    files: int = 0
    bytes: int = 0
    mismatched: int = 0
    reason: str = ""  # never a file name

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ok else ExitCode.FAILED


def exit_code(reports: list[DrillReport]) -> ExitCode:
    """0 all sources passed; 1 some failed; 3 all failed."""
    codes = [report.exit_code for report in reports]
    if codes and all(code == ExitCode.FAILED for code in codes):
        return ExitCode.FAILED
    return ExitCode.PARTIAL if ExitCode.FAILED in codes else most_serious(codes)


def drill(config: Config, *, names: tuple[str, ...]) -> list[DrillReport]:
    """Given source names (none: all), run a restore drill for each; return the reports (also in
    state and the audit log). Raise ConfigError for an unknown source; AuditError before anything
    is restored when the audit log cannot be written."""
    db = state.db_path(config.state_dir)
    sources = _restorable(db, select_sources(config, names), named=bool(names))
    actor = identity.current().name
    subjects = {"sources": ",".join(source.name for source in sources)}
    trail.begin(db, "drill.run", actor, subjects=subjects)  # fail closed: no record, no restore
    try:
        keystore, restic = prepare.keystore_and_restic(config)
        reports = [_drill_recorded(config, keystore, restic, source) for source in sources]
    except BaseException as error:
        trail.failed(db, "drill.run", actor, error, subjects=subjects)
        raise
    code = exit_code(reports)
    trail.end(
        db,
        "drill.run",
        actor,
        outcome="ok" if code == ExitCode.OK else "failed",
        subjects=subjects,
        details={
            "exit_code": int(code),
            "sources": [
                {key: value for key, value in dataclasses.asdict(report).items() if key != "reason"}
                for report in reports
            ],
        },
    )
    return reports


def _restorable(db: pathlib.Path, sources: list[Source], *, named: bool) -> list[Source]:
    """A drill restores customer data: leave out the sources of tenants whose data may not be
    restored now (offboarded, suspended: docs/tenants.md); raise RefusedError when a source named
    on the command line is one of them."""
    kept = []
    for source in sources:
        refusal = guard.restore_refusal(db, source.tenant) if source.tenant else None
        if refusal is None:
            kept.append(source)
        elif named:
            raise RefusedError(f"refused: {source.name} is not drilled: {refusal}")
        else:
            logger.warning("%s is not drilled: %s", source.name, refusal)
    return kept


def _drill_recorded(config, keystore, restic, source: Source) -> DrillReport:
    try:
        report = _drill_source(config, keystore, restic, source)
    except Exception as error:
        if not is_expected(error):
            raise
        report = DrillReport(source.name, False, reason=str(error))
    fields = {k: v for k, v in dataclasses.asdict(report).items() if k != "source"}
    records.record_drill(
        state.db_path(config.state_dir), source.name, records.DrillRecord(**fields)
    )
    return report


def _drill_source(config: Config, keystore, restic, source: Source) -> DrillReport:
    operations_config = config.operations
    password = keystore.get(f"repo/{source.name}")
    with reach.reach_locked(config, source, keystore) as reached:
        holders = reached.with_config(source.locations)
        if not holders:
            return DrillReport(source.name, False, reason="no location with a repository reached")
        primary = holders[0]
        found = operations.snapshots(restic, reached.repository(primary), password)
        if not found:
            return DrillReport(source.name, False, restored_from=primary, reason="no snapshot")
        newest = max(found, key=lambda snapshot: messages.parse_time(snapshot.time))
        second = next(
            (name for name in holders[1:] if f"snapshots/{newest.id}" in reached.listings[name]),
            primary,
        )
        base = DrillReport(source.name, False, newest.id, primary, second)
        count = operations_config.drill_files
        reservoir = sample.Reservoir(
            count, operations_config.drill_max_bytes // count, random.SystemRandom()
        )
        listed = operations.ls(
            restic,
            reached.repository(primary),
            password,
            newest.id,
            on_line=reservoir.offer,
        )
        if not listed.ok:
            return dataclasses.replace(base, reason=f"listing failed: {listed.outcome.value}")
        if not reservoir.chosen:
            return dataclasses.replace(base, reason="the snapshot holds no file that fits")
        with scratch.directory(config.state_dir, source.name) as work:
            return _restore_and_compare(restic, reached, password, base, reservoir.chosen, work)


def _restore_and_compare(
    restic, reached, password, base: DrillReport, chosen: list, work: pathlib.Path
) -> DrillReport:
    paths = tuple(entry.path for entry in chosen)
    size = sum(entry.size for entry in chosen)
    base = dataclasses.replace(base, files=len(chosen), bytes=size)
    targets = {}
    for label, name in (("first", base.restored_from), ("second", base.compared_with)):
        targets[label] = work / label
        result = operations.restore_files(
            restic,
            reached.repository(name),
            password,
            base.snapshot_id,
            target=targets[label],
            paths=paths,
        )
        if not result.ok:
            logger.error(
                "source %s: restore from %s failed: %s", base.source, name, result.reason()
            )
            return dataclasses.replace(
                base, reason=f"restore from {name} failed: {result.outcome.value}"
            )
    bad = sample.mismatches(chosen, targets["first"], targets["second"])
    if bad:
        return dataclasses.replace(
            base, mismatched=bad, reason=f"{bad} of {len(chosen)} file(s) differ"
        )
    return dataclasses.replace(base, ok=True)
