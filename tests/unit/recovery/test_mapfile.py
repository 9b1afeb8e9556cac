"""The ddrescue mapfile parser: tables of real and damaged mapfiles, and properties for all
inputs."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recovery import mapfile

# Written by GNU ddrescue 1.27 (the example of the manual, chapter "Mapfile structure").
MANUAL_EXAMPLE = """\
# Mapfile. Created by GNU ddrescue version 1.27
# Command line: ddrescue -d -c18 /dev/fd0 fdimage mapfile
# Start time:   2015-07-21 09:37:44
# Current time: 2015-07-21 09:38:19
# Copying non-tried blocks... Pass 1 (forwards)
# current_pos  current_status  current_pass
0x00120000     ?               1
#      pos        size  status
0x00000000  0x00117000  +
0x00117000  0x00000200  -
0x00117200  0x00001000  /
0x00118200  0x00007E00  *
0x00120000  0x00048000  ?
"""


def parse_text(text: str) -> mapfile.Mapfile:
    return mapfile.parse(io.StringIO(text))


def test_manual_example_gives_status_line_blocks_and_totals():
    parsed = parse_text(MANUAL_EXAMPLE)
    assert (parsed.current_position, parsed.current_status, parsed.current_pass) == (
        0x120000,
        "?",
        1,
    )
    assert parsed.phase == "copying"
    assert [block.status for block in parsed.blocks] == list("+-/*?")
    totals = parsed.totals()
    assert totals.rescued == 0x117000
    assert totals.bad_sector == 0x200
    assert totals.non_scraped == 0x1000
    assert totals.non_trimmed == 0x7E00
    assert totals.non_tried == 0x48000
    assert totals.domain_size == 0x168000
    assert totals.bad_areas == 1
    assert not totals.finished
    assert parsed.bad_areas() == (mapfile.Block(0x117000, 0x200, mapfile.BlockStatus.BAD_SECTOR),)
    assert parsed.finished_prefix() == 0x117000
    assert parsed.comments[0].startswith("# Mapfile. Created by GNU ddrescue")


@pytest.mark.parametrize(
    ("text", "expected_pass", "expected_blocks"),
    [
        ("0 + \n0 1024 +\n", None, [(0, 1024, "+")]),  # pre-1.20 status line without a pass
        ("0x10 - 3\n0 16 +\n16 0x10 -\n", 3, [(0, 16, "+"), (16, 16, "-")]),
        ("010 / 2\n0 010 +\n010 8 /\n", 2, [(0, 8, "+"), (8, 8, "/")]),  # octal like C++
        ("  0 F 1   # filling\n\n0 512 + # trailing comment\n", 1, [(0, 512, "+")]),
        ("0 G 1\n0 0X200 ?\n", 1, [(0, 512, "?")]),
    ],
)
def test_number_bases_comments_and_optional_pass(text, expected_pass, expected_blocks):
    parsed = parse_text(text)
    assert parsed.current_pass == expected_pass
    assert [(b.position, b.size, b.status.value) for b in parsed.blocks] == expected_blocks


def test_adjacent_bad_blocks_form_one_area_and_separate_ones_count_apart():
    parsed = parse_text("0 - 1\n0 512 -\n512 512 -\n1024 512 +\n1536 512 -\n")
    assert parsed.bad_areas() == (
        mapfile.Block(0, 1024, mapfile.BlockStatus.BAD_SECTOR),
        mapfile.Block(1536, 512, mapfile.BlockStatus.BAD_SECTOR),
    )
    assert parsed.totals().bad_areas == 2
    assert parsed.finished_prefix() == 0


def test_finished_run_reports_finished_and_full_prefix():
    parsed = parse_text("0x7F0000 + 1\n0x00000000  0x00800000  +\n")
    totals = parsed.totals()
    assert totals.finished and totals.percent_rescued == 100.0
    assert parsed.finished_prefix() == 0x800000


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", None, "no status line"),
        ("# only comments\n", None, "no status line"),
        ("0 X 1\n", 1, "current_status"),
        ("zero ? 1\n", 1, "malformed number"),
        ("0 ? 0\n", 1, "positive"),
        ("0 ? 0x1\n", 1, "malformed number"),
        ("0 ? 1\n0 512\n", 2, "expected 'pos size status'"),
        ("0 ? 1\n0 512 ?\n512 512 X\n", 3, "unknown block status"),
        ("0 ? 1\n0 512 ?\n1024 512 +\n", 3, "not contiguous"),
        ("0 ? 1\n0 512 ?\n256 512 +\n", 3, "not contiguous"),
        ("0 ? 1\n0 09 ?\n", 2, "malformed number"),
        ("0 ? 1\n0 -5 ?\n", 2, "malformed number"),
        ("# c\n0 ? 1\n0 0x1_0 ?\n", 3, "malformed number"),
    ],
)
def test_damaged_mapfile_names_the_line(text, line, words):
    with pytest.raises(mapfile.MapfileError) as caught:
        parse_text(text)
    message = str(caught.value)
    assert words in message
    if line is not None:
        assert f"line {line}:" in message
    assert caught.value.exit_code == 2


statuses = st.sampled_from(list(mapfile.BlockStatus))
block_specs = st.lists(st.tuples(st.integers(min_value=1, max_value=2**40), statuses), max_size=40)


def build(specs, start: int, phase: str, current_pass: int | None) -> mapfile.Mapfile:
    blocks, position = [], start
    for size, status in specs:
        blocks.append(mapfile.Block(position, size, status))
        position += size
    return mapfile.Mapfile(start, phase, current_pass, tuple(blocks), ("# Mapfile. test",))


@given(
    specs=block_specs,
    start=st.integers(min_value=0, max_value=2**40),
    phase=st.sampled_from(sorted(mapfile.PHASE_NAMES)),
    current_pass=st.none() | st.integers(min_value=1, max_value=9),
)
def test_write_then_parse_gives_the_same_mapfile(specs, start, phase, current_pass):
    original = build(specs, start, phase, current_pass)
    buffer = io.StringIO()
    mapfile.write(original, buffer)
    buffer.seek(0)
    assert mapfile.parse(buffer) == original


@given(specs=block_specs)
def test_totals_add_up_to_the_domain_size(specs):
    parsed = build(specs, 0, "?", 1)
    totals = parsed.totals()
    parts = (
        totals.rescued
        + totals.non_tried
        + totals.non_trimmed
        + totals.non_scraped
        + totals.bad_sector
    )
    assert parts == totals.domain_size == sum(size for size, _ in specs)
    assert sum(area.size for area in parsed.bad_areas()) == totals.bad_sector
    assert 0 <= parsed.finished_prefix() <= totals.rescued


@given(text=st.text(alphabet="0123456789abcdefx?*/-+FG# \n\t", max_size=200))
def test_any_text_parses_or_fails_with_a_mapfile_error(text):
    try:
        parsed = mapfile.parse(io.StringIO(text))
    except mapfile.MapfileError as error:
        assert "mapfile" in str(error)
    else:
        assert parsed.totals().domain_size >= 0
