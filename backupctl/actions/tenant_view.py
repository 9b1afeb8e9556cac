"""What ``tenant list``, ``tenant show`` and ``status`` say about a tenant: its sources and
locations, its state and dates, the destruction record, and what happens to the copies
destruction cannot reach (escrow files, S3 noncurrent versions, object-locked objects)."""

from __future__ import annotations

import dataclasses
import datetime

from backupctl import state
from backupctl.config import Config
from backupctl.tenants import plan, states
from backupctl.tenants import store as tenant_store

ESCROW_BEFORE = (
    "escrow copies made before destruction still hold the repository passwords; after "
    "destruction make a new escrow (`backupctl keys escrow --force`) and destroy older copies"
)
S3_VERSIONS = (
    "{name}: destruction deletes every object version and delete marker under the source's "
    "prefix by version id (noncurrent versions are not left to the lifecycle rule); an object "
    "under object lock stays until its retain-until date and the location stays pending until "
    "then"
)


@dataclasses.dataclass(frozen=True)
class TenantView:
    tenant: str
    standing: states.Standing
    sources: tuple[str, ...]
    locations: tuple[str, ...]
    in_config: bool
    destruction: tuple[tenant_store.LocationDestruction, ...]
    erased_keys: tuple[tenant_store.ErasedKey, ...]
    escrow: str
    s3: tuple[str, ...]
    now: datetime.datetime

    @property
    def state(self) -> str:
        """The state in one phrase, as of ``now``."""
        standing = self.standing
        words = [standing.phase.value]
        if standing.phase is states.Phase.OFFBOARDED:
            started = standing.offboarded_by(self.now)
            words = ["offboarded" if started else f"offboarding effective {standing.effective}"]
        if standing.held:
            words.append("held")
        if standing.suspension is not None:
            words.append("suspended")
        return ", ".join(words)

    @property
    def pending(self) -> tuple[tenant_store.LocationDestruction, ...]:
        return tuple(plan.pending(self.destruction))


def view(config: Config, tenant: str, *, now: datetime.datetime) -> TenantView:
    """Given a tenant, return everything ``tenant show`` says about it at ``now``."""
    db = state.db_path(config.state_dir)
    standing = tenant_store.standing(db, tenant)
    sources = tuple(sorted(s.name for s in config.sources.values() if s.tenant == tenant))
    names = tuple(
        dict.fromkeys(name for source in sources for name in config.sources[source].locations)
    )
    erased = tuple(tenant_store.erased_keys(db, tenant))
    return TenantView(
        tenant=tenant,
        standing=standing,
        sources=sources,
        locations=names,
        in_config=bool(sources),
        destruction=tuple(tenant_store.destruction(db, tenant)),
        erased_keys=erased,
        escrow=_escrow(db, erased),
        s3=tuple(S3_VERSIONS.format(name=name) for name in names if _kind(config, name) == "s3"),
        now=now,
    )


def _kind(config: Config, name: str) -> str:
    return config.locations[name].kind if name in config.locations else ""


def _escrow(db, erased: tuple[tenant_store.ErasedKey, ...]) -> str:
    """Say what the escrow holds of the tenant: before destruction, after it, re-made since."""
    if not erased:
        return ESCROW_BEFORE
    first = min(key.erased_at for key in erased)
    remade = tenant_store.escrow_after(db, first)
    if remade is None:
        return (
            f"keystore entries erased {first}; no escrow made since: older escrow copies still "
            "hold the passwords (what a location that was down still holds could be read with "
            "them): run `backupctl keys escrow --force` and destroy older copies"
        )
    return (
        f"keystore entries erased {first}; escrow made again {remade} without them: destroy "
        "escrow copies older than that (they hold passwords of repositories that are gone)"
    )


@dataclasses.dataclass(frozen=True)
class StatusLines:
    """What ``status`` says of tenants: sources it does not list (destruction began), sources
    whose missing backups are expected (offboarded), warnings (exit 1) and notes."""

    skipped: frozenset[str]
    offboarded: frozenset[str]
    warnings: tuple[str, ...]
    notes: tuple[str, ...]


OVERDUE_PREFIXES = ("newest backup is", "no backup yet")


def status_lines(config: Config, *, now: datetime.datetime) -> StatusLines:
    """Given the config, return what ``status`` reports of its tenants at ``now``."""
    db = state.db_path(config.state_dir)
    skipped, offboarded, warnings, notes = set(), set(), [], []
    configured = frozenset(s.tenant for s in config.sources.values())
    for tenant, standing in tenant_store.standings(db, configured).items():
        if standing.phase is states.Phase.ACTIVE and not (standing.held or standing.suspension):
            continue
        shown = view(config, tenant, now=now)
        if standing.phase in (states.Phase.DESTROYING, states.Phase.DESTROYED):
            skipped |= set(shown.sources)
        elif standing.offboarded_by(now):
            offboarded |= set(shown.sources)
        lines = _tenant_lines(shown, now)
        warnings += lines[0]
        notes += lines[1]
    return StatusLines(frozenset(skipped), frozenset(offboarded), tuple(warnings), tuple(notes))


def quiet_overdue(lines: StatusLines, source: str, warnings: tuple[str, ...]) -> tuple[str, ...]:
    """Drop "backup overdue" from an offboarded source's warnings: its backups stopped on
    purpose."""
    if source not in lines.offboarded:
        return warnings
    return tuple(w for w in warnings if not w.startswith(OVERDUE_PREFIXES))


def _tenant_lines(shown: TenantView, now: datetime.datetime) -> tuple[list[str], list[str]]:
    standing, name = shown.standing, shown.tenant
    warnings, notes = [], []
    for hold in standing.holds:
        notes.append(
            f"tenant {name}: legal hold {hold.reference} since {hold.at:%Y-%m-%d} "
            f"(by {hold.actor}): rotation and destruction suspended"
        )
    if standing.suspension is not None:
        notes.append(
            f"tenant {name}: suspended since {standing.suspension.at:%Y-%m-%d}: restores refused"
        )
    if standing.phase is states.Phase.OFFBOARDED:
        due = standing.destruction_due
        notes.append(
            f"tenant {name}: offboarded ({standing.offboard.reason}) effective "
            f"{standing.effective}; destruction due {due:%Y-%m-%d}"
        )
        if standing.destruction_is_due(now - datetime.timedelta(days=1)):
            warnings.append(f"tenant {name}: destruction overdue since {due:%Y-%m-%d}: run rotate")
    for entry in shown.pending:
        warnings.append(
            f"tenant {name}: destruction unfinished at location {entry.location} (source "
            f"{entry.source}, run {entry.run_id}): {entry.remaining}; the next rotate finishes it"
        )
    if standing.phase is states.Phase.DESTROYED:
        notes.append(f"tenant {name}: destroyed {standing.destroyed.at:%Y-%m-%d}")
        warnings += [
            f"source {source} (tenant {name}, destroyed): remove it from the config"
            for source in shown.sources
        ]
    return warnings, notes
