"""Check a repository file's content against its name (restic names files by content SHA-256)."""

from __future__ import annotations

import hashlib
import posixpath


def content_name_matches(path: str, data: bytes) -> bool:
    """Given a repository path and its bytes, return whether the SHA-256 of the bytes is its name.

    ``config`` is the one file not named by its content; it is checked by comparing locations.
    """
    if path == "config":
        return True
    return hashlib.sha256(data).hexdigest() == posixpath.basename(path)
