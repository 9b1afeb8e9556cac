"""Write-once objects in an S3 bucket with object lock: each put is a new object retained in
compliance mode until a date, so nobody (the bucket owner and root on the backup host included)
can delete or overwrite it before then. Used for the audit log's checkpoints (docs/audit.md).
"""

from __future__ import annotations

import base64
import datetime
import hashlib

from targets import s3_client, store
from targets.specs import S3Spec

MAX_LISTED = 100_000  # keys looked at per listing (one per backup run: years of them)


def _key(spec: S3Spec, relative: str) -> str:
    prefix = spec.prefix.strip("/")
    return f"{prefix}/{relative}" if prefix else relative


def put_locked(
    spec: S3Spec, relative: str, data: bytes, *, retain_until: datetime.datetime
) -> None:
    """Given an S3 spec, a key under its prefix and the bytes, put a new object retained in
    compliance mode until ``retain_until``; raise TargetError (or LocationUnavailable) when the
    bucket refuses it, e.g. without object lock."""
    key = _key(spec, store.check_relative_path(spec.name, relative))
    digest = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
    client = s3_client.make_client(spec)
    try:
        with s3_client.translate_errors(spec, "write", relative):
            client.put_object(
                Bucket=spec.bucket,
                Key=key,
                Body=data,
                ContentMD5=digest,  # S3 requires it with object lock parameters
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=retain_until,
            )
    finally:
        client.close()


def newest(spec: S3Spec, directory: str, *, count: int) -> list[tuple[str, bytes]]:
    """Given an S3 spec and a directory under its prefix, return the last ``count`` objects in
    key order (name, content), each read up to 64 KiB; raise TargetError when unreadable."""
    prefix = _key(spec, store.check_relative_path(spec.name, directory)) + "/"
    client = s3_client.make_client(spec)
    try:
        with s3_client.translate_errors(spec, "list", directory):
            keys: list[str] = []
            seen = 0
            paginator = client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=spec.bucket, Prefix=prefix):
                page_keys = [item["Key"] for item in page.get("Contents", ())]
                keys = sorted(keys + page_keys)[-count:]  # keep only the newest in memory
                seen += len(page_keys)
                if seen >= MAX_LISTED:
                    break
        found = []
        for key in keys:
            name = key[len(prefix) :]
            with s3_client.translate_errors(spec, "read", name):
                response = client.get_object(Bucket=spec.bucket, Key=key)
                with response["Body"] as body:
                    store.check_size(spec.name, name, int(response["ContentLength"]), 65536)
                    found.append((name, body.read(65537)))
        return found
    finally:
        client.close()
