"""Parse the status screen ddrescue prints while it runs (manual, "Meaning of ddrescue's screen
output").

ddrescue redraws its screen with carriage returns and cursor-up escapes; the parser is fed the
raw text in chunks as it arrives and keeps the latest value of every ``name: value`` field and
the latest pass message ("Copying non-tried blocks... Pass 1 (forwards)").
"""

from __future__ import annotations

import dataclasses
import re

_ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_FIELD = re.compile(r"([a-z][a-z ]*?):\s+([^,]+?)(?:,|$)")
_PASS = re.compile(r"^(Copying|Trimming|Scraping|Retrying|Filling|Generating)\b.*$")
_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kMGTPE]i?)?B(?:/s)?$")
_DURATION = re.compile(r"(\d+)([dhms])")
_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


@dataclasses.dataclass(frozen=True)
class Status:
    """The latest screen: rates in bytes per second, durations in seconds, None when 'n/a'."""

    current_rate: int | None
    average_rate: int | None
    since_last_read: int | None
    read_errors: int | None
    pass_message: str | None


def parse_size(text: str) -> int | None:
    """Given '8388 kB' or '21479 kB/s' or '0 B', return bytes (SI or binary prefixes); else None."""
    match = _SIZE.match(text.strip())
    if not match:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2) or ""])


def parse_duration(text: str) -> int | None:
    """Given '35s', '10m', '1h 2m' or 'n/a', return seconds or None."""
    parts = _DURATION.findall(text)
    if not parts:
        return None
    return sum(int(amount) * _SECONDS[unit] for amount, unit in parts)


class StatusParser:
    """Fed chunks of ddrescue's stdout, remembers the latest value of every field."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.pass_message: str | None = None
        self._partial = ""

    def feed(self, text: str) -> None:
        lines = re.split(r"[\r\n]", self._partial + _ESCAPES.sub("", text))
        self._partial = lines.pop()
        for line in lines:
            self._line(line.strip())

    def _line(self, line: str) -> None:
        if _PASS.match(line):
            self.pass_message = line
            return
        for name, value in _FIELD.findall(line):
            self.fields[name.strip()] = value.strip()

    def status(self) -> Status:
        def rate(name: str) -> int | None:
            return parse_size(self.fields.get(name, ""))

        errors_text = self.fields.get("read errors", "")
        return Status(
            current_rate=rate("current rate"),
            average_rate=rate("average rate"),
            since_last_read=parse_duration(self.fields.get("time since last successful read", "")),
            read_errors=int(errors_text) if errors_text.isdigit() else None,
            pass_message=self.pass_message,
        )
