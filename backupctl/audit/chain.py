"""Walk the audit log once: check every record's number, link and hash, and compute the Merkle
roots at the sizes checkpoints and anchors name.

A problem names the record where it shows:

- ``changed``: the record's content no longer matches its hash;
- ``removed``: numbers are missing (records ``a``..``b`` deleted);
- ``inserted``: a record links to the one *two* before it: the record between was put in;
- ``broken link``: a record does not link to the one before it (removed and renumbered, moved,
  or reordered).

Truncation and a whole log replaced by a different but consistent one leave the chain intact;
``checkpoints.py`` catches those against signed checkpoints and anchors.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable

from backupctl.audit import log, merkle

MAX_PROBLEMS = 50  # a wholesale rewrite breaks every record; the first ones tell where


@dataclasses.dataclass(frozen=True)
class Problem:
    """What is wrong, and at which record (None: the log as a whole)."""

    seq: int | None
    kind: str
    text: str


@dataclasses.dataclass(frozen=True)
class Walk:
    """What one pass over the log found."""

    count: int  # records read
    last_seq: int
    head: str  # hash of the last record
    problems: tuple[Problem, ...]
    roots: dict[int, tuple[str, str]]  # tree size -> (Merkle root, hash of that record), hex


Row = tuple[int, str, str, str, str, str, str, str, str]
_dumps = json.JSONEncoder(ensure_ascii=True).encode  # for the plain strings of a record


def _canonical_fast(row: Row) -> bytes:
    """Rebuild the hashed bytes from the stored text, which ``log.compact_json`` wrote in the
    canonical form (keys in the order ``json.dumps(sort_keys=True)`` puts them)."""
    seq, at, actor, action, subjects, outcome, details, _, _ = row
    return (
        f'{{"action":{_dumps(action)},"actor":{_dumps(actor)},"at":{_dumps(at)},'
        f'"details":{details},"outcome":{_dumps(outcome)},"seq":{seq},"subjects":{subjects}}}'
    ).encode()


def _canonical(row: Row) -> bytes:
    """Rebuild the hashed bytes by decoding and re-encoding (text stored in another layout)."""
    seq, at, actor, action, subjects, outcome, details, _, _ = row
    event = log.Event(action, actor, outcome, json.loads(subjects), json.loads(details))
    return log.canonical(seq, at, event)


def intact(row: Row) -> bool:
    """Given a stored row, return whether its hash covers its content and its link."""
    prev, stored = row[7], row[8]
    try:
        if log.chain_hash(prev, _canonical_fast(row)) == stored:
            return True
        return log.chain_hash(prev, _canonical(row)) == stored
    except (ValueError, TypeError):
        return False


def walk(rows: Iterable[Row], *, sizes: Iterable[int] = (), tree: bool = True) -> Walk:
    """Given the log's rows in order (seq, at, actor, action, subjects, outcome, details, prev,
    hash) and the tree sizes of interest, return what the walk found; with ``tree`` False the
    Merkle roots are left empty (another process computes them: ``parallel.py``), the hashes at
    those sizes are still noted.

    The loop is the hot path of ``audit verify`` (docs/performance.md): it checks an intact record
    with one SHA-256 over bytes it assembles itself (the few distinct actors, actions and outcomes
    JSON-encoded once; a timestamp without quotes or backslashes as itself: other characters
    cannot occur in canonical bytes unescaped, so no changed record can pass) and extends the
    Merkle frontier inline; any record that does not pass takes the full, slow check in
    ``_problems``, which escapes properly, so an unusual but intact record costs time, never a
    false alarm."""
    wanted = set(sizes)
    problems: list[Problem] = []
    roots: dict[int, tuple[str, str]] = {}
    frontier: list[bytes] = []  # the Merkle frontier (merkle.Frontier), extended in place
    sha256, fromhex, encode = hashlib.sha256, bytes.fromhex, _Encoder()
    before, two_before, before_bytes = log.GENESIS, None, bytes(32)
    expected, count = 1, 0
    for row in rows:
        seq, at, actor, action, subjects, outcome, details, prev, stored = row
        try:
            stored_bytes = fromhex(stored)
        except (ValueError, TypeError):
            stored_bytes = b""
        try:
            if '"' in at or "\\" in at:
                at = _dumps(at)[1:-1]  # escaped: the fast bytes stay those of one record only
            body = (
                f'{{"action":{encode(action)},"actor":{encode(actor)},"at":"{at}",'
                f'"details":{details},"outcome":{encode(outcome)},"seq":{seq},'
                f'"subjects":{subjects}}}'
            ).encode()
        except (TypeError, UnicodeEncodeError):  # not text where text belongs: the slow check
            body = b""
        passes = seq == expected and prev == before
        passes = passes and sha256(before_bytes + body).digest() == stored_bytes
        if not passes and len(problems) < MAX_PROBLEMS:
            problems += _problems(row, expected, before, two_before)
        expected = seq + 1
        two_before, before, before_bytes = before, stored, stored_bytes
        count += 1
        if tree:
            frontier.append(sha256(b"\x00" + stored_bytes).digest())  # merkle.leaf_hash
            merged = count
            while not merged & 1:
                right = frontier.pop()
                frontier[-1] = sha256(b"\x01" + frontier[-1] + right).digest()  # node_hash
                merged >>= 1
        if count in wanted:
            root = merkle.Frontier(count, tuple(frontier)).root().hex() if tree else ""
            roots[count] = (root, stored)
    return Walk(count, expected - 1, before, tuple(problems), roots)


class _Encoder:
    """JSON-encode the short strings of a record; the few distinct actors, actions and outcomes
    are encoded once."""

    def __init__(self) -> None:
        self.known: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        found = self.known.get(text)
        if found is None:
            if len(self.known) > 100_000:
                self.known.clear()
            found = self.known[text] = _dumps(text)
        return found


def _problems(row: Row, expected: int, before: str, two_before: str | None) -> list[Problem]:
    seq, prev = row[0], row[7]
    found = []
    if seq > expected:
        span = f"{expected}" if seq == expected + 1 else f"{expected} to {seq - 1}"
        found.append(Problem(expected, "removed", f"record {span} missing: removed from the log"))
    elif prev != before:
        if prev == two_before:
            found.append(
                Problem(
                    seq - 1,
                    "inserted",
                    f"record {seq - 1} was inserted: record {seq} links to record {seq - 2}",
                )
            )
        else:
            found.append(
                Problem(
                    seq,
                    "broken link",
                    f"record {seq} does not link to record {seq - 1}: records were removed,"
                    " moved or reordered here",
                )
            )
    if not intact(row):
        found.append(
            Problem(
                seq, "changed", f"record {seq} was changed: its content does not match its hash"
            )
        )
    return found


def with_roots(walked: Walk, roots: dict[int, tuple[str, str]]) -> Walk:
    """Given a walk made without the tree and the roots another reader computed (size -> (root,
    hash of that record)), return the walk with those roots; a record hash that differs between
    the two readers is a problem (the log changed while it was verified)."""
    joined, problems = {}, list(walked.problems)
    for size, (_, head) in walked.roots.items():
        root, seen = roots.get(size, ("", ""))
        if seen != head:
            problems.append(
                Problem(size, "changed", f"record {size} changed while the log was verified")
            )
        joined[size] = (root, head)
    return dataclasses.replace(walked, roots=joined, problems=tuple(problems))
