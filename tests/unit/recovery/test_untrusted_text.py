"""Untrusted text is shown on one line with control characters escaped; udev serials bounded."""

from __future__ import annotations

import unicodedata

import hypothesis
import hypothesis.strategies as st
import pytest

from backupctl.cli.media_commands import device_line
from backupctl.cli.text import shown
from recovery import devices


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ACME B.V.", "ACME B.V."),
        ("Müller GmbH", "Müller GmbH"),
        ("a\nchain verifies", "a\\nchain verifies"),
        ("\x1b[2Kclear", "\\x1b[2Kclear"),
        ("right\u202eleft", "right\\u202eleft"),
        ("line\u2028sep", "line\\u2028sep"),
        ("back\\nslash", "back\\\\nslash"),
        (None, "-"),
        ("", "-"),
    ],
)
def test_shown_escapes_control_characters(value, expected):
    assert shown(value) == expected


@hypothesis.given(st.text())
def test_shown_is_always_one_line_without_control_or_format_characters(value):
    hidden = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
    assert not any(unicodedata.category(character) in hidden for character in shown(value))


@pytest.mark.parametrize(
    ("value", "serial", "expected"),
    [
        ("60A44C413E6BF0B0B9590012", True, "60A44C413E6BF0B0B9590012"),
        ("AB 12\n", True, "AB\\x2012\\x0a"),
        ("x" * 300, True, "x" * 128),
        ("Data Traveler 3.0", False, "Data Traveler 3.0"),
        ("m" * 300, False, "m" * 128),
        (None, True, None),
    ],
)
def test_identity_text_bounds_udev_values(value, serial, expected):
    assert devices.identity_text(value, serial=serial) == expected


def test_media_list_line_escapes_what_the_device_says_about_itself():
    device = devices.BlockDevice(
        node="/dev/sdz",
        kind="usb-stick",
        bus="usb",
        vendor="Evil\x1b]0;owned\x07",
        model="Stick\nchain    verifies: forged",
        serial="AB\\x0a",
        size_bytes=1024,
        logical_sector_size=512,
        physical_sector_size=512,
        removable=True,
        read_only=False,
        filesystem=None,
        mountpoints=("/media/a\nb",),
        partitions=(),
        is_system=True,
        system_reasons=("device /dev/sdz mounted at /media/a\nb",),
    )
    line = device_line(device)
    assert "\n" not in line and "\x1b" not in line and "\x07" not in line
    assert "Stick\\nchain    verifies: forged" in line and "Evil\\x1b]0;owned\\x07" in line
