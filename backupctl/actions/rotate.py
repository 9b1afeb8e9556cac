"""Rotate each source: no snapshot outlives its policy's maximum age, on any location.

Under the source lock: finish a rotation an earlier run left unfinished, list the snapshots at
every reachable location, decide (``policies/rotation.py``), forget and prune at one location
(``backupctl/rotation/apply.py``), make every other location match through replication (which
deletes what the manifest marks deleted and never copies it back), then list every location
again and fail loudly where a forgotten snapshot is still present. A location that was down
is recorded as still holding expired data until a later run finishes there.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import pathlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from backupctl import reach, state
from backupctl.actions import manifest as manifests
from backupctl.actions import prepare, recorded, replicate, tenant_destroy
from backupctl.actions.backup import select_sources
from backupctl.config import Config, Source
from backupctl.errors import ConfigError, ExitCode, is_expected, most_serious
from backupctl.progress import Progress
from backupctl.replication import plan as planning
from backupctl.restic.flags import Restic
from backupctl.results import SourceReport, failed_everywhere
from backupctl.rotation import apply, foreign, inventory, lingering, records
from backupctl.rotation import outcome as outcomes
from backupctl.rotation.progress import StepProgress
from backupctl.tenants import plan as tenant_plan
from backupctl.tenants import store as tenant_store
from policies import rotation
from policies.retention import RetentionPolicy

if TYPE_CHECKING:
    from backupctl.keys.secret import Secret
    from backupctl.keys.store import Keystore

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SourceRotation:
    """One source's rotation: the plan (every snapshot, keep or forget, why, where it is) and
    what happened at each location."""

    source: str
    policy: RetentionPolicy
    plan: rotation.RotationPlan | None  # None when the source could not be listed at all
    holders: Mapping[str, tuple[str, ...]]  # snapshot id -> the locations holding it
    times: Mapping[str, str]  # snapshot id -> restic's time
    report: SourceReport
    still_held: Mapping[str, str]  # location -> why it still holds data rotation deleted
    resumed: str = ""


@dataclasses.dataclass(frozen=True)
class RotationRun:
    run_id: int | None  # None for a dry run (nothing recorded)
    dry_run: bool
    as_of: datetime.datetime
    sources: tuple[SourceRotation, ...]

    @property
    def exit_code(self) -> ExitCode:
        return most_serious([entry.report.exit_code for entry in self.sources])


@dataclasses.dataclass(frozen=True)
class _Job:
    config: Config
    keystore: Keystore
    restic: Restic
    progress: Progress
    steps: StepProgress
    now: datetime.datetime
    db: pathlib.Path
    actor: str = ""


def rotate(
    config: Config,
    *,
    names: tuple[str, ...],
    dry_run: bool,
    as_of: datetime.datetime | None,
    progress: Progress,
    steps: StepProgress,
    actor: str,
    host: str,
) -> RotationRun:
    """Given source names (none: all), rotate them (or only plan, ``dry_run``); return the plan
    and every location's outcome. Raise ConfigError for an unknown source, or for ``as_of``
    without ``dry_run`` (rotating as of another moment would destroy data early); KeysError or
    ResticError when the run cannot start."""
    sources = select_sources(config, names)
    if as_of is not None and not dry_run:
        raise ConfigError("--as-of only plans: use it with --dry-run")
    keystore, restic = prepare.keystore_and_restic(config)
    now = as_of or datetime.datetime.now(datetime.UTC)
    job = _Job(
        config, keystore, restic, progress, steps, now, state.db_path(config.state_dir), actor
    )
    if dry_run:
        return RotationRun(None, True, now, tuple(_plan_only(job, source) for source in sources))
    done: dict[str, SourceRotation] = {}

    def each(run_id: int, source: Source) -> SourceReport:
        done[source.name] = _rotate_or_destroy(job, source, run_id)
        return done[source.name].report

    run = recorded.run_recorded_with_id(
        config.state_dir, command="rotate", actor=actor, host=host, sources=sources, each=each
    )
    return RotationRun(run.run_id, False, now, tuple(done[r.source] for r in run.sources))


def holds_for(source: Source, db: pathlib.Path) -> tuple[rotation.Hold, ...]:
    """The holds that suspend rotation for a source: each legal hold on its tenant (clause 2.5)
    keeps everything in the source's repository (docs/tenants.md)."""
    standing = tenant_store.standing(db, source.tenant)
    return tuple(
        rotation.Hold(f"legal hold {hold.reference} on tenant {source.tenant}", everything=True)
        for hold in standing.holds
    )


