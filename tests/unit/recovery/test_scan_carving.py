"""The own carving parts: text files by sector and NUL, the compact work copy and its run map."""

from __future__ import annotations

import pathlib

from hypothesis import given, settings
from hypothesis import strategies as st

from recovery import text_carver, work_copy
from recovery.scan_model import ByteRun

SECTOR = text_carver.SECTOR


def padded(content: bytes) -> bytes:
    return content + b"\0" * (-len(content) % SECTOR or SECTOR)


def test_text_file_from_a_sector_boundary_to_its_first_nul():
    first = b"GNU GENERAL PUBLIC LICENSE\n" * 30
    second = "Grüße aus Köln, tabs\tand CRLF\r\n".encode() * 10
    image = b"\0" * SECTOR + padded(first) + padded(second)
    runs = list(text_carver.text_runs(image, 0, complete_end=True))
    assert runs == [ByteRun(SECTOR, len(first)), ByteRun(SECTOR + len(padded(first)), len(second))]


def test_text_right_after_binary_data_starts_at_the_next_sector():
    binary = bytes(range(1, 256)) * 5  # no NUL, control characters: another file's last block
    text = b"README for the customer\n" * 20
    image = binary[: 2 * SECTOR] + padded(text)
    assert list(text_carver.text_runs(image, 0, complete_end=True)) == [
        ByteRun(2 * SECTOR, len(text))
    ]


def test_latin1_text_is_text_and_mostly_high_bytes_are_not():
    latin1 = "<p>Caf\xe9 and the rest of the page in plain words</p>\n".encode("latin-1") * 20
    binary = bytes(range(128, 256)) * 2
    image = padded(latin1) + padded(binary)
    assert list(text_carver.text_runs(image, 0, complete_end=True)) == [ByteRun(0, len(latin1))]


def test_short_misaligned_and_binary_runs_are_not_text():
    image = b"\0" * 100 + b"x" * 300 + b"\0" * 112 + b"tiny\0" + b"\0" * 507 + b"\x01\x02" * 100
    assert list(text_carver.text_runs(image, 0, complete_end=True)) == []


def test_scan_area_finds_a_text_file_across_chunk_ends():
    text = b"a line of a long log file\n" * 400  # 10 KiB
    image = b"\0" * 4096 + padded(text) + b"\0" * 4096

    def read(offset, length):
        return image[offset : offset + length]

    found = list(text_carver.scan_area(read, ByteRun(0, len(image)), chunk=4096 + 1024))
    assert found == [ByteRun(4096, len(text))]


@given(st.binary(max_size=3000), st.integers(0, 4).map(lambda n: n * SECTOR))
@settings(max_examples=300)
def test_text_runs_fuzz(data, base):
    for run in text_carver.text_runs(data, base, complete_end=True):
        piece = data[run.offset - base : run.end - base]
        assert run.offset % SECTOR == 0 and b"\0" not in piece and len(piece) >= 64
        assert piece.translate(None, text_carver.CONTROL) == piece


def reference_text_runs(data: bytes, base: int) -> list[ByteRun]:
    """The definition, slowly: for every NUL (and the end), the text reaching it from the
    first sector boundary after the last NUL or control character before it."""
    found = []
    for end in [index for index, value in enumerate(data) if value == 0] + [len(data)]:
        start = end
        while start > 0 and data[start - 1] != 0 and data[start - 1] not in text_carver.CONTROL:
            start -= 1
        start += -(base + start) % SECTOR
        if end - start >= text_carver.MIN_LENGTH and text_carver._is_text(data[start:end]):
            found.append(ByteRun(base + start, end - start))
    return found


texty = st.lists(
    st.one_of(
        st.binary(max_size=700),
        st.text(max_size=400).map(str.encode),
        st.integers(0, 3).map(lambda n: b"\0" * n * 200),
        st.sampled_from([b"\x01", b"\0", b"\x7f", b"\x1b"]),
    ),
    max_size=8,
).map(b"".join)


@given(texty, st.integers(0, SECTOR - 1))
@settings(max_examples=300)
def test_text_runs_match_the_definition(data, base):
    found = list(text_carver.text_runs(data, base, complete_end=True))
    assert found == reference_text_runs(data, base)


BLOCK = work_copy.BLOCK


