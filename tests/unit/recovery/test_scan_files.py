"""When the files recovered ahead of the orphan search commute with the orphan files (pure)."""

from __future__ import annotations

import pytest

from recovery import scan_files
from recovery.scan_model import ByteRun, FoundFile


def _file(path: str, *, allocated: bool, inode: int) -> tuple[int, FoundFile]:
    return 0, FoundFile(0, inode, path, 10, allocated, {}, (ByteRun(inode * 512, 10),))


def _ahead(pairs, warnings=()) -> scan_files.Ahead:
    return scan_files.Ahead(tuple(pairs), (), tuple(warnings), 0)


ORPHAN = _file("/$OrphanFiles/OrphanFile-7", allocated=False, inode=7)


@pytest.mark.parametrize(
    ("named_path", "allocated", "commutes"),
    [
        ("/keep/KEEP.TXT", True, True),
        ("/$OrphanFiles/x", True, True),  # allocated/p0/$OrphanFiles: another folder
        ("/$OrphanFiles/x", False, False),  # deleted/p0/$OrphanFiles: the orphans' folder
        ("/$OrphanFiles", False, False),  # a file of that name: the folder would be ~2
        ("/ $OrphanFiles /x", False, False),  # sanitized alike
    ],
)
def test_a_named_file_in_the_orphans_folder_does_not_commute(named_path, allocated, commutes):
    root = _file("/NEW.TXT", allocated=True, inode=1)
    named = _file(named_path, allocated=allocated, inode=2)
    chosen = [root, ORPHAN, named]
    ahead = _ahead([root, named])
    assert scan_files._commutes(chosen, ahead, [ORPHAN], {id(root[1]), id(named[1])}) is commutes


def test_warnings_or_other_named_files_chosen_do_not_commute():
    root = _file("/NEW.TXT", allocated=True, inode=1)
    named = _file("/keep/KEEP.TXT", allocated=True, inode=2)
    keys = {id(root[1]), id(named[1])}
    assert scan_files._commutes([root, ORPHAN, named], _ahead([root, named]), [ORPHAN], keys)
    held = _ahead([root, named], ["cannot read allocated file '/NEW.TXT': gone"])
    assert not scan_files._commutes([root, ORPHAN, named], held, [ORPHAN], keys)
    # the orphan file pushed the total past the bound: the named file is no longer chosen
    assert not scan_files._commutes([root, ORPHAN], _ahead([root, named]), [ORPHAN], keys)
