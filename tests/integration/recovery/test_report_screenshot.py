"""The report as a browser shows it: headless Chromium renders the file `job report` wrote, and
the screenshot must show the sector map (every ddrescue state in its colour, to scale) above the
recovered-files table. The same checks run on a report with no map and no table and must not
find them there, so they cannot pass on a page that lacks either."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess

import pytest

from recovery import sector_map
from recovery.jobs import JobStore
from recovery.mapfile import BlockStatus
from tests.fixtures import png, repair_job
from tests.fixtures.requirements import skip_or_fail
from tests.integration.recovery.test_jobs_cli import run_cli

WIDTH, HEIGHT = 1000, 2600
TABLE_HEADER = (0xC9, 0xDC, 0xF0)  # table.file-summary th in recovery/report_html.py
CELL_PIXELS = 10 * 10  # a grid cell is 11 px with a 1 px gap
SWATCH_PIXELS = 12 * 12  # the legend's square of each colour


BAND = 40  # a row with this many pixels of a colour is part of a drawn area, not text


@dataclasses.dataclass(frozen=True)
class Found:
    """Pixels of one colour: how many, and the rows and columns of the rows holding a band of
    them (anti-aliased text has a few pixels of many colours, never a band)."""

    count: int
    top: int
    bottom: int
    left: int
    right: int


@pytest.fixture(scope="module")
def chromium():
    binary = shutil.which("chromium")
    if binary is None:
        skip_or_fail("chromium is not installed (Debian package chromium, scripts/setup.sh)")
    return binary


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[index : index + 2], 16) for index in (1, 3, 5))


def find(rows: list[bytes], rgb: tuple[int, int, int]) -> Found:
    """Return how many pixels have exactly this colour, and the box of its bands."""
    pattern, count, box = bytes(rgb), 0, [len(rows), -1, 10**9, -1]
    for y, row in enumerate(rows):
        columns, position = [], row.find(pattern)
        while position != -1:
            if position % 3 == 0:
                columns.append(position // 3)
                position = row.find(pattern, position + 3)
            else:
                position = row.find(pattern, position + 1)
        count += len(columns)
        if len(columns) >= BAND:
            box = [
                min(box[0], y),
                max(box[1], y),
                min(box[2], columns[0]),
                max(box[3], columns[-1]),
            ]
    return Found(count, *box)


def screenshot(chromium: str, page, tmp_path) -> list[bytes]:
    shot = tmp_path / f"{page.stem}.png"
    result = subprocess.run(
        (
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--force-color-profile=srgb",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            f"--window-size={WIDTH},{HEIGHT}",
            f"--screenshot={shot}",
            page.as_uri(),
        ),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    width, height, rows = png.read_rgb(shot.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    return rows


def map_and_table(rows: list[bytes]) -> tuple[dict[BlockStatus, Found], Found]:
    colours = {status: find(rows, _rgb(colour)) for status, colour in sector_map.COLOURS.items()}
    return colours, find(rows, TABLE_HEADER)


def write_report(tmp_path, job_id: str, name: str):
    target = tmp_path / name
    result = run_cli(tmp_path, "job", "report", job_id, "--to", str(target))
    assert result.returncode == 0, result.stderr
    return target


def map_problems(colours: dict[BlockStatus, Found]) -> list[str]:
    """Return why the screenshot does not show the sector map of the fixture's mapfile."""
    problems = [
        f"{status.name}: {found.count} pixels, no band"
        for status, found in colours.items()
        if found.count < 10 * CELL_PIXELS or found.bottom < 0  # a legend swatch alone: no map
    ]
    if problems:
        return problems
    # To scale: 48 MiB untried against 2 MiB bad (24:1), grid and bar alike.
    ratio = colours[BlockStatus.NON_TRIED].count / colours[BlockStatus.BAD_SECTOR].count
    grid = colours[BlockStatus.FINISHED]
    if not 15 < ratio < 30:
        problems.append(f"untried:bad pixels {ratio:.1f}, not about 24")
    if grid.right - grid.left < 600 or grid.bottom - grid.top < 150:
        problems.append(f"the map is too small: {grid}")
    return problems


def table_problems(table: Found, colours: dict[BlockStatus, Found]) -> list[str]:
    """Return why the screenshot does not show the file table (a header band below the map)."""
    if table.count < 300 * 12 or table.right - table.left < 300 or table.bottom - table.top < 12:
        return [f"no table header band: {table}"]
    if table.top <= colours[BlockStatus.NON_TRIED].bottom:
        return ["the file table is not below the sector map"]
    return []


def test_screenshot_shows_the_sector_map_and_the_file_table(chromium, tmp_path):
    store = JobStore(tmp_path / "state.db", tmp_path / "jobs")
    imaged = repair_job.imaged_and_scanned(store, tmp_path)
    bare = repair_job.open_job(store, customer="no image yet")
    full = screenshot(chromium, write_report(tmp_path, imaged.job.job_id, "full.html"), tmp_path)
    colours, table = map_and_table(full)
    assert map_problems(colours) == []
    assert table_problems(table, colours) == []
    # The same checks fail on a report that has no map and no file table.
    empty = screenshot(chromium, write_report(tmp_path, bare.job_id, "bare.html"), tmp_path)
    colours, table = map_and_table(empty)
    assert map_problems(colours) and table_problems(table, colours)
