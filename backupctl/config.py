"""Load and validate the TOML configuration; every mistake is reported with its key path.

Given a path, ``load`` returns a frozen ``Config`` or raises ``ConfigError`` listing every problem
found (not just the first), so an operator can fix the file in one go.
"""

from __future__ import annotations

import dataclasses
import pathlib
import tomllib
from typing import Any

from backupctl import config_schema as schema
from backupctl.errors import ConfigError
from policies import jurisdiction, placement, retention

TOP_LEVEL_TABLES = ("backupctl", "locations", "sources", "policies")


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

    def source_locations(self, source: Source) -> tuple[Location, ...]:
        return tuple(self.locations[name] for name in source.locations)


def load(path: pathlib.Path) -> Config:
    """Given a config file path, return the validated Config; raise ConfigError naming every problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (use --config or $BACKUPCTL_CONFIG)") from None
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
    policies = _parse_policies(raw.get("policies", {}), errors)
    locations = _parse_locations(raw.get("locations", {}), errors)
    sources = _parse_sources(raw.get("sources", {}), locations, policies, errors)
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
    )


def _optional_path(value: str | None) -> pathlib.Path | None:
    return pathlib.Path(value) if value else None


def _named_tables(raw: Any, section: str, errors: list[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        errors.append(f"{section}: expected a table of named tables")
        return {}
    tables = {}
    for name, table in raw.items():
        if not schema.NAME_PATTERN.match(name):
            errors.append(f"{section}.{name}: name must be 1-64 letters, digits, '.', '_' or '-'")
        tables[name] = table
    return tables


def _parse_policies(raw: Any, errors: list[str]) -> dict[str, retention.RetentionPolicy]:
    policies = dict(retention.BUILTIN_POLICIES)
    for name, table in _named_tables(raw, "policies", errors).items():
        if name in retention.BUILTIN_POLICIES:  # the statement's promise cannot be redefined
            errors.append(f"policies.{name}: built-in policy; choose another name")
            continue
        values = schema.check_table(table, schema.POLICY_KEYS, f"policies.{name}", errors)
        if values.get("max_age_days") is not None:
            policies[name] = retention.RetentionPolicy(name=name, **values)
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
            name=name, kind=kind, country=values["country"].upper(), offsite=values["offsite"],
            provider=values["provider"], allow_outside_eea=values["allow_outside_eea"],
            settings={k: v for k, v in values.items() if k not in common},
        )
    _check_distinct_places(locations, errors)
    return locations


# The settings that say where a location's repositories live; two locations with the same place
# are one copy, not two (clause 10.12).
PLACE_KEYS = {"local": ("path",), "sftp": ("host", "port", "path"),
              "s3": ("endpoint", "bucket", "prefix")}


def _check_distinct_places(locations: dict[str, Location], errors: list[str]) -> None:
    seen: dict[tuple, str] = {}
    for name, location in locations.items():
        place = (location.kind, *(str(location.settings.get(key)).rstrip("/")
                                  for key in PLACE_KEYS[location.kind]))
        if place in seen:
            errors.append(f"locations.{name}: stores in the same place as locations.{seen[place]}; "
                          "two names for one place are one copy, not two")
        seen.setdefault(place, name)


def _parse_sources(raw, locations, policies, errors) -> dict[str, Source]:
    sources = {}
    for name, table in _named_tables(raw, "sources", errors).items():
        where = f"sources.{name}"
        values = schema.check_table(table, schema.SOURCE_KEYS, where, errors)
        if values.get("paths") is None or values.get("locations") is None:
            continue
        _check_source_references(values, locations, policies, where, errors)
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


def _check_source_references(values, locations, policies, where, errors) -> None:
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
        errors.append(f"{where}.retention: unknown policy {values['retention']!r} "
                      f"(known: {', '.join(sorted(policies))})")
    known = [locations[n] for n in dict.fromkeys(names) if n in locations]
    if unknown:
        return
    verdict = placement.check_placement(
        len(known), sum(1 for location in known if location.offsite),
        allow_single_location=values["allow_single_location"],
        allow_no_offsite=values["allow_no_offsite"],
    )
    for problem in verdict.problems:
        errors.append(f"{where}.locations: {problem}")
