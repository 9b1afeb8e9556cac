"""boto3 clients for S3 locations, and turning botocore failures into TargetErrors.

This module and its siblings in ``targets`` are the only place in the project that imports boto3.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import threading
import urllib.parse
from typing import TYPE_CHECKING

import boto3
import botocore.config
import botocore.exceptions

from targets import errors
from targets.specs import S3Spec

if TYPE_CHECKING:
    from collections.abc import Iterator

    from botocore.client import BaseClient

_UNAVAILABLE_CODES = frozenset(
    {
        "NoSuchBucket",
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "403",
        "AllAccessDisabled",
        "InvalidToken",
        "ExpiredToken",
        "PermanentRedirect",
        "301",
    }
)
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_SESSION_LOCK = threading.Lock()


def addressing_style(endpoint: str) -> str:
    """Given an endpoint URL, return "path" for an IP address or single-label host (moto, MinIO on
    a LAN, localhost), else "virtual" (AWS and most providers prefer bucket host names)."""
    host = urllib.parse.urlsplit(endpoint).hostname or ""
    try:
        ipaddress.ip_address(host)
        return "path"
    except ValueError:
        return "path" if "." not in host else "virtual"


def make_client(spec: S3Spec) -> BaseClient:
    """Given an S3 spec, return a boto3 S3 client for its endpoint, region and credentials. Each
    HTTP attempt is bounded by the spec's connect and read timeouts, and a call makes at most
    ``max_attempts`` attempts, so a stalled server costs at most about
    ``max_attempts * (connect_timeout + read_timeout)`` plus the retry back-off."""
    config = botocore.config.Config(
        region_name=spec.region,
        signature_version="s3v4",
        s3={"addressing_style": addressing_style(spec.endpoint)},
        connect_timeout=spec.connect_timeout,
        read_timeout=spec.read_timeout,
        retries={"total_max_attempts": spec.max_attempts, "mode": "standard"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    # one shared session keeps loaded service models; client creation is not thread-safe
    with _SESSION_LOCK:
        return _shared_session().client(
            "s3",
            endpoint_url=spec.endpoint,
            region_name=spec.region,
            aws_access_key_id=spec.access_key_id,
            aws_secret_access_key=spec.secret_access_key,
            verify=spec.verify_tls,
            config=config,
        )


@functools.cache
def _shared_session() -> boto3.session.Session:
    return boto3.session.Session()


def error_code(error: botocore.exceptions.ClientError) -> str:
    """Given a botocore ClientError, return its S3 error code ("NoSuchKey", "404", ...)."""
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


@contextlib.contextmanager
def translate_errors(spec: S3Spec, operation: str, subject: str | None) -> Iterator[None]:
    """Run a block of S3 calls; a missing key becomes FileMissing, an unreachable endpoint, a
    missing bucket or refused credentials become LocationUnavailable, anything else TargetError.
    Messages carry the location, bucket and error code, never credentials."""
    target = f"bucket {spec.bucket}" if subject is None else f"{subject} in bucket {spec.bucket}"
    where = f"location {spec.name}: cannot {operation} {target}"
    try:
        yield
    except botocore.exceptions.ClientError as error:
        code = error_code(error)
        if code in _MISSING_CODES and operation not in ("reach", "list"):
            raise errors.FileMissing(f"location {spec.name}: {subject} does not exist") from None
        if code in _UNAVAILABLE_CODES or code in _MISSING_CODES:
            raise errors.LocationUnavailable(f"{where}: {_describe_code(code)}") from None
        raise errors.TargetError(f"{where}: S3 error {code}") from None
    except (
        botocore.exceptions.EndpointConnectionError,
        botocore.exceptions.ConnectTimeoutError,
        botocore.exceptions.ConnectionClosedError,
        botocore.exceptions.ReadTimeoutError,
        botocore.exceptions.SSLError,
    ) as error:
        raise errors.LocationUnavailable(
            f"{where}: cannot reach {spec.endpoint} ({type(error).__name__})"
        ) from None
    except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError):
        raise errors.LocationUnavailable(f"{where}: no credentials") from None
    except botocore.exceptions.BotoCoreError as error:
        raise errors.TargetError(f"{where}: {type(error).__name__}") from None


def _describe_code(code: str) -> str:
    if code in ("NoSuchBucket", "404", "NotFound"):
        return "the bucket does not exist"
    if code in ("403", "AccessDenied", "AllAccessDisabled"):
        return "access denied"
    if code in ("301", "PermanentRedirect"):
        return "the bucket is in another region than declared"
    return f"credentials refused ({code})"
