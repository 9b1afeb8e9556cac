"""Which devices count as "the source medium": partitions and holders found in a sysfs tree."""

from __future__ import annotations

import pathlib

from recovery import blockdev


def make_sysfs(root: pathlib.Path) -> pathlib.Path:
    """Build a small /sys/dev/block: sdz with partitions sdz1, sdz2; dm-3 holds sdz2; sdy apart."""
    block = root / "block"
    for name, number in {
        "sdz": "8:16",
        "sdz1": "8:17",
        "sdz2": "8:18",
        "dm-3": "253:3",
        "sdy": "8:32",
    }.items():
        parent = block / "sdz" if name.startswith("sdz") and name != "sdz" else block
        directory = parent / name
        (directory / "holders").mkdir(parents=True)
        (directory / "dev").write_text(number + "\n")
        if parent != block:
            (directory / "partition").write_text(name[-1] + "\n")
    (block / "sdz" / "sdz2" / "holders" / "dm-3").symlink_to(block / "dm-3")
    dev_block = root / "dev-block"
    dev_block.mkdir()
    for number, target in {
        "8:16": "sdz",
        "8:17": "sdz/sdz1",
        "8:18": "sdz/sdz2",
        "253:3": "dm-3",
        "8:32": "sdy",
    }.items():
        (dev_block / number).symlink_to(block / target)
    return dev_block


def test_partitions_and_holders_are_part_of_the_medium(tmp_path):
    sys_root = make_sysfs(tmp_path)
    assert blockdev.stacked_numbers((8, 16), sys_root=sys_root) == {
        (8, 16),
        (8, 17),
        (8, 18),
        (253, 3),
    }
    assert blockdev.stacked_numbers((8, 32), sys_root=sys_root) == {(8, 32)}


def test_an_unknown_device_number_gives_nothing(tmp_path):
    assert blockdev.stacked_numbers((9, 9), sys_root=make_sysfs(tmp_path)) == frozenset()


def test_free_bytes_and_filesystem_number_of_a_real_directory(tmp_path):
    assert blockdev.free_bytes(tmp_path) > 0
    assert blockdev.filesystem_number(tmp_path) == blockdev.filesystem_number(tmp_path / "..")
