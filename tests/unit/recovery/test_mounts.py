"""Parsers of /proc/self/mountinfo and /proc/swaps, fed from strings."""

from __future__ import annotations

import io

from recovery import mounts

MOUNTINFO = """\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
23 22 0:5 / /dev rw - devtmpfs devtmpfs rw
42 22 259:0 / /media/my\\040stick rw,relatime shared:7 - vfat /dev/sdb1 rw
43 22 0:45 / /srv/btrfs rw - btrfs /dev/sdc2 rw
garbage line
"""


def test_parse_mountinfo_reads_numbers_points_and_sources():
    parsed = mounts.parse_mountinfo(io.StringIO(MOUNTINFO))
    assert parsed[0] == mounts.Mount(254, 0, "/", "ext4", "/dev/vda")
    assert parsed[2] == mounts.Mount(259, 0, "/media/my stick", "vfat", "/dev/sdb1")
    assert parsed[3].source == "/dev/sdc2" and parsed[3].major == 0
    assert len(parsed) == 4


def test_parse_swaps_skips_header():
    text = (
        "Filename\tType\tSize\tUsed\tPriority\n"
        "/dev/sda2 partition 1024 0 -2\n"
        "/swapfile file 10 0 -3\n"
    )
    assert mounts.parse_swaps(io.StringIO(text)) == ("/dev/sda2", "/swapfile")


def test_parse_swaps_empty():
    assert mounts.parse_swaps(io.StringIO("Filename\tType\tSize\tUsed\tPriority\n")) == ()


def test_mount_containing_picks_longest_prefix():
    table = mounts.parse_mountinfo(io.StringIO(MOUNTINFO))
    assert mounts.mount_containing("/srv/btrfs/state/db", table).source == "/dev/sdc2"
    assert mounts.mount_containing("/srv/btrfsx", table).source == "/dev/vda"
    assert mounts.mount_containing("/media/my stick", table).source == "/dev/sdb1"
