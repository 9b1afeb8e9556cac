"""Where a source's backups must live (statement, clause 10.12): two or more locations, one
off-site, and two locations are two places."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class PlacementCheck:
    ok: bool
    problems: tuple[str, ...]
    waived: tuple[str, ...]


def check_placement(
    location_count: int,
    offsite_count: int,
    *,
    allow_single_location: str | None = None,
    allow_no_offsite: str | None = None,
) -> PlacementCheck:
    """Given how many (off-site) locations a source has and its exceptions, return the verdict.

    A rule that is broken but waived with a reason is reported under ``waived``, not ``problems``.
    """
    problems: list[str] = []
    waived: list[str] = []
    if location_count < 2:
        message = f"has {location_count} location(s); at least 2 are required (clause 10.12)"
        (waived if allow_single_location else problems).append(
            f"{message}; allowed: {allow_single_location}" if allow_single_location else message
        )
    if offsite_count < 1:
        message = "has no off-site location; at least 1 is required (clause 10.12)"
        (waived if allow_no_offsite else problems).append(
            f"{message}; allowed: {allow_no_offsite}" if allow_no_offsite else message
        )
    return PlacementCheck(ok=not problems, problems=tuple(problems), waived=tuple(waived))


@dataclasses.dataclass(frozen=True)
class Place:
    """Where a location keeps its repositories, already resolved by the caller.

    ``scope`` says which store (("local",), ("sftp", host, port), ("s3", endpoint, bucket));
    ``parts`` is the normalised path (or key prefix) inside it, one component per item.
    """

    scope: tuple[str, ...]
    parts: tuple[str, ...]


def same_or_inside(first: Place, second: Place) -> str | None:
    """Given two places, return "same" when they are one place, "inside" when ``first`` lies
    below ``second``, "contains" when ``second`` lies below ``first``, else None."""
    if first.scope != second.scope:
        return None
    if first.parts == second.parts:
        return "same"
    if first.parts[: len(second.parts)] == second.parts:
        return "inside"
    if second.parts[: len(first.parts)] == first.parts:
        return "contains"
    return None


def duplicate_places(places: dict[str, Place]) -> list[tuple[str, str]]:
    """Given places by location name (in config order), return (name, earlier name) for every
    location that stores in the same place as an earlier one: two names, one copy (10.12)."""
    duplicates: list[tuple[str, str]] = []
    first_of: dict[Place, str] = {}
    for name, place in places.items():
        if place in first_of:
            duplicates.append((name, first_of[place]))
        first_of.setdefault(place, name)
    return duplicates


def nested_places(names: tuple[str, ...], places: dict[str, Place]) -> list[tuple[str, str]]:
    """Given one source's location names and their places, return (inner, outer) for every pair
    where one location's place lies inside the other's: one disk holds both copies (10.12)."""
    nested: list[tuple[str, str]] = []
    for index, first in enumerate(names):
        for second in names[index + 1 :]:
            relation = same_or_inside(places[first], places[second])
            if relation == "inside":
                nested.append((first, second))
            elif relation == "contains":
                nested.append((second, first))
    return nested
