"""Reading a tape into a .tap, against the emulator of the st driver's semantics."""

from __future__ import annotations

import hashlib
import io

import pytest

from recovery import simh_tap, st_driver, tape_read
from recovery.simh_tap import EndOfMedium, Record, TapeMark
from tests.fixtures.tape_emulator import FILEMARK, TapeEmulator, tap_bytes


def read_all(emulator, *, retries=2, skip_files=0):
    stream = io.BytesIO()
    tape_read.prepare(emulator, skip_files=skip_files)
    result = tape_read.read_tape(
        emulator, simh_tap.Writer(stream), retries=retries, first_file=skip_files
    )
    return result, list(simh_tap.read(io.BytesIO(stream.getvalue())))


def test_records_and_filemarks_are_kept_until_two_filemarks():
    emulator = TapeEmulator([b"a" * 10, b"bb", FILEMARK, b"c" * 7, FILEMARK, FILEMARK, b"after"])
    result, entries = read_all(emulator)
    assert entries == [
        Record(b"a" * 10),
        Record(b"bb"),
        TapeMark(),
        Record(b"c" * 7),
        TapeMark(),
        TapeMark(),
        EndOfMedium(),
    ]
    assert result.end == tape_read.END_TWO_FILEMARKS
    first, second = result.files
    assert (first.records, first.bytes, first.smallest, first.largest) == (2, 12, 2, 10)
    assert first.sha256 == hashlib.sha256(b"a" * 10 + b"bb").hexdigest()
    assert second.common_sizes == ((7, 1),) and second.complete
    assert emulator.operations[:2] == [(st_driver.MTREW, 1), (st_driver.MTSETBLK, 0)]


def test_end_of_data_reported_by_the_drive_ends_the_read():
    result, entries = read_all(TapeEmulator([b"a", FILEMARK, b"b"]))
    assert entries == [Record(b"a"), TapeMark(), Record(b"b"), EndOfMedium()]
    assert result.end == tape_read.END_OF_DATA
    assert [file.complete for file in result.files] == [True, False]


def test_a_record_that_fails_once_is_read_on_retry_after_backspacing():
    emulator = TapeEmulator([b"a", b"b", b"c", FILEMARK, FILEMARK], bad={1: 1})
    result, entries = read_all(emulator, retries=2)
    assert entries == [
        Record(b"a"),
        Record(b"b"),
        Record(b"c"),
        TapeMark(),
        TapeMark(),
        EndOfMedium(),
    ]
    assert result.bad_records == ()
    assert (st_driver.MTBSR, 1) in emulator.operations


def test_a_record_that_always_fails_is_written_as_an_error_record_and_skipped():
    emulator = TapeEmulator([b"a", b"b", b"c", FILEMARK, b"d", FILEMARK, FILEMARK], bad={1: 99})
    result, entries = read_all(emulator, retries=3)
    assert entries == [
        Record(b"a"),
        Record(b"", error=True),
        Record(b"c"),
        TapeMark(),
        Record(b"d"),
        TapeMark(),
        TapeMark(),
        EndOfMedium(),
    ]
    (bad,) = result.bad_records
    assert (bad.file_number, bad.record_number, bad.attempts) == (0, 1, 4)
    assert result.files[0].error_records == 1 and result.files[0].records == 3


def test_no_retries_means_one_attempt():
    emulator = TapeEmulator([b"a", b"b", FILEMARK, FILEMARK], bad={0: 99})
    result, _ = read_all(emulator, retries=0)
    assert result.bad_records[0].attempts == 1
    assert (st_driver.MTBSR, 1) not in emulator.operations


def test_a_record_larger_than_the_first_buffer_is_read_whole():
    big = bytes(range(256)) * 2048  # 512 KiB
    result, entries = read_all(TapeEmulator([big, FILEMARK, FILEMARK]))
    assert entries[0] == Record(big)
    assert result.largest_buffer >= len(big)


def test_resume_spaces_over_complete_files():
    emulator = TapeEmulator.from_tap(tap_bytes([[b"one"], [b"two"], [b"three"]]))
    result, entries = read_all(emulator, skip_files=2)
    assert entries == [Record(b"three"), TapeMark(), TapeMark(), EndOfMedium()]
    assert [file.number for file in result.files] == [2]
    assert (st_driver.MTFSF, 2) in emulator.operations


def test_resume_right_before_the_second_filemark_ends_at_once():
    emulator = TapeEmulator.from_tap(tap_bytes([[b"one"]]))
    result, entries = read_all(emulator, skip_files=1)
    assert entries == [TapeMark(), EndOfMedium()] and result.end == tape_read.END_TWO_FILEMARKS


def test_a_drive_that_cannot_space_cannot_resume():
    emulator = TapeEmulator.from_tap(tap_bytes([[b"one"], [b"two"]]), can_position=False)
    with pytest.raises(tape_read.TapeReadError, match="space forward over 1 filemarks"):
        tape_read.prepare(emulator, skip_files=1)


def test_no_tape_in_the_drive_is_told():
    with pytest.raises(tape_read.TapeReadError, match="no tape"):
        tape_read.prepare(TapeEmulator([], loaded=False), skip_files=0)


def test_a_bad_record_the_drive_cannot_space_over_stops_the_read():
    class Stuck(TapeEmulator):
        def read_record(self, size):
            if self.position == 1:
                self.reads += 1
                raise OSError(5, "medium error")  # and the tape does not move
            return super().read_record(size)

    emulator = Stuck([b"a", b"b", FILEMARK, FILEMARK], can_position=False)
    emulator.block_size = 0
    stream = io.BytesIO()
    result = tape_read.read_tape(emulator, simh_tap.Writer(stream), retries=1)
    assert result.end == tape_read.END_UNSKIPPABLE
    assert list(simh_tap.read(io.BytesIO(stream.getvalue())))[-2:] == [
        Record(b"", error=True),
        EndOfMedium(),
    ]


def test_a_retry_that_meets_a_filemark_keeps_the_lost_record_and_the_filemark():
    class Slipping(TapeEmulator):
        """Says it is still before the failed record, but the retry reads the filemark."""

        def status(self):
            status = super().status()
            if self.position == 2:  # past the bad record, before the filemark
                return st_driver.DriveStatus(
                    **{**status.to_dict(), "block_number": 1, "flags": status.flags}
                )
            return status

    emulator = Slipping([b"a", b"b", FILEMARK, b"c", FILEMARK, FILEMARK], bad={1: 1})
    result, entries = read_all(emulator, retries=2)
    assert entries == [
        Record(b"a"),
        Record(b"", error=True),
        TapeMark(),
        Record(b"c"),
        TapeMark(),
        TapeMark(),
        EndOfMedium(),
    ]
    assert [(bad.file_number, bad.record_number) for bad in result.bad_records] == [(0, 1)]
