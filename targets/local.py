"""A restic repository in a local directory (a disk, a mounted NAS share)."""

from __future__ import annotations

import dataclasses
import errno
import os
import pathlib
import secrets

from targets import errors, store


@dataclasses.dataclass(frozen=True)
class LocalSpec:
    """Where a local repository lives: ``path`` is the repository directory itself."""

    name: str
    path: pathlib.Path


class LocalStore(store.ClosingMixin):
    """Store API over a local directory; writes are fsynced and renamed into place."""

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
        found: dict[str, int] = {}
        for path in _walk_files(self.root, self.name):
            relative = path.relative_to(self.root).as_posix()
            if store.is_repository_file(relative):
                found[relative] = path.stat().st_size
        return found

    def read(self, relative_path: str) -> bytes:
        """Return the content of one repository file; raise FileMissing when it does not exist."""
        path = self._path(relative_path)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise errors.FileMissing(
                f"location {self.name}: {relative_path} does not exist"
            ) from None
        except OSError as error:
            raise errors.TargetError(_describe(self.name, "read", relative_path, error)) from None

    def write(self, relative_path: str, data: bytes) -> None:
        """Write one file atomically: temp file, fsync, rename, fsync the directory."""
        path = self._path(relative_path)
        temporary = path.with_name(store.temporary_name(path.name, secrets.token_hex(8)))
        self._require_base()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_synced(temporary, data)
            os.replace(temporary, path)
            _fsync_directory(path.parent)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise errors.TargetError(_describe(self.name, "write", relative_path, error)) from None

    def delete(self, relative_path: str) -> None:
        """Remove one file; a file already gone is not an error."""
        path = self._path(relative_path)
        try:
            path.unlink(missing_ok=True)
        except OSError as error:
            raise errors.TargetError(_describe(self.name, "delete", relative_path, error)) from None

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

    def _path(self, relative_path: str) -> pathlib.Path:
        return self.root / store.check_relative_path(self.name, relative_path)


def _walk_files(root: pathlib.Path, name: str):
    """Yield every regular file below the repository's kept directories, plus ``config``."""
    config = root / "config"
    if config.is_file():
        yield config
    for directory in store.REPOSITORY_DIRECTORIES:
        for current, _dirs, files in os.walk(root / directory, onerror=_raise_walk_error(name)):
            for file_name in files:
                yield pathlib.Path(current, file_name)


def _raise_walk_error(name: str):
    def on_error(error: OSError) -> None:
        if error.errno != errno.ENOENT:
            raise errors.TargetError(_describe(name, "list", error.filename or "", error))

    return on_error


def _write_synced(path: pathlib.Path, data: bytes) -> None:
    with open(path, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_directory(directory: pathlib.Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _describe(name: str, operation: str, relative_path: str, error: OSError) -> str:
    return f"location {name}: cannot {operation} {relative_path}: {error.strerror or error}"
