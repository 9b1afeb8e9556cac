"""A restic repository in a directory on an SFTP server (paramiko here, OpenSSH for restic)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import posixpath
import stat
import threading
import time
from collections.abc import Iterator

import paramiko

from targets import errors, sftp_connect, ssh_command, ssh_master, store
from targets.specs import SftpSpec

LISTING_CHANNELS = 4
FILE_MODE = 0o600  # customer data: root only
DIRECTORY_MODE = 0o700


class SftpStore(store.ClosingMixin):
    """Store API over SFTP. Connects on first use; each thread gets its own SFTP channel on the
    one connection (paramiko's client is not thread-safe). Writes go to a hidden temporary name
    (0600) and are renamed into place with the ``posix-rename@openssh.com`` extension."""

    def __init__(self, spec: SftpSpec) -> None:
        if not spec.path.startswith("/"):
            raise errors.TargetError(
                f"location {spec.name}: sftp path {spec.path!r} is not absolute"
            )
        self.spec = spec
        self.name = spec.name
        self.root = posixpath.normpath(spec.path)
        self._connection: sftp_connect.Connection | None = None
        self._connecting = threading.Lock()
        self._known_directories: set[str] = set()
        self._shared: tuple[str, ...] = ()  # ssh options of a shared connection (shared_ssh)

    def restic_repository(self) -> str:
        """Return ``sftp:user@host:/path``; the port travels in the ssh command."""
        return f"sftp:{self.spec.user}@{self.spec.host}:{self.root}"

    def restic_options(self) -> tuple[str, ...]:
        """Return ``-o sftp.command=ssh ...`` pinning key, port and known_hosts (and, inside
        ``shared_ssh``, the shared connection's socket)."""
        argv = ("ssh", *self._ssh_options(), *self._shared, self._login(), "-s", "sftp")
        return ("-o", "sftp.command=" + ssh_command.sftp_command_option(self.name, argv))

    @contextlib.contextmanager
    def shared_ssh(self) -> Iterator[None]:
        """Inside the block, the restic processes given ``restic_options`` share one ssh
        connection (targets/ssh_master.py); when it cannot be opened each connects alone."""
        with ssh_master.shared(self._ssh_options(), self._login()) as path:
            self._shared = ssh_master.client_options(path) if path else ()
            try:
                yield
            finally:
                self._shared = ()

    def _ssh_options(self) -> tuple[str, ...]:
        return ssh_command.ssh_options(
            port=self.spec.port,
            identity_file=self.spec.identity_file,
            known_hosts=self.spec.known_hosts,
            connect_timeout=self.spec.connect_timeout,
        )

    def _login(self) -> str:
        return f"{self.spec.user}@{self.spec.host}"

    def restic_environment(self) -> dict[str, str]:
        """Return environment variables restic needs: none, the key file does the work."""
        return {}

    def list_files(self) -> dict[str, int]:
        """Return relative path -> size of every repository file; {} when there is no repository.
        The ``data/xx`` directories are listed over several SFTP channels at once."""
        with self._errors("list", self.root):
            client = self._client()
            if _stat_or_none(client, self.root) is None:
                return {}
            found: dict[str, int] = {}
            config = _stat_or_none(client, self._remote("config"))
            if config is not None and stat.S_ISREG(config.st_mode or 0):
                found["config"] = config.st_size or 0
            for directory in ("keys", "index", "snapshots"):
                found.update(_list_regular(client, self.root, directory))
            data_directories = [
                f"data/{entry.filename}"
                for entry in _list_or_empty(client, self._remote("data"))
                if stat.S_ISDIR(entry.st_mode or 0)
            ]
            found.update(self._list_parallel(data_directories))
        return {path: size for path, size in found.items() if store.is_repository_file(path)}

    def read(self, relative_path: str, *, limit: int | None = None) -> bytes:
        """Return the content of one file; raise FileMissing when it does not exist, TargetError
        (before reading it) when it is larger than ``limit`` bytes."""
        remote = self._remote(store.check_relative_path(self.name, relative_path))
        with self._errors("read", relative_path), self._client().open(remote, "rb") as handle:
            size = handle.stat().st_size or 0
            store.check_size(self.name, relative_path, size, limit)
            handle.prefetch(size)
            data = handle.read() if limit is None else handle.read(limit + 1)
        store.check_size(self.name, relative_path, len(data), limit)  # it grew while we read
        return data

    def write(self, relative_path: str, data: bytes) -> None:
        """Write one file: temporary hidden name (0600), then rename over the final name."""
        remote = self._remote(store.check_relative_path(self.name, relative_path))
        directory, base = posixpath.split(remote)
        temporary = posixpath.join(directory, store.temporary_name(base))
        with self._errors("write", relative_path):
            client = self._client()
            self._ensure_directory(client, directory)
            try:
                with client.open(temporary, "wb") as handle:
                    handle.chmod(FILE_MODE)
                    handle.set_pipelined(True)
                    handle.write(data)
                client.posix_rename(temporary, remote)
            except BaseException:
                _remove_quietly(client, temporary)
                raise

    def delete(self, relative_path: str) -> None:
        """Remove one file; a file already gone is not an error."""
        remote = self._remote(store.check_relative_path(self.name, relative_path))
        with self._errors("delete", relative_path), contextlib.suppress(FileNotFoundError):
            self._client().remove(remote)

    def leftovers(self) -> list[str]:
        """Return everything left of the repository on the server: every entry below it by
        relative path, and "." for the directory itself; [] when nothing is left."""
        with self._errors("list", "."):
            client = self._client()
            top = _lstat_or_none(client, self.root)
            if top is None:
                return []
            if not stat.S_ISDIR(top.st_mode or 0):
                return ["."]
            return [".", *(path for path, _ in _walk(client, self.root, ""))]

    def remove_leftovers(self) -> store.Removal:
        """Remove the repository directory and everything in it, deepest first (a symlink is
        removed, never followed); return how many entries went."""
        with self._errors("remove", "."):
            client = self._client()
            top = _lstat_or_none(client, self.root)
            if top is None:
                return store.Removal(0)
            if not stat.S_ISDIR(top.st_mode or 0):
                client.remove(self.root)
                return store.Removal(1)
            entries = list(_walk(client, self.root, ""))
            for path, is_directory in reversed(entries):  # children come after their directory
                remote = posixpath.join(self.root, path)
                if is_directory:
                    client.rmdir(remote)
                else:
                    client.remove(remote)
            client.rmdir(self.root)
        self._known_directories.clear()
        return store.Removal(len(entries) + 1)

    def ping(self) -> None:
        """Connect and stat the repository's parent directory; raise LocationUnavailable if not."""
        with self._errors("stat", posixpath.dirname(self.root)):
            self._client().stat(posixpath.dirname(self.root))

    def remove_stale_temporaries(self, older_than_seconds: float) -> list[str]:
        """Remove our own temporary files (``store.is_temporary_name``, regular files) whose
        modification time on the server is at least ``older_than_seconds`` before our clock's
        now; return their repository-relative paths."""
        cutoff = time.time() - older_than_seconds
        removed: list[str] = []
        with self._errors("clean", "temporary files"):
            client = self._client()
            data = _list_or_empty(client, self._remote("data"))
            data_directories = [
                entry.filename for entry in data if stat.S_ISDIR(entry.st_mode or 0)
            ]
            for relative in store.temporary_directories(data_directories):
                for entry in _list_or_empty(client, posixpath.join(self.root, relative)):
                    if _is_stale_temporary(entry, cutoff):
                        path = posixpath.join(relative, entry.filename)
                        client.remove(self._remote(path))
                        removed.append(path)
        return removed

    def close(self) -> None:
        """Close the SSH connection and its channels, if one is open."""
        with self._connecting:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _client(self) -> paramiko.SFTPClient:
        """Return this thread's SFTP client, connecting first if needed."""
        with self._connecting:
            if self._connection is None:
                self._connection = sftp_connect.connect(self.spec)
            connection = self._connection
        return connection.client()

    def _remote(self, relative_path: str) -> str:
        return posixpath.join(self.root, relative_path)

    def _errors(self, operation: str, relative_path: str):
        return sftp_connect.translate_errors(self.name, operation, relative_path, self.close)

    def _ensure_directory(self, client: paramiko.SFTPClient, directory: str) -> None:
        if directory in self._known_directories or directory == "/":
            return
        if _stat_or_none(client, directory) is None:
            self._ensure_directory(client, posixpath.dirname(directory))
            try:
                client.mkdir(directory, DIRECTORY_MODE)
            except OSError:
                if _stat_or_none(client, directory) is None:  # not made by a racing writer
                    raise
        self._known_directories.add(directory)

    def _list_parallel(self, directories: list[str]) -> dict[str, int]:
        if not directories:
            return {}
        channels = min(LISTING_CHANNELS, len(directories))
        chunks = [directories[index::channels] for index in range(channels)]
        transport = self._client().get_channel().get_transport()
        timeout = self.spec.io_timeout
        with concurrent.futures.ThreadPoolExecutor(max_workers=channels) as pool:
            parts = pool.map(
                lambda chunk: _list_chunk(transport, timeout, self.root, chunk), chunks
            )
            return {path: size for part in parts for path, size in part.items()}


def _list_chunk(
    transport: paramiko.Transport, timeout: float, root: str, directories: list[str]
) -> dict[str, int]:
    client = sftp_connect.open_client(transport, timeout)
    try:
        found: dict[str, int] = {}
        for directory in directories:
            found.update(_list_regular(client, root, directory))
        return found
    finally:
        client.close()


def _is_stale_temporary(entry: paramiko.SFTPAttributes, cutoff: float) -> bool:
    return (
        store.is_temporary_name(entry.filename)
        and stat.S_ISREG(entry.st_mode or 0)
        and (entry.st_mtime or 0) <= cutoff
    )


def _list_regular(client: paramiko.SFTPClient, root: str, directory: str) -> dict[str, int]:
    entries = _list_or_empty(client, posixpath.join(root, directory))
    return {
        f"{directory}/{entry.filename}": entry.st_size or 0
        for entry in entries
        if stat.S_ISREG(entry.st_mode or 0)
    }


def _list_or_empty(client: paramiko.SFTPClient, remote: str) -> list[paramiko.SFTPAttributes]:
    try:
        return client.listdir_attr(remote)
    except FileNotFoundError:
        return []


def _walk(client: paramiko.SFTPClient, root: str, relative: str) -> Iterator[tuple[str, bool]]:
    """Yield (relative path, is a real directory) of every entry below ``root/relative``, each
    directory before its content; symlinks are yielded as files, never followed."""
    pending = [relative]
    seen = 0
    while pending:
        current = pending.pop()
        for entry in client.listdir_attr(posixpath.join(root, current)):
            path = posixpath.join(current, entry.filename) if current else entry.filename
            is_directory = stat.S_ISDIR(entry.st_mode or 0)
            seen += 1
            if seen > store.MAX_LEFTOVERS:
                raise OSError(f"more than {store.MAX_LEFTOVERS} entries below {root}")
            yield path, is_directory
            if is_directory:
                pending.append(path)


def _lstat_or_none(client: paramiko.SFTPClient, remote: str) -> paramiko.SFTPAttributes | None:
    try:
        return client.lstat(remote)
    except FileNotFoundError:
        return None


def _stat_or_none(client: paramiko.SFTPClient, remote: str) -> paramiko.SFTPAttributes | None:
    try:
        return client.stat(remote)
    except FileNotFoundError:
        return None


def _remove_quietly(client: paramiko.SFTPClient, remote: str) -> None:
    with contextlib.suppress(OSError, paramiko.SSHException, EOFError):
        client.remove(remote)
