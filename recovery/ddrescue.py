"""GNU ddrescue: argv builders (pure tuples), the version gate, and the one place that runs it.

The rescue is split in two ddrescue runs over the same image and mapfile (ddrescue manual,
chapter "Algorithm"): a ``copy`` run with ``--no-scrape`` (copying passes that skip bad and
slow areas, then trimming), and a ``scrape`` run (scraping, then ``--retry-passes`` retries).
The good parts of a failing medium are saved before ddrescue spends hours on the bad ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence

from recovery import errors

logger = logging.getLogger(__name__)

DEFAULT_BINARY = "/usr/bin/ddrescue"
# Save the mapfile every second (progress and the overlapped hash follow it), fsync every 30 s.
MAPFILE_INTERVAL = "1,30"
PHASES = ("copy", "scrape")


class DdrescueError(errors.RecoveryError):
    exit_code = 3


class DdrescueInterrupted(errors.RecoveryError):
    """ddrescue stopped on a signal; it saved its mapfile, so the rescue can resume."""

    exit_code = 130


class Feature(enum.Enum):
    MAPFILE = "mapfile"  # the name "mapfile" and --mapfile-interval (1.20)
    NO_TRIM_SCRAPE = "no-scrape"


# Version gates in one table: feature -> minimum ddrescue version.
MINIMUM_VERSIONS = {Feature.MAPFILE: (1, 20), Feature.NO_TRIM_SCRAPE: (1, 14)}

# Exit statuses (manual, "Invoking ddrescue"); anything else is a failure too.
EXIT_MEANINGS = {
    0: "ok",
    1: "environmental problem (file not found, invalid option, I/O error)",
    2: "corrupt or invalid input file or mapfile",
    3: "internal consistency error in ddrescue",
}


@dataclasses.dataclass(frozen=True)
class RescueOptions:
    sector_size: int = 512
    retries: int = 1
    direct: bool = False


def parse_version(text: str) -> tuple[int, ...]:
    """Given the output of ``ddrescue --version``, return (1, 27); raise DdrescueError otherwise."""
    match = re.search(r"GNU ddrescue (\d+)\.(\d+)", text)
    if not match:
        raise DdrescueError("cannot read the ddrescue version (is GNU ddrescue installed?)")
    return int(match.group(1)), int(match.group(2))


def supports(version: tuple[int, ...], feature: Feature) -> bool:
    return version >= MINIMUM_VERSIONS[feature]


def version(binary: str = DEFAULT_BINARY) -> tuple[int, ...]:
    """Return the version of the ddrescue binary; raise DdrescueError when it is missing or old."""
    try:
        output = subprocess.run(
            (binary, "--version"), capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except OSError as error:
        raise DdrescueError(f"cannot run {binary}: {error.strerror} (install gddrescue)") from None
    except subprocess.TimeoutExpired:
        raise DdrescueError(f"{binary} --version did not answer within 30 s") from None
    found = parse_version(output)
    for feature in Feature:
        if not supports(found, feature):
            wanted = ".".join(map(str, MINIMUM_VERSIONS[feature]))
            raise DdrescueError(f"ddrescue {'.'.join(map(str, found))} is too old; need {wanted}")
    return found


def _common_flags(options: RescueOptions) -> tuple[str, ...]:
    direct = ("--idirect",) if options.direct else ()
    return (
        f"--sector-size={options.sector_size}",
        *direct,
        f"--mapfile-interval={MAPFILE_INTERVAL}",
    )


def copy_argv(
    source: str, image: str, mapfile: str, *, options: RescueOptions, binary: str = DEFAULT_BINARY
) -> tuple[str, ...]:
    """Given the paths, return the argv of the fast run: copy and trim, skip bad areas, no
    scrape."""
    return (binary, *_common_flags(options), "--no-scrape", source, image, mapfile)


def scrape_argv(
    source: str, image: str, mapfile: str, *, options: RescueOptions, binary: str = DEFAULT_BINARY
) -> tuple[str, ...]:
    """Given the paths, return the argv of the slow run: scrape, then retry bad sectors N times."""
    retries = (f"--retry-passes={options.retries}",)
    return (binary, *_common_flags(options), *retries, source, image, mapfile)


def phase_argv(
    phase: str,
    source: str,
    image: str,
    mapfile: str,
    *,
    options: RescueOptions,
    binary: str = DEFAULT_BINARY,
) -> tuple[str, ...]:
    builders = {"copy": copy_argv, "scrape": scrape_argv}
    return builders[phase](source, image, mapfile, options=options, binary=binary)


def _with_parent_death_signal(argv: Sequence[str]) -> tuple[str, ...]:
    """Prefix util-linux setpriv so ddrescue gets SIGTERM when backupctl dies (even by SIGKILL)
    and saves its mapfile instead of running on unattended."""
    setpriv = shutil.which("setpriv")
    return (setpriv, "--pdeathsig", "TERM", *argv) if setpriv else tuple(argv)


FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _forward_signals(process: subprocess.Popen, received: list[int]) -> dict:
    """Install handlers that pass SIGINT/SIGTERM/SIGHUP on to ddrescue; return the old ones."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def forward(number, frame):
        received.append(number)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, number)

    return {number: signal.signal(number, forward) for number in FORWARDED_SIGNALS}


def _pump(stream, on_output: Callable[[str], None] | None, sink: list[str]) -> None:
    for chunk in iter(lambda: os.read(stream.fileno(), 65536), b""):
        text = chunk.decode("utf-8", "replace")
        sink.append(text)
        if on_output is not None:
            on_output(text)


def run(argv: Sequence[str], *, on_output: Callable[[str], None] | None = None) -> None:
    """Run ddrescue to its end, streaming its status text to ``on_output``.

    ddrescue runs in its own process group; SIGINT, SIGTERM and SIGHUP sent to backupctl are
    forwarded to it (it saves the mapfile, then exits by that signal), and it gets SIGTERM when
    backupctl dies. Raise DdrescueInterrupted after a signal, DdrescueError on any other failure.
    """
    logger.info("running %s", " ".join(argv))
    received: list[int] = []
    stdout_text: list[str] = []
    stderr_text: list[str] = []
    process = subprocess.Popen(
        _with_parent_death_signal(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        umask=0o077,  # the mapfile and its backup are customer data: root-only
    )
    previous = _forward_signals(process, received)
    readers = [
        threading.Thread(target=_pump, args=(process.stdout, on_output, stdout_text), daemon=True),
        threading.Thread(target=_pump, args=(process.stderr, None, stderr_text), daemon=True),
    ]
    try:
        for reader in readers:
            reader.start()
        returncode = process.wait()
        for reader in readers:
            reader.join()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if process.poll() is None:  # we are leaving on an exception: let ddrescue save its map
            os.killpg(process.pid, signal.SIGTERM)
            process.wait()
    _check(returncode, received, "".join(stderr_text))


def _check(returncode: int, received: list[int], stderr: str) -> None:
    if received or returncode < 0:
        number = received[0] if received else -returncode
        raise DdrescueInterrupted(
            f"imaging interrupted by {signal.Signals(number).name}; the mapfile is saved,"
            " run the same command again to resume"
        )
    if returncode != 0:
        meaning = EXIT_MEANINGS.get(returncode, "unknown exit status")
        detail = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        raise DdrescueError(f"ddrescue failed with exit status {returncode} ({meaning}): {detail}")
