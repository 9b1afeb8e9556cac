"""The audit log for the data protection officer: JSON lines (one record a line, every field,
hashes included so the export can be checked against the log) or CSV (subjects and details as
JSON in their columns)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from backupctl.audit import query
from backupctl.audit.log import Record

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ("seq", "at", "actor", "action", "outcome", "subjects", "details", "prev", "hash")


def lines(records: Iterable[Record], *, fmt: str) -> Iterator[str]:
    """Given records and a format (``jsonl`` or ``csv``), yield the export's lines (each ending
    in a newline); raise ValueError for another format."""
    if fmt == "jsonl":
        for record in records:
            yield json.dumps(query.as_dict(record), sort_keys=True) + "\n"
    elif fmt == "csv":
        yield _csv_line(CSV_COLUMNS)
        for record in records:
            yield _csv_line(
                (
                    record.seq,
                    record.at,
                    record.actor,
                    record.action,
                    record.outcome,
                    json.dumps(dict(record.subjects), sort_keys=True),
                    json.dumps(dict(record.details), sort_keys=True),
                    record.prev,
                    record.hash,
                )
            )
    else:
        raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")


def _csv_line(values: Iterable[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()
