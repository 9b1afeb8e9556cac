"""Opening paramiko connections to an SFTP location; turning their failures into TargetErrors."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import typing

import paramiko

from targets import errors

if typing.TYPE_CHECKING:
    from targets.sftp import SftpSpec, SftpStore


@dataclasses.dataclass
class Connection:
    """One SSH connection and the SFTP session on it."""

    ssh: paramiko.SSHClient
    client: paramiko.SFTPClient

    def close(self) -> None:
        """Close the SFTP session and the SSH connection."""
        self.client.close()
        self.ssh.close()


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
        return Connection(ssh=ssh, client=ssh.open_sftp())
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
def translate_errors(store: SftpStore, operation: str, relative_path: str):
    """Run a block of SFTP calls; turn a missing file into FileMissing, a dropped connection into
    LocationUnavailable (and forget the connection), and other SFTP failures into TargetError."""
    prefix = f"location {store.name}: cannot {operation} {relative_path}"
    try:
        yield
    except errors.TargetError:
        raise
    except FileNotFoundError:
        raise errors.FileMissing(f"location {store.name}: {relative_path} does not exist") from None
    except (paramiko.SSHException, EOFError, ConnectionError, TimeoutError) as error:
        with contextlib.suppress(Exception):
            store.close()
        raise errors.LocationUnavailable(
            f"{prefix}: connection lost ({type(error).__name__})"
        ) from None
    except OSError as error:
        raise errors.TargetError(f"{prefix}: {error.strerror or error}") from None
