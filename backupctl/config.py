"""Load and validate the TOML configuration; every mistake is reported with its key path.

Given a path, ``load`` returns a frozen ``Config`` or raises ``ConfigError`` listing every problem
found (not just the first), so an operator can fix the file in one go.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import tomllib
import urllib.parse
from typing import Any

from backupctl import config_schema as schema
from backupctl.config_access import parse_access
from backupctl.config_operations import Operations, parse_operations
from backupctl.config_restore import RestoreSettings, parse_restore
from backupctl.errors import ConfigError
from policies import access, jurisdiction, placement, retention

TOP_LEVEL_TABLES = ("backupctl", "locations", "sources", "policies", "access", "operations")
RESERVED_SOURCE = "audit-checkpoints"  # the directory next to the repositories for audit anchors


@dataclasses.dataclass(frozen=True)
class Location:
    name: str
    kind: str
    country: str
    offsite: bool
    provider: str
    allow_outside_eea: str | None
    settings: dict[str, Any]  # the kind-specific keys (path, host, bucket, ...)


@dataclasses.dataclass(frozen=True)
class Source:
    name: str
    paths: tuple[pathlib.Path, ...]
    excludes: tuple[str, ...]
    tenant: str
    locations: tuple[str, ...]
    retention: str
    schedule: str
    schedule_hours: float
    tags: tuple[str, ...]
    allow_single_location: str | None
    allow_no_offsite: str | None


@dataclasses.dataclass(frozen=True)
class Config:
    path: pathlib.Path
    state_dir: pathlib.Path
    keystore_path: pathlib.Path
    master_key_file: pathlib.Path | None
    master_key_command: str | None
    restic_binary: str
    restic_cache_dir: pathlib.Path
    locations: dict[str, Location]
    sources: dict[str, Source]
    policies: dict[str, retention.RetentionPolicy]
    access: access.AccessPolicy = access.AccessPolicy()
    job_copies_days: int = 30
    audit_lock_location: str | None = None  # S3 location with object lock for audit checkpoints
    audit_lock_days: int = 400
    restore: RestoreSettings = RestoreSettings()
    operations: Operations = Operations()  # [operations]: schedules, checks, monitoring

    def source_locations(self, source: Source) -> tuple[Location, ...]:
        return tuple(self.locations[name] for name in source.locations)


def load(path: pathlib.Path) -> Config:
    """Given a config file path, return the validated Config; raise ConfigError naming every
    problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found (use --config or $BACKUPCTL_CONFIG)"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read config file: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    return parse(raw, path)


def parse(raw: dict[str, Any], path: pathlib.Path) -> Config:
    """Given parsed TOML, return the validated Config; raise ConfigError naming every problem."""
    errors: list[str] = []
    for name in raw:
        if name not in TOP_LEVEL_TABLES:
            errors.append(f"{name}: unknown table (known: {', '.join(TOP_LEVEL_TABLES)})")
    general = schema.check_table(raw.get("backupctl", {}), schema.GLOBAL_KEYS, "backupctl", errors)
    if general.get("master_key_file") and general.get("master_key_command"):
        errors.append("backupctl: set master_key_file or master_key_command, not both")
    _check_local_directories(general, errors)
    policies = _parse_policies(raw.get("policies", {}), errors)
    locations = _parse_locations(raw.get("locations", {}), errors)
    places = _distinct_places(locations, errors)
    sources = _parse_sources(raw.get("sources", {}), locations, places, policies, errors)
    access_policy = parse_access(raw.get("access"), errors)
    operations = parse_operations(raw.get("operations"), errors)
    _check_lock_location(general.get("audit_lock_location"), locations, errors)
    restore_settings = parse_restore(_restore_table(raw.get("access")), errors)
    if errors:
        listing = "\n  ".join(errors)
        raise ConfigError(f"{path}: {len(errors)} problem(s):\n  {listing}")
    state_dir = pathlib.Path(general["state_dir"])
    return Config(
        path=path,
        state_dir=state_dir,
        keystore_path=pathlib.Path(general["keystore"]),
        master_key_file=_optional_path(general["master_key_file"]),
        master_key_command=general["master_key_command"],
        restic_binary=general["restic"],
        restic_cache_dir=_optional_path(general["restic_cache_dir"]) or state_dir / "restic-cache",
        locations=locations,
        sources=sources,
        policies=policies,
        access=access_policy,
        job_copies_days=general["job_copies_days"],
        audit_lock_location=general["audit_lock_location"],
        audit_lock_days=general["audit_lock_days"],
        restore=restore_settings,
        operations=operations,
    )


