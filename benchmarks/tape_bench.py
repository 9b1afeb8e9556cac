"""How fast `tape image` consumes records: the read loop, the .tap writer and the per-file and
whole-image hashes, fed by the test emulator (no tape drive runs on this machine).

A drive delivers at most a few hundred MB/s (LTO-9: 400 MB/s native); the loop must stay well
above that so the drive never stops streaming ("shoe-shining") because of the toolkit.

    PYTHONPATH=. .venv/bin/python benchmarks/tape_bench.py [--size-mib 256] [--record-kib 64]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from recovery import simh_tap, tape_output, tape_read  # noqa: E402
from tests.fixtures.tape_emulator import FILEMARK, TapeEmulator  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--record-kib", type=int, default=64)
    parser.add_argument("--dir", default="/var/tmp")
    arguments = parser.parse_args()
    record = os.urandom(arguments.record_kib * 1024)
    count = arguments.size_mib * 1024 // arguments.record_kib
    emulator = TapeEmulator([record] * count + [FILEMARK, FILEMARK])
    with tempfile.TemporaryDirectory(dir=arguments.dir) as folder:
        paths = tape_output.TapePaths.in_folder(pathlib.Path(folder), "bench", None)
        stream, _ = tape_output.open_for_writing(paths, restart=True)
        start, cpu = time.perf_counter(), time.process_time()
        tape_read.prepare(emulator, skip_files=0)
        tape_read.read_tape(emulator, simh_tap.Writer(stream), retries=3)
        digests = stream.digests()
        loop, used = time.perf_counter() - start, time.process_time() - cpu
        tape_output.finish(stream)
        wall = time.perf_counter() - start
    print(
        f"{arguments.size_mib} MiB in {count} records of {arguments.record_kib} KiB:"
        f" read loop {loop:.2f} s ({arguments.size_mib / loop:.0f} MiB/s), {used:.2f} s CPU;"
        f" with fsync {wall:.2f} s ({arguments.size_mib / wall:.0f} MiB/s)"
        f" (image {digests.size} bytes, sha256 {digests.sha256[:12]}…)"
    )


if __name__ == "__main__":
    main()
