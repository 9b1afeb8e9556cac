"""A restic repository under a key prefix in an S3 bucket (AWS or an S3-compatible service)."""

from __future__ import annotations

import dataclasses
import datetime

from targets import errors, s3_client, store
from targets.specs import S3Spec


class S3Store(store.ClosingMixin):
    """Store API over S3: whole-object gets and puts (a put is atomic on S3), paginated listing."""

    def __init__(self, spec: S3Spec) -> None:
        self.spec = spec
        self.name = spec.name
        self.prefix = spec.prefix.strip("/")
        self._client = None

    def restic_repository(self) -> str:
        """Return ``s3:<endpoint>/<bucket>/<prefix>``."""
        parts = [self.spec.endpoint.rstrip("/"), self.spec.bucket] + (
            [self.prefix] if self.prefix else []
        )
        return "s3:" + "/".join(parts)

    def restic_options(self) -> tuple[str, ...]:
        """Return the region and bucket lookup style for restic (and --insecure-tls if asked)."""
        lookup = "path" if s3_client.addressing_style(self.spec.endpoint) == "path" else "auto"
        options = ("-o", f"s3.region={self.spec.region}", "-o", f"s3.bucket-lookup={lookup}")
        return options + (() if self.spec.verify_tls else ("--insecure-tls",))

    def restic_environment(self) -> dict[str, str]:
        """Return the credentials and region restic reads from its environment."""
        return {
            "AWS_ACCESS_KEY_ID": self.spec.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.spec.secret_access_key,
            "AWS_DEFAULT_REGION": self.spec.region,
        }

    def list_files(self) -> dict[str, int]:
        """Return relative path -> size of every repository object; {} when the prefix is empty."""
        key_prefix = self._key("")
        found: dict[str, int] = {}
        with s3_client.translate_errors(self.spec, "list", key_prefix or "/"):
            paginator = self._s3().get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.spec.bucket, Prefix=key_prefix):
                for item in page.get("Contents", ()):
                    relative = item["Key"][len(key_prefix) :]
                    if store.is_repository_file(relative):
                        found[relative] = int(item["Size"])
        return found

    def read(self, relative_path: str, *, limit: int | None = None) -> bytes:
        """Return one object's content; raise FileMissing when it does not exist, TargetError
        (without reading the body) when it is larger than ``limit`` bytes."""
        key = self._key(store.check_relative_path(self.name, relative_path))
        with s3_client.translate_errors(self.spec, "read", relative_path):
            response = self._s3().get_object(Bucket=self.spec.bucket, Key=key)
            with response["Body"] as body:
                store.check_size(self.name, relative_path, int(response["ContentLength"]), limit)
                data = body.read() if limit is None else body.read(limit + 1)
        store.check_size(self.name, relative_path, len(data), limit)
        return data

    def write(self, relative_path: str, data: bytes) -> None:
        """Put one object; S3 makes it visible whole or not at all."""
        key = self._key(store.check_relative_path(self.name, relative_path))
        with s3_client.translate_errors(self.spec, "write", relative_path):
            self._s3().put_object(Bucket=self.spec.bucket, Key=key, Body=data)

    def delete(self, relative_path: str) -> None:
        """Delete one object (a versioned bucket keeps a noncurrent version until it expires)."""
        key = self._key(store.check_relative_path(self.name, relative_path))
        with s3_client.translate_errors(self.spec, "delete", relative_path):
            self._s3().delete_object(Bucket=self.spec.bucket, Key=key)

    def leftovers(self) -> list[str]:
        """Return everything left under the repository's prefix: every object version (current
        and noncurrent) and delete marker, as ``<relative key> (version <id>)``; [] when none."""
        return [_describe_version(version) for version in self._versions()]

    def remove_leftovers(self) -> store.Removal:
        """Delete every object version and delete marker under the prefix for good (by version
        id, so a versioned bucket keeps nothing); a version object lock still retains is kept
        and named with its retain-until date. Return what went and what stayed."""
        removed, kept = 0, []
        for version in self._versions():
            try:
                with s3_client.translate_errors(self.spec, "delete", version.key):
                    self._s3().delete_object(
                        Bucket=self.spec.bucket, Key=self._key(version.key), VersionId=version.id
                    )
                removed += 1
            except errors.TargetError:
                lock = self._retention(version)
                if lock is None:  # not held by object lock: the location failed
                    raise
                kept.append(f"{_describe_version(version)}: {lock}")
        return store.Removal(removed, tuple(kept))

    def _versions(self) -> list[_Version]:
        key_prefix = self._key("")
        found: list[_Version] = []
        with s3_client.translate_errors(self.spec, "list versions in", key_prefix or "/"):
            paginator = self._s3().get_paginator("list_object_versions")
            for page in paginator.paginate(Bucket=self.spec.bucket, Prefix=key_prefix):
                for item in (*page.get("Versions", ()), *page.get("DeleteMarkers", ())):
                    found.append(
                        _Version(
                            item["Key"][len(key_prefix) :],
                            item.get("VersionId") or "null",
                            "Size" not in item,
                        )
                    )
                if len(found) > store.MAX_LEFTOVERS:
                    raise errors.TargetError(
                        f"location {self.name}: more than {store.MAX_LEFTOVERS} object versions"
                    )
        return found

    def _retention(self, version: _Version) -> str | None:
        """Return the object lock that keeps a version (mode and retain-until date, or a legal
        hold), or None when S3 names none (HeadObject tells both)."""
        try:
            with s3_client.translate_errors(self.spec, "read retention of", version.key):
                head = self._s3().head_object(
                    Bucket=self.spec.bucket, Key=self._key(version.key), VersionId=version.id
                )
        except errors.TargetError:
            return None
        if head.get("ObjectLockLegalHoldStatus") == "ON":
            return "object lock legal hold"
        if "ObjectLockRetainUntilDate" not in head:
            return None
        until = head["ObjectLockRetainUntilDate"].astimezone(datetime.UTC)
        return f"object lock ({head.get('ObjectLockMode')}) until {until:%Y-%m-%d %H:%M} UTC"

    def ping(self) -> None:
        """Raise LocationUnavailable unless the bucket exists and the credentials may use it."""
        with s3_client.translate_errors(self.spec, "reach", None):
            self._s3().head_bucket(Bucket=self.spec.bucket)

    def remove_stale_temporaries(self, older_than_seconds: float) -> list[str]:
        """Remove objects named like our temporary files (``store.is_temporary_name``) last
        modified at least ``older_than_seconds`` ago; return their relative paths. Our own S3 writes
        never leave one (a put is atomic), so there is normally nothing to remove; the rule is
        the same as for the other kinds."""
        key_prefix = self._key("")
        cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(
            seconds=older_than_seconds
        )
        removed: list[str] = []
        with s3_client.translate_errors(self.spec, "clean temporary files in", key_prefix or "/"):
            paginator = self._s3().get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.spec.bucket, Prefix=key_prefix):
                for item in page.get("Contents", ()):
                    relative = item["Key"][len(key_prefix) :]
                    if _is_temporary(relative) and item["LastModified"] <= cutoff:
                        self._s3().delete_object(Bucket=self.spec.bucket, Key=item["Key"])
                        removed.append(relative)
        return removed

    def close(self) -> None:
        """Close the client's connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _s3(self):
        if self._client is None:
            self._client = s3_client.make_client(self.spec)
        return self._client

    def _key(self, relative_path: str) -> str:
        return f"{self.prefix}/{relative_path}" if self.prefix else relative_path


@dataclasses.dataclass(frozen=True)
class _Version:
    key: str  # relative to the repository prefix
    id: str
    delete_marker: bool


def _describe_version(version: _Version) -> str:
    kind = "delete marker" if version.delete_marker else "version"
    return f"{version.key} ({kind} {version.id})"


def _is_temporary(relative_path: str) -> bool:
    """Return whether a relative key is one of our temporary names in a repository directory."""
    directory, _, name = relative_path.rpartition("/")
    in_repository = directory in store.temporary_directories(()) or (
        directory.startswith("data/") and directory.count("/") == 1
    )
    return in_repository and store.is_temporary_name(name)
