"""Where a source's backups must live (statement, clause 10.12): two or more locations, one off-site."""

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
    """Given how many (off-site) locations a source has and its stated exceptions, return the verdict.

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
