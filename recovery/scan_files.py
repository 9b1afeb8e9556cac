"""A scan's file-system files: which to recover, and copying them out while TSK still searches.

``choose`` picks the files worth recovering; ``recover`` copies them out through the TSK worker.
TSK's orphan search (a read of a FAT-family volume's whole free space) runs in a second worker,
so the named files are recovered *ahead* (``recover_ahead``), before the orphan files are known.
``recover_rest`` then makes the outcome exactly that of recovering every chosen file in walk
order (the order of the manifest), one after the other:

* what was recovered ahead is what that order recovers first (no orphan file is chosen before
  it, the common case): its warnings and counts are taken, the rest is recovered after it;
* or it commutes with the orphan files: the same named files chosen, no warning while reading
  any of them (no failure changes what the worker skips), and no orphan file's folder shared
  with a named file (the ``~2`` names stay the same): the entries are put back in walk order;
* else everything recovered ahead goes again (files and their folders) and the chosen files
  are recovered in walk order, as they would have been without it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from recovery import damage, tsk_client
from recovery.scan_model import (
    ALLOCATED,
    DELETED,
    ByteRun,
    FoundFile,
    ManifestEntry,
    merge_runs,
    overlap,
)
from recovery.scan_output import OutputFolder, sanitize_component

TOTAL_FACTOR = 4  # file-system files may share blocks (hard links); never this much

Warn = Callable[[str], None]
Pair = tuple[int, FoundFile]  # a file and the number of its file system
OnProgress = Callable[[str, int, int], None]


def choose(found: Sequence[Pair], image_size: int, warn: Warn, dropped: dict) -> list[Pair]:
    """Leave out deleted files whose blocks now belong to an allocated file (overwritten), and
    files claiming more bytes than the image holds (a damaged or hostile size field); stop
    when the files together would exceed TOTAL_FACTOR times the image (cross-linked chains)."""
    allocated = merge_runs(run for _, item in found if item.allocated for run in item.runs)
    chosen, total = [], 0
    for system, item in found:
        if not item.allocated and (item.size == 0 or overlap(merge_runs(item.runs), allocated)):
            dropped["overwritten_or_empty_deleted"] += 1
            continue
        if item.size > image_size:
            warn(f"{item.origin} file {item.path!r} claims {item.size} bytes, more than the image")
            dropped["implausible"] += 1
            continue
        total += item.size
        if total > TOTAL_FACTOR * image_size:
            warn(f"the file systems list more than {TOTAL_FACTOR}x the image size; rest skipped")
            dropped["implausible"] += len(found) - len(chosen)
            break
        chosen.append((system, item))
    return chosen


def recover(
    output: OutputFolder,
    client: tsk_client.TskClient,
    chosen: Sequence[Pair],
    unreadable: tuple[ByteRun, ...],
    warn: Warn,
    dropped: dict,
    on_progress: OnProgress,
    *,
    done: int = 0,
    total: int | None = None,
) -> list[ManifestEntry]:
    """Given the chosen files, copy each out through ``client`` (in that order, asked for
    ahead); return their entries. A file TSK cannot read is a warning and ``unreadable``."""
    client.plan(chosen)
    entries = []
    total = sum(item.size for _, item in chosen) if total is None else total
    for system, item in chosen:
        *folders, name = item.path.strip("/").split("/")
        folders = [item.origin, f"p{item.partition}", *folders]
        try:
            path, size, digest = output.write(
                folders, name, lambda sink, s=system, i=item: client.read(s, i, sink)
            )
        except OSError as error:
            warn(f"cannot read {item.origin} file {item.path!r}: {error}")
            dropped["unreadable"] += 1
            continue
        entries.append(
            ManifestEntry(
                path,
                size,
                digest,
                item.origin,
                item.path,
                item.times,
                damage.damaged_bytes(item.runs, unreadable),
                item.partition,
                item.runs,
            )
        )
        done += item.size
        on_progress("recovering", done, total)
    return entries


@dataclasses.dataclass(frozen=True)
class Ahead:
    """The named files recovered before the orphan files were known: those chosen (as if
    there were no orphan file), their entries, the warnings and ``unreadable`` count held back."""

    chosen: tuple[tuple[int, FoundFile], ...]
    entries: tuple[ManifestEntry, ...]
    warnings: tuple[str, ...]
    unreadable: int


def recover_ahead(
    output: OutputFolder,
    client: tsk_client.TskClient,
    chosen: Sequence[Pair],
    unreadable: tuple[ByteRun, ...],
    on_progress: OnProgress,
) -> Ahead:
    """Given the files ``choose`` picks among the named files alone (walk order), recover
    them; hold back every warning (``client``'s too) until ``recover_rest`` knows where they
    go."""
    return _recover_holding(output, client, chosen, unreadable, on_progress)


def _recover_holding(output, client, chosen, unreadable, on_progress) -> Ahead:
    """Recover ``chosen`` with every warning (``client``'s too) and unreadable count held."""
    held: list[str] = []
    counts = {"unreadable": 0}
    own_warn, client.warn = client.warn, held.append
    try:
        entries = recover(output, client, chosen, unreadable, held.append, counts, on_progress)
    finally:
        client.warn = own_warn
    return Ahead(tuple(chosen), tuple(entries), tuple(held), counts["unreadable"])


def recover_rest(
    output: OutputFolder,
    client: tsk_client.TskClient,
    chosen: list[Pair],
    ahead: Ahead,
    *,
    unreadable: tuple[ByteRun, ...],
    warn: Warn,
    dropped: dict,
    on_progress: OnProgress,
) -> list[ManifestEntry]:
    """Given every chosen file (walk order) and what was recovered ahead, recover the rest;
    return the entries in walk order, exactly as recovering ``chosen`` one by one would."""
    count = len(ahead.chosen)
    total = sum(item.size for _, item in chosen)
    if _keys(chosen[:count]) == _keys(ahead.chosen):  # ahead is what comes first
        _take(ahead, warn, dropped)
        done = sum(entry.size for entry in ahead.entries)
        rest = chosen[count:]
        return [
            *ahead.entries,
            *recover(
                output, client, rest, unreadable, warn, dropped, on_progress, done=done, total=total
            ),
        ]
    keys = set(_keys(ahead.chosen))
    others = [pair for pair in chosen if id(pair[1]) not in keys]
    if _commutes(chosen, ahead, others, keys):
        after = _recover_holding(output, client, others, unreadable, on_progress)
        if not after.warnings:
            return _in_order(chosen, ahead, others, list(after.entries))
        ahead = dataclasses.replace(ahead, entries=(*ahead.entries, *after.entries))
    _undo(output, client, ahead.entries)
    return recover(output, client, chosen, unreadable, warn, dropped, on_progress)


def _keys(pairs) -> list[int]:
    return [id(item) for _, item in pairs]


def _take(ahead: Ahead, warn: Warn, dropped: dict) -> None:
    for message in ahead.warnings:
        warn(message)
    dropped["unreadable"] += ahead.unreadable


def _commutes(chosen, ahead: Ahead, others, keys: set[int]) -> bool:
    """Whether recovering ``others`` after the files recovered ahead gives what walk order
    gives: the same named files chosen, no warning so far, no folder the two share."""
    if ahead.warnings or [key for key in _keys(chosen) if key in keys] != _keys(ahead.chosen):
        return False
    return not {_top(item) for _, item in others} & {_top(item) for _, item in ahead.chosen}


def _top(item: FoundFile) -> tuple[str, int, str]:
    """The first folder (or the file) of ``item`` under its origin and partition folder."""
    return (item.origin, item.partition, sanitize_component(item.path.strip("/").split("/")[0]))


def _in_order(chosen, ahead: Ahead, others, entries) -> list[ManifestEntry]:
    """The entries of files recovered without a warning (one each), in walk order."""
    by_key = dict(zip(_keys(ahead.chosen), ahead.entries, strict=True))
    by_key.update(zip(_keys(others), entries, strict=True))
    return [by_key[key] for key in _keys(chosen)]


def _undo(output: OutputFolder, client: tsk_client.TskClient, entries) -> None:
    """Remove the files recovered ahead and their folders; the reads start afresh."""
    for entry in entries:
        output.remove(entry.path)
    output.remove_folders(
        [folder for folder in output.folders() if folder[0] in (ALLOCATED, DELETED)]
    )
    client.forget_reads()
