"""Scan benchmark: `media scan`'s engine against PhotoRec alone and tsk_recover alone.

On the test media of tests/fixtures/make_media.py (FAT32, exFAT, ext4, NTFS with a third of the
files deleted; ext4 reformatted as FAT32), each tool recovers into a fresh folder; recall is the
share of original files whose exact SHA-256 is among the recovered files, over all originals,
over the deleted ones, and over those whose data is still on the medium (their content lies
contiguously in the image: what any tool could get back). Wall time per tool and image.

Usage: .venv/bin/python benchmarks/scan_bench.py [--media DIR] [--files N] [--runs N] [--json]
       [--kinds fat32,reformatted]

Times are the median of ``--runs`` rounds, every tool once per round (round robin, each round
starting with the next tool; every output kept until the image's rounds are over), page cache
warm (the image was just built or read). backupctl runs in-process (the engine of `media scan`:
``recovery.scan.scan``, no job or custody); PhotoRec with the options `media scan` gives it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from recovery import scan  # noqa: E402
from tests.fixtures import make_media  # noqa: E402


def _hashes(folder: pathlib.Path) -> set[str]:
    found = set()
    for root, _, names in os.walk(folder):
        for name in names:
            path = pathlib.Path(root, name)
            if path.is_file() and not path.is_symlink():
                found.add(hashlib.sha256(path.read_bytes()).hexdigest())
    return found


# Each tool returns how to collect the SHA-256 of what it recovered: called after the timer, so
# reading PhotoRec's and tsk_recover's output back is not counted against them (backupctl's
# scan hashes as it writes, for its manifest, and that is counted).
Collect = Callable[[], set[str]]


def run_tsk_recover(image: pathlib.Path, out: pathlib.Path) -> Collect:
    subprocess.run(("tsk_recover", "-e", str(image), str(out)), check=True, capture_output=True)
    return lambda: _hashes(out)


def run_photorec(image: pathlib.Path, out: pathlib.Path) -> Collect:
    out.mkdir()
    argv = (
        "photorec",
        "/log",
        "/d",
        str(out / "recup"),
        "/cmd",
        str(image),
        "partition_none,options,paranoid,keep_corrupted_file_no,fileopt,everything,enable,"
        "wholespace,search",
    )
    subprocess.run(argv, check=True, capture_output=True, cwd=out, stdin=subprocess.DEVNULL)
    return lambda: _hashes(out)


def run_scan(image: pathlib.Path, out: pathlib.Path) -> Collect:
    result = scan.scan(image, None, out, options=scan.ScanOptions())
    return lambda: {entry.sha256 for entry in result.entries}


TOOLS = {"tsk_recover": run_tsk_recover, "photorec": run_photorec, "backupctl": run_scan}


def on_medium(image: pathlib.Path, originals: list[dict], sources: dict[str, bytes]) -> set[str]:
    """Return the SHA-256 of the originals whose whole content lies contiguously in the image,
    starting at a sector boundary (where every file system of the test media starts a file)."""
    data = image.read_bytes()
    by_prefix: dict[bytes, list[str]] = {}
    for item in originals:
        by_prefix.setdefault(sources[item["sha256"]][:64], []).append(item["sha256"])
    present = set()
    for offset in range(0, len(data), 512):
        for digest in by_prefix.get(data[offset : offset + 64], ()):
            content = sources[digest]
            if data[offset : offset + len(content)] == content:
                present.add(digest)
    return present


def _contents(paths) -> dict[str, bytes]:
    contents = (path.read_bytes() for path in paths)
    return {hashlib.sha256(content).hexdigest(): content for content in contents}


def measure(kind: str, media: pathlib.Path, work: pathlib.Path, files: int, runs: int) -> dict:
    image = media / f"{kind}.img"
    if not image.exists():
        make_media.build(kind, media, files=files)
    originals = json.loads((media / f"{kind}.json").read_text())
    sources = _contents(make_media.pick_files(files))
    if any(item["sha256"] not in sources for item in originals):
        # a package added or removed since the media were built changes the pick: look at all
        sources = _contents(make_media.candidate_files())
    present = on_medium(image, originals, sources)
    everything = {item["sha256"] for item in originals}
    deleted = {item["sha256"] for item in originals if item["deleted"]}
    row = {
        "image": kind,
        "files": len(everything),
        "deleted": len(deleted),
        "on_medium": len(present),
    }
    seconds: dict[str, list[float]] = {name: [] for name in TOOLS}
    names = list(TOOLS)
    for round_number in range(runs):  # round robin: load on the shared machine hits all alike
        # each round starts with the next tool, so none always follows the same one. Every
        # output stays until the image's rounds are over, as a technician's would: right after
        # thousands of files were deleted, creating a file on this disk (ext4) costs 0.6-0.9 ms
        # instead of about 30 us, so removing outputs between runs measured the clean-up
        for name in names[round_number % len(names) :] + names[: round_number % len(names)]:
            tool, out = TOOLS[name], work / f"{kind}-{name}-{round_number}"
            started = time.perf_counter()
            collect = tool(image, out)
            seconds[name].append(time.perf_counter() - started)
            if round_number == 0:
                found = collect()
                row[name] = {
                    "recall": round(len(everything & found) / len(everything), 4),
                    "recall_deleted": round(len(deleted & found) / max(len(deleted), 1), 4),
                    "recall_on_medium": round(len(present & found) / max(len(present), 1), 4),
                }
    for out in work.glob(f"{kind}-*"):
        shutil.rmtree(out, ignore_errors=True)
    os.sync()  # untimed: the next image starts on a settled disk
    for name in TOOLS:
        row[name]["seconds"] = round(statistics.median(seconds[name]), 3)
        row[name]["all_seconds"] = [round(value, 3) for value in seconds[name]]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=pathlib.Path, help="built media (default: build anew)")
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3, help="rounds; the median time is shown")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--kinds", default=",".join(make_media.KINDS), help="images to measure")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        media = arguments.media or pathlib.Path(temporary, "media")
        media.mkdir(parents=True, exist_ok=True)
        work = pathlib.Path(temporary, "work")
        work.mkdir()
        rows = [
            measure(kind, media, work, arguments.files, arguments.runs)
            for kind in arguments.kinds.split(",")
        ]
    if arguments.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'image':<12}{'tool':<13}{'recall':>8}{'deleted':>9}{'on medium':>11}{'seconds':>9}")
    for row in rows:
        for name in TOOLS:
            figures = row[name]
            print(
                f"{row['image']:<12}{name:<13}{figures['recall']:>8.1%}"
                f"{figures['recall_deleted']:>9.1%}{figures['recall_on_medium']:>11.1%}"
                f"{figures['seconds']:>9.2f}"
            )
        print(
            f"{'':<12}({row['files']} files, {row['deleted']} deleted, "
            f"{row['on_medium']} on the medium)"
        )


if __name__ == "__main__":
    main()
