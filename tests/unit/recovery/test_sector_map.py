"""The sector map is to scale and never hides a bad sector, however small."""

from __future__ import annotations

import hypothesis
import hypothesis.strategies as st

from recovery import sector_map
from recovery.mapfile import Block, BlockStatus, Mapfile

MIB = 1 << 20


def _mapfile(*spans: tuple[int, BlockStatus]) -> Mapfile:
    blocks, position = [], 0
    for size, status in spans:
        blocks.append(Block(position, size, status))
        position += size
    return Mapfile(0, "+", None, tuple(blocks))


def test_cells_take_the_worst_status_inside_them():
    mapfile = _mapfile(
        (4 * MIB - 512, BlockStatus.FINISHED),
        (512, BlockStatus.BAD_SECTOR),
        (4 * MIB, BlockStatus.NON_TRIED),
    )
    assert sector_map.cells(mapfile, 2) == (BlockStatus.BAD_SECTOR, BlockStatus.NON_TRIED)
    assert sector_map.cells(mapfile, 4) == (
        BlockStatus.FINISHED,
        BlockStatus.BAD_SECTOR,
        BlockStatus.NON_TRIED,
        BlockStatus.NON_TRIED,
    )


def test_bar_is_to_scale():
    mapfile = _mapfile((75 * MIB, BlockStatus.FINISHED), (25 * MIB, BlockStatus.NON_TRIED))
    assert sector_map.runs(mapfile, 400) == (
        sector_map.Run(0, 300, BlockStatus.FINISHED),
        sector_map.Run(300, 100, BlockStatus.NON_TRIED),
    )


def test_one_bad_sector_on_a_large_medium_is_still_drawn():
    mapfile = _mapfile(
        (1000 * MIB + 4096, BlockStatus.FINISHED),
        (512, BlockStatus.BAD_SECTOR),
        (1000 * MIB, BlockStatus.FINISHED),
    )
    bad = [run for run in sector_map.runs(mapfile, 700) if run.status is BlockStatus.BAD_SECTOR]
    assert len(bad) == 1 and bad[0].width == 1
    assert sector_map.cells(mapfile, 1024).count(BlockStatus.BAD_SECTOR) == 1


def test_a_bad_sector_at_the_very_end_takes_the_last_pixel():
    mapfile = _mapfile((1000 * MIB, BlockStatus.FINISHED), (512, BlockStatus.BAD_SECTOR))
    assert sector_map.runs(mapfile, 100)[-1] == sector_map.Run(99, 1, BlockStatus.BAD_SECTOR)


def test_svg_holds_only_numbers_and_the_fixed_colours():
    mapfile = _mapfile((MIB, BlockStatus.FINISHED), (MIB, BlockStatus.BAD_SECTOR))
    text = sector_map.svg(mapfile)
    assert text.startswith("<svg") and text.endswith("</svg>")
    assert sector_map.COLOURS[BlockStatus.BAD_SECTOR] in text
    assert "href" not in text and "<script" not in text


def test_empty_mapfile_draws_an_empty_map():
    assert sector_map.runs(Mapfile(0, "?", None, ()), 100) == ()
    assert set(sector_map.cells(Mapfile(0, "?", None, ()), 8)) == {None}


_STATUS = st.sampled_from(list(BlockStatus))


@hypothesis.given(st.lists(st.tuples(st.integers(1, 10**12), _STATUS), min_size=1, max_size=40))
def test_every_status_present_shows_in_cells_and_runs_stay_inside_the_bar(spans):
    mapfile = _mapfile(*spans)
    runs = sector_map.runs(mapfile, 500)
    for left, right in zip(runs, runs[1:], strict=False):
        assert left.x + left.width <= right.x
    assert all(run.x >= 0 and run.x + run.width <= 500 and run.width >= 1 for run in runs)
    cells = sector_map.cells(mapfile, 64)
    assert None not in cells
    if any(status is BlockStatus.BAD_SECTOR for _, status in spans):
        assert BlockStatus.BAD_SECTOR in cells
    assert runs and runs[0].x == 0