def _check_lock_location(name: str | None, locations: dict[str, Location], errors: list) -> None:
    if name is None:
        return
    if name not in locations:
        errors.append(f"backupctl.audit_lock_location: no location named {name!r}")
    elif locations[name].kind != "s3":
        errors.append(
            f"backupctl.audit_lock_location: {name} is {locations[name].kind}; object lock needs s3"
        )


def _restore_table(raw_access: Any) -> Any:
    return raw_access.get("restore") if isinstance(raw_access, dict) else None


def _optional_path(value: str | None) -> pathlib.Path | None:
    return pathlib.Path(value) if value else None


# Directories backupctl creates on this host: each must be a directory or creatable as one.
LOCAL_DIRECTORY_KEYS = ("state_dir", "restic_cache_dir")


def _check_local_directories(general: dict[str, Any], errors: list[str]) -> None:
    """Append a problem for each local directory whose path is, or lies below, a non-directory."""
    for key in LOCAL_DIRECTORY_KEYS:
        value = general.get(key)
        if not isinstance(value, str) or not value.startswith("/"):
            continue
        path = pathlib.Path(value)
        blocker = next(
            (
                candidate
                for candidate in (path, *path.parents)
                if candidate.exists() or candidate.is_symlink()
            ),
            None,
        )
        if blocker is not None and not blocker.is_dir():
            what = (
                "is not a directory"
                if blocker == path
                else f"lies below {blocker}, not a directory"
            )
            errors.append(f"backupctl.{key}: {value} {what}")


def _distinct_places(
    locations: dict[str, Location], errors: list[str]
) -> dict[str, placement.Place]:
    """Given the locations, return their resolved places; append a problem for each location
    that stores in the same place as an earlier one."""
    places = {name: place_of(location) for name, location in locations.items()}
    known = {name: place for name, place in places.items() if place is not None}
    for name, twin in placement.duplicate_places(known):
        errors.append(
            f"locations.{name}: stores in the same place as locations.{twin}; "
            "two names for one place are one copy, not two"
        )
    return known


def place_of(location: Location) -> placement.Place | None:
    """Given a location, return where it stores, resolved so that two spellings of one place are
    equal: local paths with symlinks, '.', '..' and '//' resolved on this host; SFTP host, port
    and normalised path; S3 endpoint, bucket and normalised prefix. None when a key is missing."""
    settings = location.settings
    if location.kind == "local" and isinstance(settings.get("path"), str):
        return placement.Place(("local",), _path_parts(os.path.realpath(settings["path"])))
    if (
        location.kind == "sftp"
        and isinstance(settings.get("host"), str)
        and isinstance(settings.get("path"), str)
    ):
        host = settings["host"].lower().rstrip(".")
        return placement.Place(("sftp", host, str(settings["port"])), _path_parts(settings["path"]))
    if (
        location.kind == "s3"
        and isinstance(settings.get("endpoint"), str)
        and isinstance(settings.get("bucket"), str)
    ):
        scope = ("s3", _normal_endpoint(settings["endpoint"]), settings["bucket"])
        return placement.Place(scope, _path_parts(settings.get("prefix") or ""))
    return None


def _path_parts(path: str) -> tuple[str, ...]:
    """Given a path or key prefix, return its components with '', '.' and '..' resolved."""
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            parts = parts[:-1]
        elif part not in ("", "."):
            parts.append(part)
    return tuple(parts)


def _normal_endpoint(endpoint: str) -> str:
    """Given an S3 endpoint URL, return it with lower-case scheme and host and an explicit port."""
    try:
        url = urllib.parse.urlsplit(endpoint.strip())
        port = url.port or {"https": 443, "http": 80}.get(url.scheme.lower(), 0)
    except ValueError:
        return endpoint.strip().lower()
    return f"{url.scheme.lower()}://{(url.hostname or '').rstrip('.')}:{port}/" + "/".join(
        _path_parts(url.path)
    )