def _rotate_or_destroy(job: _Job, source: Source, run_id: int) -> SourceRotation:
    """Rotate a source, or destroy it when its tenant's cooling period is over (or leave it when
    it is gone already)."""
    decided = tenant_destroy.decide(job.config, source, now=job.now)
    if decided.step is tenant_plan.Step.ROTATE:
        return _rotate_source(job, source, run_id)
    policy = job.config.policies[source.retention]
    if decided.step in (tenant_plan.Step.GONE, tenant_plan.Step.PAUSED):
        return SourceRotation(source.name, policy, None, {}, {}, tenant_destroy.gone(decided), {})
    report = tenant_destroy.run(
        job.config, job.keystore, decided, run_id=run_id, actor=job.actor, now=job.now
    )
    return SourceRotation(source.name, policy, None, {}, {}, report, {})


def _failed(source: Source, policy: RetentionPolicy, reason: str) -> SourceRotation:
    report = SourceReport(
        source.name, None, None, failed_everywhere(source.name, source.locations, "rotate", reason)
    )
    return SourceRotation(source.name, policy, None, {}, {}, report, {})


def _plan_only(job: _Job, source: Source) -> SourceRotation:
    """Given a source, list what its locations hold and plan, without changing anything."""
    policy = job.config.policies[source.retention]
    decided = tenant_destroy.decide(job.config, source, now=job.now)
    if decided.step is not tenant_plan.Step.ROTATE:
        shown = tenant_destroy.planned if decided.step is tenant_plan.Step.DESTROY else None
        report = (shown or tenant_destroy.gone)(decided)
        return SourceRotation(source.name, policy, None, {}, {}, report, {})
    try:
        password = job.keystore.get(f"repo/{source.name}")
        with reach.reach(job.config, source, job.keystore) as reached:
            found, reached = inventory.take(job.restic, reached, password, source.locations)
    except Exception as error:
        if not is_expected(error):
            raise
        return _failed(source, policy, str(error))
    known = records.recorded_times(job.db, source.name, found.snapshots)
    first_seen = datetime.datetime.now(datetime.UTC)  # what a real run would record now
    times = {sid: known.get(sid, first_seen) for sid in found.snapshots}
    margin = _lingering(job, source, policy)
    the_plan = _decide(job, source, policy, found, times, margin)
    results = tuple(
        outcomes.planned_result(source.name, name, reached, found, the_plan)
        for name in source.locations
    )
    warnings = (*outcomes.plan_warnings(the_plan), *outcomes.lingering_warnings(margin))
    report = SourceReport(source.name, None, None, results, warnings)
    return SourceRotation(source.name, policy, the_plan, found.holders, _times(found), report, {})


def _decide(job, source, policy, found, recorded_times, margin) -> rotation.RotationPlan:
    return rotation.plan(
        inventory.facts(found, recorded_times),
        policy,
        holds=holds_for(source, job.db),
        now=job.now,
        margin_days=margin.margin_days,
    )


def _lingering(job: _Job, source: Source, policy: RetentionPolicy) -> lingering.Lingering:
    return lingering.lingering(job.config, source, job.keystore, policy.max_age_days)


def _times(found: inventory.Inventory) -> dict[str, str]:
    return {sid: snapshot.time for sid, snapshot in found.snapshots.items()}


def _rotate_source(job: _Job, source: Source, run_id: int) -> SourceRotation:
    policy = job.config.policies[source.retention]
    try:
        password = job.keystore.get(f"repo/{source.name}")
        with reach.reach_locked(job.config, source, job.keystore) as reached:
            return _rotate_reached(job, source, policy, password, reached, run_id)
    except Exception as error:
        if not is_expected(error):
            raise
        return _failed(source, policy, str(error))


