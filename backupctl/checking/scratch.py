"""A drill's private scratch directory: ``<state_dir>/drills/<source>/run-*`` (0700), removed
when the drill ends, however it ends. A drill killed outright (SIGKILL, power loss) leaves its
directory; the next drill of the source removes it first, and `status` warns until then."""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import shutil
import tempfile
from collections.abc import Iterator

logger = logging.getLogger(__name__)


def root(state_dir: pathlib.Path, source: str) -> pathlib.Path:
    return state_dir / "drills" / source


def leftovers(state_dir: pathlib.Path, source: str) -> list[pathlib.Path]:
    """Return the scratch directories a killed drill of the source left behind."""
    try:
        return sorted(root(state_dir, source).glob("run-*"))
    except OSError:
        return []


@contextlib.contextmanager
def directory(state_dir: pathlib.Path, source: str) -> Iterator[pathlib.Path]:
    """Yield a new empty 0700 directory for one drill, after removing any a killed drill left;
    remove it when the block ends (exception and KeyboardInterrupt included). Call it under the
    source lock."""
    parent = root(state_dir, source)
    previous = os.umask(0o077)
    try:
        parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if parent.is_symlink() or not parent.is_dir():
            raise OSError(f"{parent}: not a directory")
        os.chmod(parent, 0o700)
        for stale in leftovers(state_dir, source):
            logger.warning("removing the scratch copy of a drill that was killed: %s", stale.name)
            remove(stale)
        made = pathlib.Path(tempfile.mkdtemp(prefix="run-", dir=parent))
    finally:
        os.umask(previous)
    try:
        yield made
    finally:
        remove(made)


def remove(path: pathlib.Path) -> None:
    """Remove a scratch tree (symlinks inside are removed, never followed), making read-only
    directories writable on the way; raise OSError when something stays behind."""

    def unblock(function, failed, _error) -> None:  # noqa: ANN001 - shutil's signature
        os.chmod(os.path.dirname(failed), 0o700)
        function(failed)

    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path, onerror=unblock)