def _named_tables(raw: Any, section: str, errors: list[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        errors.append(f"{section}: expected a table of named tables")
        return {}
    tables = {}
    for name, table in raw.items():
        if not schema.NAME_PATTERN.match(name):
            errors.append(f"{section}.{name}: name must be {schema.NAME_RULE}")
        tables[name] = table
    return tables


def _parse_policies(raw: Any, errors: list[str]) -> dict[str, retention.RetentionPolicy]:
    policies = dict(retention.BUILTIN_POLICIES)
    for name, table in _named_tables(raw, "policies", errors).items():
        if name in retention.BUILTIN_POLICIES:  # the statement's promise cannot be redefined
            errors.append(f"policies.{name}: built-in policy; choose another name")
            continue
        values = schema.check_table(table, schema.POLICY_KEYS, f"policies.{name}", errors)
        if values.get("max_age_days") is None:
            continue
        policy = retention.RetentionPolicy(name=name, **values)
        problem = retention.keep_rules_problem(policy)
        if problem:
            errors.append(f"policies.{name}: {problem}")
        policies[name] = policy
    return policies


def _parse_locations(raw: Any, errors: list[str]) -> dict[str, Location]:
    locations = {}
    for name, table in _named_tables(raw, "locations", errors).items():
        where = f"locations.{name}"
        if not isinstance(table, dict):
            errors.append(f"{where}: expected a table")
            continue
        kind = table.get("kind")
        if not isinstance(kind, str) or kind not in schema.LOCATION_KIND_KEYS:
            errors.append(f"{where}.kind: expected one of local, sftp, s3, got {kind!r}")
            continue
        keys = schema.LOCATION_COMMON_KEYS + schema.LOCATION_KIND_KEYS[kind]
        values = schema.check_table(table, keys, where, errors)
        if not values.get("country"):
            continue
        decision = jurisdiction.location_allowed(
            values["country"], allow_outside_eea=values["allow_outside_eea"]
        )
        if not decision.allowed:
            errors.append(f"{where}.country: {decision.reason}")
        if kind == "s3" and values.get("region"):
            mismatch = jurisdiction.region_country_mismatch(values["region"], values["country"])
            if mismatch:
                errors.append(f"{where}.region: {mismatch}")
        common = {key.name for key in schema.LOCATION_COMMON_KEYS}
        locations[name] = Location(
            name=name,
            kind=kind,
            country=values["country"].upper(),
            offsite=values["offsite"],
            provider=values["provider"],
            allow_outside_eea=values["allow_outside_eea"],
            settings={k: v for k, v in values.items() if k not in common},
        )
    return locations


def _parse_sources(
    raw: Any,
    locations: dict[str, Location],
    places: dict[str, placement.Place],
    policies: dict[str, retention.RetentionPolicy],
    errors: list[str],
) -> dict[str, Source]:
    sources = {}
    for name, table in _named_tables(raw, "sources", errors).items():
        where = f"sources.{name}"
        if name == RESERVED_SOURCE:  # the audit log's anchors live there (docs/audit.md)
            errors.append(f"{where}: the name {RESERVED_SOURCE} is reserved for audit anchors")
        values = schema.check_table(table, schema.SOURCE_KEYS, where, errors)
        if values.get("paths") is None or values.get("locations") is None:
            continue
        _check_source_references(values, locations, policies, where, errors)
        _check_nested_places(values["locations"], places, where, errors)
        source = Source(
            name=name,
            paths=tuple(pathlib.Path(p) for p in values["paths"]),
            excludes=tuple(values["excludes"]),
            tenant=values["tenant"] or "",
            locations=tuple(values["locations"]),
            retention=values["retention"],
            schedule=values["schedule"],
            schedule_hours=schema.parse_interval_hours(values["schedule"]) or 24.0,
            tags=tuple(values["tags"]),
            allow_single_location=values["allow_single_location"],
            allow_no_offsite=values["allow_no_offsite"],
        )
        sources[name] = source
    return sources


def _check_source_references(
    values: dict[str, Any],
    locations: dict[str, Location],
    policies: dict[str, retention.RetentionPolicy],
    where: str,
    errors: list[str],
) -> None:
    for path in values["paths"]:
        if not path.startswith("/"):
            errors.append(f"{where}.paths: {path!r} must be an absolute path")
    if not values["paths"]:
        errors.append(f"{where}.paths: at least one path is required")
    names = values["locations"]
    if len(set(names)) != len(names):
        errors.append(f"{where}.locations: a location is listed twice")
    unknown = [n for n in names if n not in locations]
    for location_name in unknown:
        errors.append(f"{where}.locations: unknown location {location_name!r}")
    if values["retention"] not in policies:
        errors.append(
            f"{where}.retention: unknown policy {values['retention']!r} "
            f"(known: {', '.join(sorted(policies))})"
        )
    known = [locations[n] for n in dict.fromkeys(names) if n in locations]
    if unknown:
        return
    verdict = placement.check_placement(
        len(known),
        sum(1 for location in known if location.offsite),
        allow_single_location=values["allow_single_location"],
        allow_no_offsite=values["allow_no_offsite"],
    )
    for problem in verdict.problems:
        errors.append(f"{where}.locations: {problem}")


def _check_nested_places(
    names: list[str], places: dict[str, placement.Place], where: str, errors: list[str]
) -> None:
    """Append a problem when one of a source's locations stores inside another of them."""
    known = tuple(name for name in dict.fromkeys(names) if name in places)
    for inner, outer in placement.nested_places(known, places):
        errors.append(
            f"{where}.locations: {inner} stores inside {outer}; "
            "one place holding both copies is not two locations (clause 10.12)"
        )
