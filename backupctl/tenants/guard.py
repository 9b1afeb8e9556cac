"""The checks other actions ask of a tenant's state: may its sources be backed up, may its data
be restored. Both read the recorded changes; the clock is a parameter."""

from __future__ import annotations

import datetime
import logging
import pathlib
from collections.abc import Sequence

from backupctl import state
from backupctl.config import Config, Source
from backupctl.errors import RefusedError
from backupctl.tenants import store

logger = logging.getLogger(__name__)


class TenantOffboarded(RefusedError):
    """A source whose tenant is offboarded (or destroyed) is not backed up any more."""


def restore_refusal(db: pathlib.Path, tenant: str) -> str | None:
    """Given the state database and a tenant, return why its data may not be restored now
    (offboarded, being destroyed or destroyed, suspended), or None (``restore/gate.py``)."""
    return store.standing(db, tenant).restore_refusal(datetime.datetime.now(datetime.UTC))


def sources_to_back_up(
    config: Config,
    sources: Sequence[Source],
    *,
    named: bool,
    now: datetime.datetime | None = None,
) -> list[Source]:
    """Given the sources a backup (or init) would touch, return those it may; raise
    TenantOffboarded (exit 4) when a source named on the command line belongs to an offboarded
    tenant. Sources taken by default (none named) of such tenants are left out with a log line,
    so one offboarded customer never stops everybody else's backups."""
    now = now or datetime.datetime.now(datetime.UTC)
    db = state.db_path(config.state_dir)
    standings = store.standings(db, frozenset(source.tenant for source in sources))
    refused = {
        source.name: reason
        for source in sources
        if (reason := standings[source.tenant].backup_refusal(now))
    }
    if refused and named:
        listing = "; ".join(
            f"{name} (tenant {config.sources[name].tenant}: {why})" for name, why in refused.items()
        )
        raise TenantOffboarded(f"refused: no new backups of {listing} (docs/tenants.md)")
    for name, why in refused.items():
        logger.warning("source %s skipped: tenant %s %s", name, config.sources[name].tenant, why)
    return [source for source in sources if source.name not in refused]
