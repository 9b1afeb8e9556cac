"""When the files recovered ahead of the orphan search commute with the orphan files, and what
the orphan files account for beyond what carving left out at its start (pure)."""

from __future__ import annotations

import hypothesis
import pytest
from hypothesis import strategies as st

from recovery import scan, scan_files
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


runs = st.lists(
    st.tuples(st.integers(0, 60), st.integers(1, 8)).map(
        lambda pair: ByteRun(pair[0] * 512, pair[1] * 512)
    ),
    max_size=3,
)
files = st.lists(st.tuples(st.booleans(), runs), max_size=6)


@hypothesis.given(named=files, orphans=files)
def test_late_runs_are_those_merged_again(named, orphans):
    # the shortcut (no orphan file chosen or allocated: nothing beyond early) changes nothing
    size = 80 * 512
    named = [
        (0, FoundFile(0, n, f"/n{n}", 10, allocated, {}, tuple(found)))
        for n, (allocated, found) in enumerate(named)
    ]
    orphans = [
        (0, FoundFile(0, 100 + n, f"/$OrphanFiles/o{n}", 10, allocated, {}, tuple(found)))
        for n, (allocated, found) in enumerate(orphans)
    ]
    found = scan._in_walk_order(1, named, orphans)
    dropped = dict.fromkeys(("overwritten_or_empty_deleted", "implausible"), 0)
    early = scan._accounted(named, scan_files.choose(named, size, lambda text: None, dropped))
    chosen = scan_files.choose(found, size, lambda text: None, dict(dropped))
    expected = scan._minus(scan._accounted(found, chosen), early, size)
    assert scan._late(found, chosen, named, early, size) == expected