def test_compact_copy_leaves_out_long_zero_stretches_and_maps_runs_back(tmp_path):
    image = bytearray(40 * BLOCK)
    image[BLOCK + 10 : BLOCK + 20] = b"A" * 10  # block 1
    image[3 * BLOCK : 3 * BLOCK + 5] = b"B" * 5  # block 3: one zero block between: kept
    image[30 * BLOCK : 30 * BLOCK + 7] = b"C" * 7  # 26 zero blocks before: left out
    path = tmp_path / "image"
    path.write_bytes(bytes(image))
    copy = tmp_path / "copy"
    slots = work_copy.write(path, copy, (ByteRun(0, len(image)),))
    assert slots == (BLOCK, 2 * BLOCK, 3 * BLOCK, 30 * BLOCK)
    data = copy.read_bytes()
    assert len(data) == 4 * BLOCK and data[10:20] == b"A" * 10 and data[3 * BLOCK] == ord("C")
    assert work_copy.to_image((ByteRun(10, 2 * BLOCK),), slots) == (ByteRun(BLOCK + 10, 2 * BLOCK),)
    assert work_copy.to_image((ByteRun(2 * BLOCK, 2 * BLOCK),), slots) == (
        ByteRun(3 * BLOCK, BLOCK),
        ByteRun(30 * BLOCK, BLOCK),
    )
    assert work_copy.to_image((ByteRun(5, 6),), None) == (ByteRun(5, 6),)


def test_compact_copy_holds_only_the_areas(tmp_path):
    path = tmp_path / "image"
    path.write_bytes(b"X" * (3 * BLOCK))
    copy = tmp_path / "copy"
    slots = work_copy.write(path, copy, (ByteRun(BLOCK + 100, 50),))
    data = copy.read_bytes()
    assert slots == (BLOCK,) and data[100:150] == b"X" * 50 and data.count(b"X") == 50
    assert pathlib.Path(copy).stat().st_mode & 0o777 == 0o600


def test_a_zero_piece_of_a_kept_block_does_not_break_a_short_zero_stretch(tmp_path):
    image = bytearray(8 * BLOCK)
    image[BLOCK : BLOCK + 4] = b"head"
    image[4 * BLOCK : 4 * BLOCK + 4] = b"tail"
    path = tmp_path / "image"
    path.write_bytes(bytes(image))
    areas = (ByteRun(BLOCK, 100), ByteRun(BLOCK + 200, 5 * BLOCK))  # the second starts in block 1
    slots = work_copy.write(path, tmp_path / "copy", areas)
    assert slots == (BLOCK, 2 * BLOCK, 3 * BLOCK, 4 * BLOCK)


@given(
    st.lists(
        st.tuples(st.integers(0, 60 * BLOCK - 16), st.binary(min_size=1, max_size=16)), max_size=6
    ),
    st.lists(
        st.tuples(st.integers(0, 60 * BLOCK), st.integers(1, 20 * BLOCK)), min_size=1, max_size=3
    ),
)
@settings(max_examples=25, deadline=None)
def test_a_sparse_image_gives_the_same_copy_as_a_written_one(tmp_path_factory, pieces, areas):
    folder = tmp_path_factory.mktemp("sparse")
    size = 64 * BLOCK
    written = bytearray(size)
    sparse = folder / "sparse"
    with open(sparse, "wb") as stream:  # holes wherever nothing is written
        stream.truncate(size)
        for offset, data in pieces:
            written[offset : offset + len(data)] = data
            stream.seek(offset)
            stream.write(data)
    dense = folder / "dense"
    dense.write_bytes(bytes(written))
    runs = tuple(
        ByteRun(offset, min(length, size - offset))
        for offset, length in sorted(areas)
        if offset < size
    )
    runs = tuple(
        run for index, run in enumerate(runs) if index == 0 or run.offset >= runs[index - 1].end
    )
    with open(sparse, "rb") as stream:
        assert work_copy.data_blocks(stream.fileno(), size) is not None
    slots = work_copy.write(sparse, folder / "copy-sparse", runs)
    assert slots == work_copy.write(dense, folder / "copy-dense", runs)
    assert (folder / "copy-sparse").read_bytes() == (folder / "copy-dense").read_bytes()


def test_a_photorec_text_starting_in_a_text_file_found_here_is_not_even_read():
    from recovery import carving, photorec

    text_runs = (ByteRun(4096, 1000),)
    inside = photorec.CarvedObject("carved.1/f8.txt", 4000, (ByteRun(4096 + 512, 4000),))
    before = photorec.CarvedObject("carved.1/f7.txt", 4000, (ByteRun(3584, 4000),))
    formatted = photorec.CarvedObject("carved.1/f8.png", 4000, (ByteRun(4096 + 512, 4000),))
    assert carving._starts_in(inside, text_runs, None)
    # its start lies before the text: cut to length it may end before the text, and be kept
    assert not carving._starts_in(before, text_runs, None)
    assert not carving._starts_in(formatted, text_runs, None)
    # on the work copy, runs are mapped to the image first: copy block 0 is image block 0 or 1
    assert carving._starts_in(inside, text_runs, (0,))
    assert not carving._starts_in(inside, text_runs, (work_copy.BLOCK,))
