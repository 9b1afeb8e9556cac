"""Options shared by several commands, as module-level decorators."""

from __future__ import annotations

import datetime

import click

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print results as JSON on stdout (for scripts)."
)
quiet_option = click.option(
    "--quiet", "-q", is_flag=True, help="No progress output; results and errors only."
)


def parse_moment(
    value: str | None, *, naive_is: str = "UTC", param_hint: str | None = None
) -> datetime.datetime | None:
    """Given an ISO 8601 date or time typed by the user (None: none given), return it with a
    zone: a naive one is taken as UTC, or as local time with ``naive_is="local"``; raise
    click.BadParameter naming the value otherwise."""
    if value is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: expected an ISO 8601 date or time, e.g. 2027-01-31 or 2027-01-31T02:00",
            param_hint=param_hint,
        ) from None
    if moment.tzinfo:
        return moment
    return moment.astimezone() if naive_is == "local" else moment.replace(tzinfo=datetime.UTC)
