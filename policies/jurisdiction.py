"""Where data may be stored (statement, clause 9): inside the EEA, unless explicitly allowed."""

from __future__ import annotations

import dataclasses

# EU member states plus Iceland, Liechtenstein and Norway (ISO 3166-1 alpha-2).
EEA_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
    ]
)

# The country of each AWS-style S3 region name we know, to catch a declared country that does
# not match the bucket's region. Regions not listed are accepted as declared.
S3_REGION_COUNTRIES = {
    "eu-central-1": "DE",
    "eu-central-2": "CH",
    "eu-west-1": "IE",
    "eu-west-2": "GB",
    "eu-west-3": "FR",
    "eu-north-1": "SE",
    "eu-south-1": "IT",
    "eu-south-2": "ES",
    "us-east-1": "US",
    "us-east-2": "US",
    "us-west-1": "US",
    "us-west-2": "US",
    "ca-central-1": "CA",
    "ap-southeast-1": "SG",
    "ap-northeast-1": "JP",
    "sa-east-1": "BR",
}


@dataclasses.dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def location_allowed(country: str, *, allow_outside_eea: str | None) -> Decision:
    """Given a location's country and its stated exception, return whether it may hold backups."""
    if country.upper() in EEA_COUNTRIES:
        return Decision(True, f"{country.upper()} is in the EEA")
    if allow_outside_eea:
        return Decision(True, f"{country.upper()} is outside the EEA, allowed: {allow_outside_eea}")
    return Decision(
        False,
        f"{country.upper()} is outside the EEA (statement clause 9); "
        'set allow_outside_eea = "<reason>" to allow it explicitly',
    )


def region_country_mismatch(region: str, country: str) -> str | None:
    """Given an S3 region and a declared country, return why they disagree, or None."""
    known = S3_REGION_COUNTRIES.get(region)
    if known is not None and known != country.upper():
        return f"region {region} is in {known}, but the location declares country {country.upper()}"
    return None
