"""A restic repository in a local directory (a disk, a mounted NAS share)."""

from __future__ import annotations

import contextlib
import os
import pathlib
import posixpath
import stat
import time
from collections.abc import Iterator

from targets import errors, store
from targets.specs import LocalSpec

FILE_MODE = 0o600  # customer data: root only (restic itself writes 0400)
DIRECTORY_MODE = 0o700
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO planted under a repository name must not block the read
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class LocalStore(store.ClosingMixin):
    """Store API over a local directory; writes are fsynced and renamed into place."""

    close_may_block = False  # nothing to release: callers need no thread or deadline for close

    def __init__(self, spec: LocalSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.root = pathlib.Path(spec.path)

    def restic_repository(self) -> str:
        """Return the repository string restic takes: the absolute directory path."""
        return str(self.root.absolute())

    def restic_options(self) -> tuple[str, ...]:
        """Return extra restic arguments: none for a local directory."""
        return ()

    def restic_environment(self) -> dict[str, str]:
        """Return environment variables restic needs: none for a local directory."""
        return {}

    def list_files(self) -> dict[str, int]:
        """Return relative path -> size of every repository file; {} when there is no repository."""
        self._require_base()
        if not self.root.exists():
            return {}
        if not self.root.is_dir():
            raise errors.LocationUnavailable(
                f"location {self.name}: {self.root} is not a directory"
            )
        try:
            return _list_repository(self.root)
        except OSError as error:
            raise errors.TargetError(
                _describe(self.name, "list", error.filename or "", error)
            ) from None

    def read(self, relative_path: str, *, limit: int | None = None) -> bytes:
        """Return the content of one repository file; raise FileMissing when it does not exist,
        TargetError when it is larger than ``limit`` bytes or is not a regular file (a symlink
        is never followed)."""
        *directories, name = store.check_relative_path(self.name, relative_path).split("/")
        try:
            with self._directory(directories, create=False) as directory:
                return _read_regular(directory, name, limit, self.name, relative_path)
        except FileNotFoundError:
            raise errors.FileMissing(
                f"location {self.name}: {relative_path} does not exist"
            ) from None
        except OSError as error:
            raise errors.TargetError(_describe(self.name, "read", relative_path, error)) from None

    def write(self, relative_path: str, data: bytes) -> None:
        """Write one file atomically: temp file (0600), fsync, rename, fsync the directory.
        Missing directories are made 0700; no symlink is followed below the repository, and a
        non-regular file at the final name is refused, never replaced."""
        *directories, name = store.check_relative_path(self.name, relative_path).split("/")
        self._require_base()
        try:
            with self._directory(directories, create=True) as directory:
                _write_synced(directory, name, data, self.name, relative_path)
        except OSError as error:
            raise errors.TargetError(_describe(self.name, "write", relative_path, error)) from None

    def delete(self, relative_path: str) -> None:
        """Remove one file; a file already gone is not an error."""
        *directories, name = store.check_relative_path(self.name, relative_path).split("/")
        try:
            with self._directory(directories, create=False) as directory:
                os.unlink(name, dir_fd=directory)
        except FileNotFoundError:
            pass
        except OSError as error:
            raise errors.TargetError(_describe(self.name, "delete", relative_path, error)) from None

    def remove_stale_temporaries(self, older_than_seconds: float) -> list[str]:
        """Remove our own temporary files (``store.is_temporary_name``, regular files) last
        modified at least ``older_than_seconds`` ago, left by a killed run; return their paths."""
        self._require_base()
        cutoff = time.time() - older_than_seconds
        removed: list[str] = []
        try:
            for relative in store.temporary_directories(_subdirectories(self.root / "data")):
                removed += self._remove_stale_in(relative, cutoff)
        except OSError as error:
            raise errors.TargetError(
                _describe(self.name, "clean", "temporary files", error)
            ) from None
        return removed

    def _remove_stale_in(self, relative: str, cutoff: float) -> list[str]:
        removed = []
        try:
            opened = self._directory(relative.split("/") if relative else [], create=False)
            with opened as directory:
                for name in filter(store.is_temporary_name, os.listdir(directory)):
                    found = os.stat(name, dir_fd=directory, follow_symlinks=False)
                    if stat.S_ISREG(found.st_mode) and found.st_mtime <= cutoff:
                        os.unlink(name, dir_fd=directory)
                        removed.append(posixpath.join(relative, name))
        except (FileNotFoundError, NotADirectoryError):
            return removed
        return removed

    def leftovers(self) -> list[str]:
        """Return everything left of the repository: every file, directory and symlink below it
        by relative path, and "." for the directory itself; [] when nothing is left."""
        self._require_base()
        if not os.path.lexists(self.root):
            return []
        try:
            return [".", *_everything_below(self.root)]
        except OSError as error:
            raise errors.TargetError(_describe(self.name, "list", ".", error)) from None

    def remove_leftovers(self) -> store.Removal:
        """Remove the repository directory and everything in it, deepest first, never following
        a symlink (a symlink is removed, not what it points to); return how many entries went."""
        self._require_base()
        if not os.path.lexists(self.root):
            return store.Removal(0)
        try:
            if self.root.is_symlink() or not self.root.is_dir():
                self.root.unlink()
                return store.Removal(1)
            removed = _remove_below(self.root)
            os.rmdir(self.root)
        except OSError as error:
            raise errors.TargetError(_describe(self.name, "remove", ".", error)) from None
        return store.Removal(removed + 1)

    def ping(self) -> None:
        """Raise LocationUnavailable unless the directory holding the repository is a writable
        directory."""
        self._require_base()
        if not os.access(self.root.parent, os.W_OK | os.X_OK):
            raise errors.LocationUnavailable(
                f"location {self.name}: {self.root.parent} is not writable"
            )

    def _require_base(self) -> None:
        """Raise LocationUnavailable when the directory that holds the repository is missing: an
        unmounted disk must not silently become a new repository on the root file system."""
        if not self.root.parent.is_dir():
            raise errors.LocationUnavailable(
                f"location {self.name}: {self.root.parent} does not exist or is not a directory "
                "(disk not mounted?)"
            )

    def close(self) -> None:
        """Nothing to release for a local directory."""

    @contextlib.contextmanager
    def _directory(self, parts: list[str], *, create: bool) -> Iterator[int]:
        """Yield a descriptor of the repository directory ``parts`` below the root, opened one
        level at a time without following symlinks; with ``create``, make what is missing 0700."""
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(self.root, DIRECTORY_MODE)
        descriptor = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for part in parts:
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, DIRECTORY_MODE, dir_fd=descriptor)
                below = os.open(part, _DIRECTORY_FLAGS, dir_fd=descriptor)
                os.close(descriptor)
                descriptor = below
            yield descriptor
        finally:
            os.close(descriptor)


