"""The SIMH .tap reader and writer: layouts by table, round trips and a fuzz run by property."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery import simh_tap
from recovery.simh_tap import EndOfMedium, Record, TapeMark


def encode(entries) -> bytes:
    stream = io.BytesIO()
    writer = simh_tap.Writer(stream)
    for entry in entries:
        writer.write(entry)
    assert writer.bytes_written == len(stream.getvalue())
    return stream.getvalue()


def decode(data: bytes, **options) -> list:
    return list(simh_tap.read(io.BytesIO(data), **options))


def word(value: int) -> bytes:
    return struct.pack("<I", value)


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([Record(b"ab")], word(2) + b"ab" + word(2)),
        ([Record(b"abc")], word(3) + b"abc\0" + word(3)),  # odd length: one byte of padding
        ([TapeMark()], word(0)),
        ([EndOfMedium()], b"\xff\xff\xff\xff"),
        ([Record(b"", error=True)], word(0x80000000) * 2),
        ([Record(b"x", error=True)], word(0x80000001) + b"x\0" + word(0x80000001)),
    ],
)
def test_layout_of_each_entry(entries, expected):
    assert encode(entries) == expected
    assert decode(expected) == entries


def test_erase_gaps_are_skipped_and_not_counted():
    data = word(0xFFFFFFFE) + word(1) + b"a\0" + word(1) + word(0xFFFFFFFE) + word(0)
    assert decode(data) == [Record(b"a"), TapeMark()]


def test_nothing_after_end_of_medium_is_read():
    assert decode(word(0xFFFFFFFF) + b"garbage") == [EndOfMedium()]


@pytest.mark.parametrize(
    ("data", "message", "record", "offset"),
    [
        (word(0) + b"\x01\x00", "truncated record length", 2, 4),
        (word(0) + word(4) + b"ab", "truncated record: 2 of 4 bytes", 2, 4),
        (word(2) + b"ab" + word(3), "trailing length 0x00000003 differs", 1, 0),
        (word(2) + b"ab", "trailing length missing", 1, 0),
        (word(2) + b"ab" + word(2) + word(0x7000_0001), "unknown record class", 2, 10),
        (word(2) + b"ab" + word(2) + word(0) + word(0x0100_0000), "unknown record class", 3, 14),
    ],
)
def test_malformed_file_names_record_number_and_offset(data, message, record, offset):
    with pytest.raises(simh_tap.TapFormatError) as caught:
        decode(data)
    assert message in str(caught.value)
    assert (caught.value.record, caught.value.offset) == (record, offset)
    assert f"record {record}, byte offset {offset}" in str(caught.value)


def test_a_record_over_the_bound_is_refused_before_its_data_is_read():
    class Counting(io.BytesIO):
        largest = 0

        def read(self, size=-1):
            Counting.largest = max(Counting.largest, size)
            return super().read(size)

    stream = Counting(word(4096) + b"\0" * 4096 + word(4096))
    with pytest.raises(simh_tap.TapFormatError, match="record too large"):
        list(simh_tap.read(stream, max_record=1024))
    assert Counting.largest <= 4


def test_the_writer_refuses_a_record_a_tap_cannot_hold():
    with pytest.raises(ValueError, match="at most"):
        simh_tap.Writer(io.BytesIO()).record(b"\0" * (simh_tap.MAX_RECORD + 1))
    with pytest.raises(ValueError, match="tape mark"):
        simh_tap.Writer(io.BytesIO()).record(b"")


entries_strategy = st.lists(
    st.one_of(
        st.builds(Record, st.binary(min_size=1, max_size=300), st.booleans()),
        st.just(Record(b"", error=True)),
        st.just(TapeMark()),
    ),
    max_size=30,
).map(lambda items: items + [EndOfMedium()])


@given(entries_strategy)
def test_round_trip(entries):
    data = encode(entries)
    assert decode(data) == entries
    assert len(data) == sum(simh_tap.encoded_size(entry) for entry in entries)


@given(entries_strategy, st.data())
def test_every_truncation_is_an_entry_boundary_or_a_format_error(entries, data):
    image = encode(entries)
    cut = data.draw(st.integers(min_value=0, max_value=len(image)))
    try:
        decoded = decode(image[:cut])
    except simh_tap.TapFormatError as error:
        assert 0 <= error.offset < cut
        return
    assert decoded == entries[: len(decoded)]


@settings(max_examples=400)
@given(st.one_of(st.binary(max_size=200), entries_strategy.map(encode)), st.data())
def test_fuzz_reader_yields_entries_or_raises_format_error_only(image, data):
    """A short fuzz run: random bytes and valid images with flipped bytes."""
    mutated = bytearray(image)
    for _ in range(data.draw(st.integers(min_value=0, max_value=4))):
        if mutated:
            position = data.draw(st.integers(min_value=0, max_value=len(mutated) - 1))
            mutated[position] = data.draw(st.integers(min_value=0, max_value=255))
    try:
        for entry in decode(bytes(mutated), max_record=4096):
            assert isinstance(entry, Record | TapeMark | EndOfMedium)
            if isinstance(entry, Record):
                assert len(entry.data) <= 4096
    except simh_tap.TapFormatError as error:
        assert error.record >= 1 and 0 <= error.offset <= len(mutated)
