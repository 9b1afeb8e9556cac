"""A quick reachability check of a location, for ``backupctl status``."""

from __future__ import annotations

from targets import errors, registry


def check_reachable(spec: object) -> tuple[bool, str]:
    """Given a location spec, return (True, "reachable") when the location answers, or
    (False, reason) when it does not; never raises for an expected failure."""
    try:
        with registry.open_store(spec) as opened:
            opened.ping()
    except errors.TargetError as error:
        return False, str(error)
    return True, "reachable"