def _list_repository(root: pathlib.Path) -> dict[str, int]:
    """Return relative path -> size of the regular, content-named files restic keeps: ``config``,
    ``keys/``, ``index/``, ``snapshots/`` and ``data/xx/``; symlinks are never followed or
    listed, and a missing directory is simply empty. One scandir per directory, on plain strings
    (pathlib's joins cost more than the scandir of an empty ``data/xx``)."""
    base = os.fspath(root)
    found = dict(_regular_files(base, "", only="config"))
    for directory in ("keys", "index", "snapshots"):
        found.update(_regular_files(os.path.join(base, directory), f"{directory}/"))
    data = os.path.join(base, "data")
    for subdirectory in _subdirectories(data):
        found.update(_regular_files(os.path.join(data, subdirectory), f"data/{subdirectory}/"))
    return {path: size for path, size in found.items() if store.is_repository_file(path)}


def _regular_files(
    directory: str, prefix: str, *, only: str | None = None
) -> list[tuple[str, int]]:
    try:
        with os.scandir(directory) as entries:
            return [
                (prefix + entry.name, entry.stat(follow_symlinks=False).st_size)
                for entry in entries
                if (only is None or entry.name == only) and entry.is_file(follow_symlinks=False)
            ]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _everything_below(root: pathlib.Path) -> list[str]:
    """Return the relative path of every entry below ``root`` (symlinks listed, not followed)."""
    found: list[str] = []
    for directory, directories, files in os.walk(root, followlinks=False):
        base = pathlib.Path(directory)
        found += [str((base / name).relative_to(root)) for name in (*directories, *files)]
        if len(found) > store.MAX_LEFTOVERS:
            raise OSError(f"more than {store.MAX_LEFTOVERS} entries")
    return found


def _remove_below(root: pathlib.Path) -> int:
    """Remove every entry below ``root``, deepest first; return how many."""
    removed = 0
    for directory, directories, files in os.walk(root, topdown=False, followlinks=False):
        base = pathlib.Path(directory)
        for name in directories:
            path = base / name
            if path.is_symlink():
                path.unlink()
            else:
                os.rmdir(path)
            removed += 1
        for name in files:
            (base / name).unlink()
            removed += 1
    return removed


def _subdirectories(directory: str | pathlib.Path) -> list[str]:
    """Return the names of the real directories (not symlinks) in ``directory``; [] if missing."""
    try:
        with os.scandir(directory) as entries:
            return [entry.name for entry in entries if entry.is_dir(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _read_regular(directory: int, name: str, limit: int | None, location: str, relative: str):
    descriptor = os.open(name, _READ_FLAGS, dir_fd=directory)
    with os.fdopen(descriptor, "rb") as handle:
        found = os.fstat(descriptor)
        if not stat.S_ISREG(found.st_mode):
            raise errors.TargetError(f"location {location}: {relative} is not a regular file")
        store.check_size(location, relative, found.st_size, limit)
        data = handle.read() if limit is None else handle.read(limit + 1)
    store.check_size(location, relative, len(data), limit)  # it grew while we read
    return data


def _write_synced(directory: int, name: str, data: bytes, location: str, relative: str) -> None:
    """Write ``data`` under a fresh temporary name (O_EXCL, O_NOFOLLOW, 0600) in the open
    directory, fsync it, rename it over ``name`` (rename never follows a symlink) and fsync the
    directory; the temporary file is removed when anything fails."""
    with contextlib.suppress(FileNotFoundError):
        existing = os.stat(name, dir_fd=directory, follow_symlinks=False)
        if not stat.S_ISREG(existing.st_mode):
            raise errors.TargetError(
                f"location {location}: {relative} exists and is not a regular file; not replaced"
            )
    temporary = store.temporary_name(name)
    descriptor = os.open(temporary, _NEW_FILE_FLAGS, FILE_MODE, dir_fd=directory)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
        os.fsync(directory)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=directory)
        raise


def _describe(name: str, operation: str, relative_path: str, error: OSError) -> str:
    return f"location {name}: cannot {operation} {relative_path}: {error.strerror or error}"
