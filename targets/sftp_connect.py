"""Opening paramiko connections to an SFTP location; turning their failures into TargetErrors.

paramiko's ``SFTPClient`` is not safe for use from two threads at once (one thread's wait for an
answer can swallow the other's, and both then wait forever), so a connection hands out one SFTP
channel per thread (``Connection.client``). Every channel has a deadline: a server that stops
answering for ``io_timeout`` seconds makes the waiting call raise, never hang.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import paramiko

from targets import errors
from targets.specs import SftpSpec


class Connection:
    """One SSH connection and one SFTP channel on it for each thread that uses it."""

    def __init__(self, ssh: paramiko.SSHClient, spec: SftpSpec) -> None:
        self.ssh = ssh
        self.spec = spec
        self._lock = threading.Lock()
        self._clients: dict[int, paramiko.SFTPClient] = {}

    def client(self) -> paramiko.SFTPClient:
        """Return the calling thread's SFTP client, opening its channel on first use."""
        thread = threading.get_ident()
        with self._lock:
            found = self._clients.get(thread)
        if found is None:
            found = open_client(self.transport(), self.spec.io_timeout)
            with self._lock:
                self._clients[thread] = found
        return found

    def transport(self) -> paramiko.Transport:
        """Return the SSH transport (channels on it may be used from different threads)."""
        transport = self.ssh.get_transport()
        if transport is None or not transport.is_active():
            raise EOFError("the SSH connection is closed")
        return transport

    def close(self) -> None:
        """Close every SFTP channel and the SSH connection."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            with contextlib.suppress(Exception):
                client.close()
        self.ssh.close()


def open_client(transport: paramiko.Transport, io_timeout: float) -> paramiko.SFTPClient:
    """Given a transport, return a new SFTP client on its own channel whose every wait ends after
    ``io_timeout`` seconds. Opening is bounded too: paramiko waits for the subsystem without a
    deadline, so a watchdog closes the transport if the server has not answered in time."""
    watchdog = threading.Timer(io_timeout, transport.close)
    watchdog.daemon = True
    watchdog.start()
    try:
        channel = transport.open_session(timeout=io_timeout)
        channel.settimeout(io_timeout)
        channel.invoke_subsystem("sftp")
        return paramiko.SFTPClient(channel)
    except (paramiko.SSHException, EOFError):
        if watchdog.finished.is_set() or not transport.is_active():
            raise TimeoutError("the server did not open an SFTP channel in time") from None
        raise
    finally:
        watchdog.cancel()


def connect(spec: SftpSpec) -> Connection:
    """Given an SFTP spec, return an open connection that trusts only the spec's known_hosts file
    and key; raise LocationUnavailable when the server is unreachable or refuses us."""
    ssh = paramiko.SSHClient()
    try:
        ssh.load_host_keys(str(spec.known_hosts))
    except OSError as error:
        raise errors.LocationUnavailable(
            f"location {spec.name}: cannot read known_hosts file {spec.known_hosts}: "
            f"{error.strerror or error}"
        ) from None
    ssh.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        ssh.connect(**_connect_arguments(spec))
        connection = Connection(ssh, spec)
        connection.client()
        return connection
    except Exception as error:  # noqa: BLE001 - every failure here means "cannot connect"
        ssh.close()
        raise errors.LocationUnavailable(
            f"location {spec.name}: cannot connect to sftp://{spec.user}@{spec.host}:{spec.port}: "
            f"{connect_failure_reason(error, spec.connect_timeout)}"
        ) from None


def _connect_arguments(spec: SftpSpec) -> dict[str, object]:
    return {
        "hostname": spec.host,
        "port": spec.port,
        "username": spec.user,
        "key_filename": str(spec.identity_file),
        "look_for_keys": False,
        "allow_agent": False,
        "timeout": spec.connect_timeout,
        "banner_timeout": spec.connect_timeout,
        "auth_timeout": spec.connect_timeout,
        "channel_timeout": spec.connect_timeout,
    }


def connect_failure_reason(error: BaseException, timeout: float) -> str:
    """Given the exception a connection attempt raised, return a short reason without secrets."""
    if isinstance(error, paramiko.BadHostKeyException):
        return "the server's host key does not match known_hosts (possible man-in-the-middle)"
    if isinstance(error, paramiko.AuthenticationException):
        return "authentication with the identity file failed"
    if isinstance(error, paramiko.SSHException) and "known_hosts" in str(error):
        return "the server's host key is not in the known_hosts file"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return f"timed out after {timeout:g}s"
    if isinstance(error, paramiko.ssh_exception.NoValidConnectionsError):
        return "connection refused"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, FileNotFoundError):
        return "identity file not found"
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    return f"{type(error).__name__}: {error}"


@contextlib.contextmanager
def translate_errors(
    location: str, operation: str, relative_path: str, on_lost: Callable[[], None]
) -> Iterator[None]:
    """Run a block of SFTP calls; turn a missing file into FileMissing, a dropped or stalled
    connection into LocationUnavailable (after ``on_lost``, which forgets the connection), and
    other SFTP failures into TargetError."""
    prefix = f"location {location}: cannot {operation} {relative_path}"
    try:
        yield
    except errors.TargetError:
        raise
    except FileNotFoundError:
        raise errors.FileMissing(f"location {location}: {relative_path} does not exist") from None
    except TimeoutError:
        with contextlib.suppress(Exception):
            on_lost()
        raise errors.LocationUnavailable(f"{prefix}: the server stopped answering") from None
    except (paramiko.SSHException, paramiko.SFTPError, EOFError, ConnectionError) as error:
        with contextlib.suppress(Exception):
            on_lost()
        raise errors.LocationUnavailable(
            f"{prefix}: connection lost ({type(error).__name__})"
        ) from None
    except OSError as error:
        raise errors.TargetError(f"{prefix}: {error.strerror or error}") from None