def _rotate_reached(
    job: _Job,
    source: Source,
    policy: RetentionPolicy,
    password: Secret,
    reached: reach.Reached,
    run_id: int,
) -> SourceRotation:
    context = apply.Context(job.db, job.restic, source.name, password, run_id, job.steps)
    if manifests.current(job.db, source.name, reached, source.locations) is None:
        return _failed(source, policy, "no reachable location holds the repository")
    log = outcomes.Log()  # this source's forget/prune events and failures, read once at the end
    resumed, reached = _resume(context, reached, log)
    found, reached = inventory.take(job.restic, reached, password, source.locations)
    first = {sid: holders[0] for sid, holders in found.holders.items()}
    recorded_times = records.remember_seen(job.db, source.name, first)
    margin = _lingering(job, source, policy)
    for name, problem in margin.problems.items():
        log.fail(name, problem)
    the_plan = _decide(job, source, policy, found, recorded_times, margin)
    primary = next(iter(reached.with_config(source.locations)), None)
    hand_made = outcomes.hand_made_forgotten(
        state.load_manifest(job.db, source.name), found, the_plan, primary
    )
    reached = _forget_and_prune(context, reached, the_plan, primary, log)
    check = outcomes.Check(
        db=job.db,
        source=source.name,
        run_id=run_id,
        expired=frozenset(the_plan.forget),
        deleted_before=outcomes.deleted_present(job.db, source.name, reached),
        changed=bool(the_plan.forget) or bool(resumed),
    )
    copied = _replicate(job, source, reached)
    intent = records.unfinished(job.db, source.name)
    if intent is not None and intent.stage == "replicate":
        records.finish(job.db, source.name)
    cleaned = foreign.clean(
        context,
        copied.reached,
        state.load_manifest(job.db, source.name),
        hand_made,
        copy_back=lambda again: _replicate(job, source, again).reached,
    )
    log.add_events(cleaned.events)
    final = cleaned.reached.relisted(tuple(cleaned.reached.listings))  # the proof: list again
    results, still_held = outcomes.check_locations(check, final, copied, log, source.locations)
    still_foreign = planning.plan(
        state.load_manifest(job.db, source.name), final.listings, source.locations
    ).foreign
    warnings = (
        *((resumed,) if resumed else ()),
        *outcomes.plan_warnings(the_plan),
        *outcomes.lingering_warnings(margin),
        *cleaned.leftovers,
    )
    report = SourceReport(source.name, None, primary, results, warnings, foreign=still_foreign)
    return SourceRotation(
        source.name, policy, the_plan, found.holders, _times(found), report, still_held, resumed
    )


def _replicate(job: _Job, source: Source, reached: reach.Reached) -> replicate.Replication:
    return replicate.replicate(
        reached,
        state.load_manifest(job.db, source.name),
        source=source.name,
        names=source.locations,
        progress=job.progress,
        step="rotate",
    )


def _forget_and_prune(
    context: apply.Context,
    reached: reach.Reached,
    the_plan: rotation.RotationPlan,
    primary: str | None,
    log: outcomes.Log,
) -> reach.Reached:
    """Carry the plan out at the first reachable location, unless there is nothing to forget,
    no such location, or an earlier rotation is still unfinished (it comes first); return the
    locations as then listed."""
    if not the_plan.forget or primary is None:
        return reached
    if records.unfinished(context.db, context.source) is not None:
        return reached
    try:
        applied = apply.start(context, reached, primary, the_plan.forget)
    except apply.RotationStepFailed as error:
        log.fail(primary, str(error))
        return reached.relisted([primary])
    log.add_events(applied.events)
    return applied.reached


def _resume(
    context: apply.Context, reached: reach.Reached, log: outcomes.Log
) -> tuple[str, reach.Reached]:
    """Finish the forget and prune an earlier run left unfinished; return what was done (empty
    when nothing was left) and the locations as now listed."""
    intent = records.unfinished(context.db, context.source)
    if intent is None:
        return "", reached
    where = intent.location
    if where not in reached.listings:
        reason = reached.failures.get(where, "not reached")
        log.fail(where, f"rotation of run {intent.run_id} left unfinished here: {reason}")
        return f"rotation of run {intent.run_id} at {where} still unfinished", reached
    try:
        applied = apply.resume(context, reached, intent)
    except apply.RotationStepFailed as error:
        log.fail(where, str(error))
        return f"rotation of run {intent.run_id} at {where} still unfinished", reached
    log.add_events(applied.events)
    records.finish(context.db, context.source)  # the manifest now says what every location lacks
    logger.warning(
        "source %s: finished the rotation run %d left at its %s stage at %s",
        context.source,
        intent.run_id,
        intent.stage,
        where,
    )
    return (
        f"finished the rotation run {intent.run_id} left at its {intent.stage} stage at {where}",
        applied.reached,
    )
