"""What a source's repository should hold: the files backupctl saw restic write, with their sizes.

Replication copies only these files (at exactly this size); a file at a location that is not in the
manifest is *foreign* and never copied; a file the toolkit deleted itself is removed wherever it is
still present. Pure values: the state database stores them (``backupctl/state.py``).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping


@dataclasses.dataclass(frozen=True)
class Manifest:
    files: Mapping[str, int]  # path -> size, as restic wrote it
    deleted: frozenset[str] = frozenset()  # paths the toolkit deleted itself

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", types.MappingProxyType(dict(self.files)))


EMPTY = Manifest({})


def new_files(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """Given a location's listing before and after restic wrote to it, return the files it added."""
    return {path: size for path, size in after.items() if path not in before}
