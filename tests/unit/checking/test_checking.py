"""The pure parts of check and drill: the rotating subset, the drill's sample over restic's
listing (both restic versions' formats), the comparison, the scratch directory that never stays,
and the argv of ls and restore."""

from __future__ import annotations

import json
import pathlib
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backupctl.checking import sample, scratch, subset
from backupctl.restic import commands
from backupctl.restic.flags import Repository, Restic

SNAPSHOT = "a" * 64


@pytest.mark.parametrize(
    ("percent", "days", "hours", "slices"),
    [
        (25, 28, 168, 4),
        (30, 28, 168, 4),
        (100, 28, 168, 1),
        (None, 28, 168, 4),
        (None, 28, 24, 28),
        (None, 7, 168, 1),
        (None, 1, 36, 1),
    ],
)
def test_the_number_of_slices(percent, days, hours, slices):
    assert subset.slices_for(percent=percent, read_days=days, check_hours=hours) == slices


@given(st.integers(min_value=1, max_value=50), st.integers(min_value=0, max_value=60))
def test_t_runs_in_a_row_read_every_slice_once(slices, start):
    previous = None if start == 0 else ((start - 1) % slices + 1, slices)
    seen = []
    for _ in range(slices):
        number = subset.next_slice(previous, slices)
        seen.append(number)
        previous = (number, slices)
    assert sorted(seen) == list(range(1, slices + 1))


def test_a_changed_number_of_slices_starts_again_at_one():
    assert subset.next_slice((3, 4), 8) == 1
    assert subset.next_slice((4, 4), 4) == 1


def _node(path, size, kind="file", marker="struct_type"):
    return json.dumps(
        {"name": path.rsplit("/", 1)[-1], "type": kind, "path": path, "size": size, marker: "node"}
    )


def test_the_sample_takes_files_of_both_restic_formats_and_skips_the_rest():
    reservoir = sample.Reservoir(10, 1000, random.Random(1))
    lines = [
        json.dumps({"time": "2026-01-01T00:00:00Z", "struct_type": "snapshot", "id": SNAPSHOT}),
        _node("/srv/a.txt", 10),
        _node("/srv/b.txt", 20, marker="message_type"),  # restic 0.17+
        _node("/srv", 0, kind="dir"),
        _node("/srv/empty", 0),
        _node("/srv/huge", 5000),
        _node("/srv/star*.txt", 5),  # restic would read it as a pattern
        _node("/srv/link", 3, kind="symlink"),
        "not json at all",
        json.dumps({"struct_type": "node", "type": "file", "path": 7, "size": 1}),  # damaged
    ]
    for line in lines:
        reservoir.offer(line)
    assert reservoir.chosen == [sample.Entry("/srv/a.txt", 10), sample.Entry("/srv/b.txt", 20)]


def test_the_sample_is_uniform_and_bounded():
    counts = dict.fromkeys(range(20), 0)
    for seed in range(2000):
        reservoir = sample.Reservoir(3, 100, random.Random(seed))
        for index in range(20):
            reservoir.offer(_node(f"/f/{index}", 1))
        assert len(reservoir.chosen) == 3
        for entry in reservoir.chosen:
            counts[int(entry.path.rsplit("/", 1)[1])] += 1
    assert min(counts.values()) > 200 and max(counts.values()) < 400  # expected 300 each


def _tree(root: pathlib.Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def test_the_comparison_counts_missing_resized_and_differing_files(tmp_path):
    entries = [sample.Entry(f"/d/{name}", 3) for name in ("same", "other", "gone", "long")]
    _tree(
        tmp_path / "a",
        {"/d/same": b"abc", "/d/other": b"abc", "/d/gone": b"abc", "/d/long": b"abcd"},
    )
    _tree(tmp_path / "b", {"/d/same": b"abc", "/d/other": b"abd", "/d/long": b"abcd"})
    assert sample.mismatches(entries, tmp_path / "a", tmp_path / "b") == 3
    assert sample.mismatches(entries[:1], tmp_path / "a", tmp_path / "b") == 0


def test_a_restored_symlink_is_not_followed(tmp_path):
    (tmp_path / "secret").write_bytes(b"abc")
    for side in ("a", "b"):
        (tmp_path / side / "d").mkdir(parents=True)
        (tmp_path / side / "d" / "f").symlink_to(tmp_path / "secret")
    assert sample.mismatches([sample.Entry("/d/f", 3)], tmp_path / "a", tmp_path / "b") == 1


def test_the_scratch_directory_is_private_and_gone_after_a_failure(tmp_path):
    with pytest.raises(KeyboardInterrupt), scratch.directory(tmp_path, "web") as work:
        assert work.stat().st_mode & 0o777 == 0o700
        (work / "srv").mkdir()
        (work / "srv" / "data").write_text("customer data")
        (work / "srv").chmod(0o500)  # restic restores a read-only directory
        raise KeyboardInterrupt
    assert not work.exists()
    assert list(scratch.root(tmp_path, "web").iterdir()) == []


def test_a_killed_drills_copy_is_removed_by_the_next(tmp_path):
    left = scratch.root(tmp_path, "web") / "run-old"
    left.mkdir(parents=True)
    (left / "data").write_text("customer data")
    assert scratch.leftovers(tmp_path, "web") == [left]
    with scratch.directory(tmp_path, "web"):
        assert not left.exists()
    assert scratch.leftovers(tmp_path, "web") == []


RESTIC = Restic("restic", (0, 18, 0), pathlib.Path("/cache"))
REPOSITORY = Repository("/srv/repo")


def test_ls_and_restore_argv():
    assert commands.ls_argv(RESTIC, REPOSITORY, SNAPSHOT) == (
        "restic",
        "ls",
        "--repo",
        "/srv/repo",
        "--cache-dir",
        "/cache",
        "--json",
        "--no-lock",
        "--",
        SNAPSHOT,
    )
    assert commands.restore_paths_argv(  # the drill lets restic read each file back (--verify)
        RESTIC, REPOSITORY, SNAPSHOT, pathlib.Path("/t"), includes=("/srv/a", "/srv/b"), verify=True
    ) == (
        "restic",
        "restore",
        "--repo",
        "/srv/repo",
        "--cache-dir",
        "/cache",
        "--json",
        "--retry-lock",
        "5m",
        "--target",
        "/t",
        "--include",
        "/srv/a",
        "--include",
        "/srv/b",
        "--verify",
        "--",
        SNAPSHOT,
    )


@pytest.mark.parametrize("path", ["relative", "/srv/*", "/srv/[a]", "/srv/a\\b", "/a\nb"])
def test_restore_refuses_a_path_restic_would_read_as_a_pattern(path):
    with pytest.raises(ValueError):
        commands.restore_paths_argv(
            RESTIC, REPOSITORY, SNAPSHOT, pathlib.Path("/t"), includes=(path,)
        )


def test_ls_refuses_a_short_snapshot_id():
    with pytest.raises(ValueError):
        commands.ls_argv(RESTIC, REPOSITORY, "latest")
