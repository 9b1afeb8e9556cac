"""The Prometheus textfile for node_exporter's textfile collector: pure rendering of facts.

Only ids (source, tenant, location names), counts, sizes, times and 0/1 results, never a file
name or anything of the data (clause 10.9). Times are Unix seconds; ages are seconds at the
moment the file is written.
"""

from __future__ import annotations

import dataclasses
import datetime


@dataclasses.dataclass(frozen=True)
class LocationFacts:
    location: str
    reachable: bool
    snapshots: int
    size_bytes: int
    newest: datetime.datetime | None
    oldest: datetime.datetime | None
    last_success: datetime.datetime | None  # newest backup or copy that succeeded there
    last_ok: bool | None  # the newest backup or copy there succeeded (None: none yet)
    foreign_files: int
    rotation_pending: bool
    check_ok: bool | None
    check_at: datetime.datetime | None


@dataclasses.dataclass(frozen=True)
class SourceFacts:
    source: str
    tenant: str
    locations: tuple[LocationFacts, ...]
    warnings: int
    damaged_files: int  # the last verify's unrepairable files
    drill_ok: bool | None
    drill_at: datetime.datetime | None
    drill_mismatched: int


# name -> (type, help); the order of the file
METRICS = {
    "backupctl_source_info": ("gauge", "A configured source and its tenant (always 1)."),
    "backupctl_source_warnings": ("gauge", "Warnings `backupctl status` shows for the source."),
    "backupctl_damaged_files": ("gauge", "Damaged files the last verify could not repair."),
    "backupctl_location_up": ("gauge", "1 when the location answered."),
    "backupctl_snapshots": ("gauge", "Snapshots of the source at the location."),
    "backupctl_repository_size_bytes": ("gauge", "Bytes of the repository at the location."),
    "backupctl_newest_snapshot_age_seconds": ("gauge", "Age of the newest snapshot there."),
    "backupctl_oldest_snapshot_age_seconds": ("gauge", "Age of the oldest snapshot there."),
    "backupctl_last_success_timestamp_seconds": (
        "gauge",
        "When a backup or copy to the location last succeeded.",
    ),
    "backupctl_last_result_ok": ("gauge", "1 when the newest backup or copy there succeeded."),
    "backupctl_foreign_files": ("gauge", "Files at the location backupctl did not write."),
    "backupctl_rotation_pending": (
        "gauge",
        "1 when the location still holds data rotation deleted (it was down).",
    ),
    "backupctl_check_ok": ("gauge", "1 when the last restic check there found no error."),
    "backupctl_check_timestamp_seconds": ("gauge", "When restic check last ran there."),
    "backupctl_drill_ok": ("gauge", "1 when the last restore drill matched every file."),
    "backupctl_drill_timestamp_seconds": ("gauge", "When the last restore drill ran."),
    "backupctl_drill_mismatched_files": ("gauge", "Files the last restore drill found differing."),
    "backupctl_metrics_timestamp_seconds": ("gauge", "When this file was written."),
}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{key}="{_label(value)}"' for key, value in labels.items()) + "}"


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _seconds(moment: datetime.datetime) -> float:
    return round(moment.timestamp(), 3)


def render(sources: tuple[SourceFacts, ...], *, now: datetime.datetime) -> str:
    """Given the facts of every source and the moment, return the textfile."""
    samples: dict[str, list[str]] = {name: [] for name in METRICS}

    def add(name: str, value: float | None, **labels: str) -> None:
        if value is not None:
            samples[name].append(f"{name}{_labels(**labels) if labels else ''} {_number(value)}")

    for entry in sources:
        add("backupctl_source_info", 1, source=entry.source, tenant=entry.tenant)
        add("backupctl_source_warnings", entry.warnings, source=entry.source)
        add("backupctl_damaged_files", entry.damaged_files, source=entry.source)
        add("backupctl_drill_ok", _flag(entry.drill_ok), source=entry.source)
        add("backupctl_drill_timestamp_seconds", _when(entry.drill_at), source=entry.source)
        if entry.drill_at is not None:
            add("backupctl_drill_mismatched_files", entry.drill_mismatched, source=entry.source)
        for place in entry.locations:
            _location(add, entry.source, place, now)
    add("backupctl_metrics_timestamp_seconds", _seconds(now))
    lines = []
    for name, (kind, text) in METRICS.items():
        if samples[name]:
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", *samples[name]]
    return "\n".join(lines) + "\n"


def _location(add, source: str, place: LocationFacts, now: datetime.datetime) -> None:
    labels = {"source": source, "location": place.location}
    add("backupctl_location_up", int(place.reachable), **labels)
    if place.reachable:
        add("backupctl_snapshots", place.snapshots, **labels)
        add("backupctl_repository_size_bytes", place.size_bytes, **labels)
        add("backupctl_foreign_files", place.foreign_files, **labels)
    add("backupctl_newest_snapshot_age_seconds", _age(now, place.newest), **labels)
    add("backupctl_oldest_snapshot_age_seconds", _age(now, place.oldest), **labels)
    add("backupctl_last_success_timestamp_seconds", _when(place.last_success), **labels)
    add("backupctl_last_result_ok", _flag(place.last_ok), **labels)
    add("backupctl_rotation_pending", int(place.rotation_pending), **labels)
    add("backupctl_check_ok", _flag(place.check_ok), **labels)
    add("backupctl_check_timestamp_seconds", _when(place.check_at), **labels)


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _when(moment: datetime.datetime | None) -> float | None:
    return None if moment is None else _seconds(moment)


def _age(now: datetime.datetime, moment: datetime.datetime | None) -> float | None:
    return None if moment is None else round((now - moment).total_seconds(), 3)
