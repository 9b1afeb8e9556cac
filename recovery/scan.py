"""Scan a job's image: list the file systems, recover allocated and deleted files, carve the
rest, and write the manifest.

Output under the chosen folder: ``allocated/`` and ``deleted/`` (``pN/`` per partition, then
the file system's own folders) and ``carved/``, plus ``manifest.json`` and ``manifest.csv``.
Every file's ``damaged_bytes`` counts its bytes in areas the ddrescue mapfile does not mark
finished. The image is untrusted: anything damaged gives a warning and the scan goes on.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import pathlib
from collections.abc import Callable

from recovery import (
    carved_output,
    damage,
    fat_layout,
    fat_orphans,
    filesystems,
    manifest_json,
    photorec,
    scan_files,
    tsk_client,
)
from recovery import mapfile as mapfile_module
from recovery.scan_model import (
    ORIGINS,
    ByteRun,
    FoundFile,
    ManifestEntry,
    Partition,
    complement,
    merge_runs,
)
from recovery.scan_output import OutputFolder

logger = logging.getLogger(__name__)

MANIFEST_JSON = "manifest.json"
MANIFEST_CSV = "manifest.csv"
CSV_FIELDS = (
    "path",
    "size",
    "sha256",
    "origin",
    "original_path",
    "mtime",
    "atime",
    "ctime",
    "crtime",
    "damaged_bytes",
    "damaged",
)
MAX_WARNINGS = 1000
# TSK's orphan search reads a FAT-family volume's free space, at about 4 MiB a millisecond: a
# second worker, a few milliseconds to start, runs it aside on volumes this large or larger
SEARCH_ASIDE_BYTES = 32 << 20

# (phase, done, total): phases "listing", "recovering" (bytes), "carving", "carved" (files)
OnProgress = Callable[[str, int, int], None]


@dataclasses.dataclass(frozen=True)
class ScanOptions:
    carve: bool = True
    photorec_binary: str = photorec.DEFAULT_BINARY
    carve_timeout: float = 24 * 3600.0
    fs_timeout: float = tsk_client.DEFAULT_TIMEOUT  # per TSK step (see tsk_client)


@dataclasses.dataclass(frozen=True)
class ScanResult:
    output: pathlib.Path
    partitions: tuple[Partition, ...]
    entries: tuple[ManifestEntry, ...]
    warnings: tuple[str, ...]
    dropped: dict  # why files were not written: overwritten, unreadable, duplicate carved …
    tools: dict
    manifest_sha256: str

    def counts(self) -> dict:
        counts = {origin: 0 for origin in ORIGINS}
        for entry in self.entries:
            counts[entry.origin] += 1
        counts["damaged"] = sum(1 for entry in self.entries if entry.damaged_bytes)
        counts["total"] = len(self.entries)
        return counts

    def summary(self) -> dict:
        return {
            "output": str(self.output),
            "counts": self.counts(),
            "bytes": sum(entry.size for entry in self.entries),
            "dropped": dict(self.dropped),
            "partitions": [partition.to_dict() for partition in self.partitions],
            "warnings": list(self.warnings),
            "tools": dict(self.tools),
            "manifest": str(self.output / MANIFEST_JSON),
            "manifest_sha256": self.manifest_sha256,
        }


class _Warnings:
    def __init__(self) -> None:
        self.items: list[str] = []

    def __call__(self, message: str) -> None:
        logger.warning("%s", message)
        if len(self.items) < MAX_WARNINGS:
            self.items.append(message)


def tool_versions(options: ScanOptions, query: photorec.VersionQuery | None = None) -> dict:
    """Return the versions of the libraries and tools a scan uses (PhotoRec's from ``query``,
    started earlier, when given)."""
    versions = filesystems.versions()
    if options.carve:
        query = query or photorec.VersionQuery(options.photorec_binary)
        versions["photorec"] = query.result()
    return versions


def list_files(
    image: pathlib.Path,
    warn: Callable[[str], None],
    *,
    timeout: float = tsk_client.DEFAULT_TIMEOUT,
) -> tuple[tuple[Partition, ...], list[tuple[int, FoundFile]]]:
    """Given an image, return its partitions, and every regular file with the number of its
    file system; TSK runs in worker processes, each step within ``timeout`` seconds."""
    with (
        tsk_client.TskClient(image, timeout=timeout, warn=warn) as client,
        tsk_client.TskClient(image, timeout=timeout, warn=warn, holes_unread=True) as searcher,
    ):
        partitions, systems = client.open()
        searched = _ask_listings(client, searcher, image, partitions, systems)
        named = _named_files(client, systems)
        searched = _search(client, searcher, image, partitions, searched, costly=True)
        return partitions, _in_walk_order(
            systems, named, _orphan_files((client, searcher), searched)
        )


def _ask_listings(client, searcher, image, partitions, systems: int) -> list[tuple[int, bool]]:
    """Ask ``client``'s worker for the named files of every file system, and decide the orphan
    search of those whose check is quick (``_search``): both workers list at once."""
    client.ask([(system, False) for system in range(systems)])
    return _search(client, searcher, image, partitions, [], costly=False)


def _search(client, searcher, image, partitions, searched, *, costly: bool):
    """Given the file systems to search for orphan files decided so far (each with whether
    ``searcher`` does), decide those whose fat_orphans check is ``costly`` (FAT12/16/32: it
    reads the free space; done once carving has started) or not: ``searcher``'s worker
    (started only then) is asked now for those SEARCH_ASIDE_BYTES or larger of the FAT family
    that come after every one asked before; ``client`` searches the others after the named
    files. Return all decided, in file-system order."""
    volumes = [partition for partition in partitions if partition.filesystem]
    asked = max((system for system, by_searcher in searched if by_searcher), default=-1)
    decided = [
        (system, _search_aside(partition) and system > asked)
        for system, partition in enumerate(volumes)
        if (partition.filesystem in fat_layout.FAT_KINDS) == costly
        and fat_orphans.search_needed(image, partition, client.volume(system))
    ]
    aside = [(system, True) for system, by_searcher in decided if by_searcher]
    searcher.ask(aside, systems=client.partition_indexes())
    return sorted(searched + decided)


def _search_aside(partition: Partition) -> bool:
    return (
        partition.filesystem in fat_orphans.FREE_SPACE_SEARCH
        and partition.length >= SEARCH_ASIDE_BYTES
    )


def _named_files(client: tsk_client.TskClient, systems: int) -> list[tuple[int, FoundFile]]:
    return [
        (system, item) for system in range(systems) for item in client.walk(system, orphans=False)
    ]


def _orphan_files(clients, searched) -> list[tuple[int, FoundFile]]:
    """TSK's orphan files of the file systems ``searched`` (``_ask_listings``), each listed by
    the first client or the second (``clients``)."""
    return [
        (system, item)
        for system, by_searcher in searched
        for item in (clients[1] if by_searcher else clients[0]).walk(system, orphans=True)
    ]


def _in_walk_order(systems: int, named, orphans) -> list[tuple[int, FoundFile]]:
    """Per file system: its root folder's files, its orphan files, then the rest (the order
    of one depth-first walk, where TSK's $OrphanFiles is the root's last folder)."""
    ordered = []
    for system in range(systems):
        own = [pair for pair in named if pair[0] == system]
        deeper = (index for index, (_, item) in enumerate(own) if item.path.count("/") > 1)
        roots = next(deeper, len(own))
        ordered += own[:roots] + [pair for pair in orphans if pair[0] == system] + own[roots:]
    return ordered


def _manifests(output: OutputFolder, summary: dict, entries) -> str:
    summary = {key: value for key, value in summary.items() if key != "manifest_sha256"}
    document = {"scan": summary, "files": [entry.to_dict() for entry in entries]}
    text = manifest_json.dumps(document).encode("utf-8")  # json.dumps(indent=2), quicker
    digest = output.write_bytes(MANIFEST_JSON, text)
    table = io.StringIO()
    writer = csv.DictWriter(table, CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for entry in entries:
        writer.writerow({**entry.to_dict(), **entry.times})
    output.write_bytes(MANIFEST_CSV, table.getvalue().encode("utf-8"))
    return digest


def scan(
    image: pathlib.Path,
    mapfile: mapfile_module.Mapfile | None,
    out_dir: pathlib.Path,
    *,
    options: ScanOptions,
    on_progress: OnProgress | None = None,
) -> ScanResult:
    """Given the image, its ddrescue mapfile and a new (or empty) folder, recover every file
    and return the result; raise RefusedError for an unusable folder, PhotorecError when
    carving fails."""
    report = on_progress or (lambda phase, done, total: None)
    warn, dropped = (
        _Warnings(),
        dict.fromkeys(
            ("overwritten_or_empty_deleted", "implausible", "unreadable", "carved_duplicates"), 0
        ),
    )
    query = photorec.VersionQuery(options.photorec_binary) if options.carve else None
    unreadable = damage.unreadable_runs(mapfile)
    with (
        OutputFolder(out_dir) as output,
        tsk_client.TskClient(image, timeout=options.fs_timeout, warn=warn) as client,
        tsk_client.TskClient(
            image, timeout=options.fs_timeout, warn=warn, holes_unread=True
        ) as searcher,
    ):
        report("listing", 0, 0)
        partitions, systems = client.open()
        searched = _ask_listings(client, searcher, image, partitions, systems)
        named = _named_files(client, systems)
        size = image.stat().st_size
        # Carving starts on what the named files leave: TSK's orphan search (it reads a whole
        # FAT volume; in a worker of its own on a large one) goes on beside PhotoRec
        ahead = scan_files.choose(named, size, lambda message: None, dict(dropped))
        early = _accounted(named, ahead)
        carve_run = (
            carved_output.start(
                output,
                image,
                early,
                binary=options.photorec_binary,
                timeout=options.carve_timeout,
                on_progress=report,
            )
            if options.carve
            else None
        )
        try:
            searched = _search(client, searcher, image, partitions, searched, costly=True)
            found, chosen, entries = _recover(
                output,
                (client, searcher),
                (size, systems, named, ahead, searched),
                unreadable=unreadable,
                warn=warn,
                dropped=dropped,
                report=report,
            )
            tools = tool_versions(options, query)
        except BaseException:
            if carve_run is not None:
                carved_output.abandon(output, carve_run)
            raise
        client.close(reap=False)  # reaped when the scan ends
        if carve_run is not None:
            known = {entry.sha256 for entry in entries}
            # what the orphan files account for was carved too: as if it had not been
            late = _late(found, chosen, named, early, size)
            entries += carved_output.finish(
                output, carve_run, unreadable, known, dropped, report, late
            )
        result = ScanResult(
            output.root, partitions, tuple(entries), tuple(warn.items), dropped, tools, ""
        )
        digest = _manifests(output, result.summary(), entries)
    return dataclasses.replace(result, manifest_sha256=digest)


def _recover(output, clients, listed, *, unreadable, warn, dropped, report):
    """Given both clients and what is listed (image size, number of file systems, named files,
    those chosen among them alone, file systems searched for orphan files), recover the files
    of the file systems: the named ones while the second worker still searches (when it does),
    then the rest (scan_files); return every file found, those chosen and their entries, all
    in walk order."""
    client, searcher = clients
    size, systems, named, named_chosen, searched = listed
    ahead = None
    if any(by_searcher for _, by_searcher in searched):
        ahead = scan_files.recover_ahead(output, client, named_chosen, unreadable, report)
    found = _in_walk_order(systems, named, _orphan_files(clients, searched))
    searcher.close(reap=False)  # done: every file is read by the first worker
    chosen = scan_files.choose(found, size, warn, dropped)
    if ahead is None:
        entries = scan_files.recover(output, client, chosen, unreadable, warn, dropped, report)
    else:
        entries = scan_files.recover_rest(
            output,
            client,
            chosen,
            ahead,
            unreadable=unreadable,
            warn=warn,
            dropped=dropped,
            on_progress=report,
        )
    return found, chosen, entries


def _accounted(found, chosen) -> tuple[ByteRun, ...]:
    """The runs of the files to recover and all allocated space (accounted for by its file
    system, even where a file is unreadable), merged."""
    return merge_runs(
        (
            *(run for _, item in chosen for run in item.runs),
            *(run for _, item in found if item.allocated for run in item.runs),
        )
    )


def _late(found, chosen, named, early: tuple[ByteRun, ...], size: int) -> tuple[ByteRun, ...]:
    """The runs the files found after carving began (TSK's orphan files) account for beyond
    ``early``; none, without merging every run again, when no such file is chosen or
    allocated (the usual case: then the named files alone account for no more than early)."""
    named_ids, chosen_ids = {id(item) for _, item in named}, {id(item) for _, item in chosen}
    if not any(
        item.allocated or id(item) in chosen_ids for _, item in found if id(item) not in named_ids
    ):
        return ()
    return _minus(_accounted(found, chosen), early, size)


def _minus(runs: tuple[ByteRun, ...], taken: tuple[ByteRun, ...], size: int) -> tuple[ByteRun, ...]:
    """Given merged runs, return the parts of ``runs`` not in ``taken``."""
    return complement(merge_runs((*complement(runs, size), *taken)), size)
