"""The GNU ddrescue mapfile: a pure parser, a writer and the totals a technician reads.

The format (ddrescue manual, chapter "Mapfile structure"): comment lines start with '#'
(a '#' after whitespace also starts a comment), the first non-comment line is the status line
``current_pos current_status [current_pass]``, and every further line is a data block
``pos size status``. Numbers are C++ integer constants (decimal, 0x hexadecimal or 0 octal),
except current_pass which is decimal. Blocks are contiguous and non-overlapping.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterable
from typing import TextIO

from recovery import errors


class MapfileError(errors.RecoveryError):
    """The file is a mapfile but damaged; the message names the line."""

    exit_code = 2


class BlockStatus(enum.StrEnum):
    """The status character of one data block."""

    NON_TRIED = "?"
    NON_TRIMMED = "*"
    NON_SCRAPED = "/"
    BAD_SECTOR = "-"
    FINISHED = "+"


# Status characters of the status line: the phase ddrescue is (or was last) in.
PHASE_NAMES = {
    "?": "copying",
    "*": "trimming",
    "/": "scraping",
    "-": "retrying",
    "F": "filling",
    "G": "generating",
    "+": "finished",
}


@dataclasses.dataclass(frozen=True)
class Block:
    position: int
    size: int
    status: BlockStatus

    @property
    def end(self) -> int:
        return self.position + self.size


@dataclasses.dataclass(frozen=True)
class Totals:
    """Byte counts per block status over the whole mapfile, and the number of bad areas."""

    domain_size: int
    rescued: int
    non_tried: int
    non_trimmed: int
    non_scraped: int
    bad_sector: int
    bad_areas: int

    @property
    def percent_rescued(self) -> float:
        return 100.0 * self.rescued / self.domain_size if self.domain_size else 100.0

    @property
    def finished(self) -> bool:
        """True when nothing is left to copy, trim or scrape (bad sectors may remain)."""
        return self.non_tried == self.non_trimmed == self.non_scraped == 0


@dataclasses.dataclass(frozen=True)
class Mapfile:
    current_position: int
    current_status: str
    current_pass: int | None
    blocks: tuple[Block, ...]
    comments: tuple[str, ...] = ()

    @property
    def phase(self) -> str:
        return PHASE_NAMES[self.current_status]

    def totals(self) -> Totals:
        sizes = {status: 0 for status in BlockStatus}
        for block in self.blocks:
            sizes[block.status] += block.size
        return Totals(
            domain_size=sum(sizes.values()),
            rescued=sizes[BlockStatus.FINISHED],
            non_tried=sizes[BlockStatus.NON_TRIED],
            non_trimmed=sizes[BlockStatus.NON_TRIMMED],
            non_scraped=sizes[BlockStatus.NON_SCRAPED],
            bad_sector=sizes[BlockStatus.BAD_SECTOR],
            bad_areas=len(self.bad_areas()),
        )

    def bad_areas(self) -> tuple[Block, ...]:
        """Return the bad-sector blocks, adjacent ones joined into one area."""
        areas: list[Block] = []
        for block in self.blocks:
            if block.status is not BlockStatus.BAD_SECTOR or block.size == 0:
                continue
            if areas and areas[-1].end == block.position:
                last = areas.pop()
                block = Block(last.position, last.size + block.size, BlockStatus.BAD_SECTOR)
            areas.append(block)
        return tuple(areas)

    def finished_prefix(self) -> int:
        """Return how many bytes from position 0 are finished without a gap (never change again)."""
        end = 0
        for block in self.blocks:
            if block.position != end or block.status is not BlockStatus.FINISHED:
                break
            end = block.end
        return end


_HEX = re.compile(r"0[xX][0-9a-fA-F]+")
_OCTAL = re.compile(r"0[0-7]+")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_HEADER_COMMENTS = ("# current_pos", "#      pos")


def parse_integer(text: str) -> int:
    """Given a C++ integer constant (decimal, 0x hex, 0 octal), return its value; raise
    ValueError."""
    if _HEX.fullmatch(text):
        return int(text, 16)
    if _OCTAL.fullmatch(text):
        return int(text, 8)
    if _DECIMAL.fullmatch(text):
        return int(text, 10)
    raise ValueError(text)


def _strip_comment(line: str) -> str:
    for index, char in enumerate(line):
        if char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index]
    return line


def _status_line(fields: list[str], number: int) -> tuple[int, str, int | None]:
    if len(fields) not in (2, 3) or fields[1] not in PHASE_NAMES:
        raise MapfileError(
            f"mapfile line {number}: expected 'current_pos current_status [current_pass]'"
            f" with a status among {''.join(PHASE_NAMES)}"
        )
    try:
        position = parse_integer(fields[0])
        current_pass = int(fields[2], 10) if len(fields) == 3 else None
    except ValueError:
        raise MapfileError(f"mapfile line {number}: malformed number in the status line") from None
    if current_pass is not None and current_pass < 1:
        raise MapfileError(f"mapfile line {number}: current_pass must be a positive integer")
    return position, fields[1], current_pass


def _block_line(fields: list[str], number: int, expected_position: int | None) -> Block:
    if len(fields) != 3:
        raise MapfileError(
            f"mapfile line {number}: expected 'pos size status', got {len(fields)} fields"
        )
    try:
        status = BlockStatus(fields[2])
    except ValueError:
        raise MapfileError(f"mapfile line {number}: unknown block status {fields[2]!r}") from None
    try:
        block = Block(parse_integer(fields[0]), parse_integer(fields[1]), status)
    except ValueError:
        raise MapfileError(f"mapfile line {number}: malformed number in a block line") from None
    if expected_position is not None and block.position != expected_position:
        raise MapfileError(
            f"mapfile line {number}: block at {block.position:#x} is not contiguous with the"
            f" previous block ending at {expected_position:#x}"
        )
    return block


def parse(stream: TextIO) -> Mapfile:
    """Given a text stream holding a ddrescue mapfile, return it; raise MapfileError when
    damaged."""
    comments: list[str] = []
    status: tuple[int, str, int | None] | None = None
    blocks: list[Block] = []
    for number, raw_line in enumerate(stream, start=1):
        stripped = raw_line.strip()
        if stripped.startswith("#"):
            if not stripped.startswith(_HEADER_COMMENTS):
                comments.append(stripped)
            continue
        fields = _strip_comment(raw_line).split()
        if not fields:
            continue
        if status is None:
            status = _status_line(fields, number)
            continue
        expected = blocks[-1].end if blocks else None
        blocks.append(_block_line(fields, number, expected))
    if status is None:
        raise MapfileError("mapfile: no status line (empty or not a ddrescue mapfile)")
    return Mapfile(*status, blocks=tuple(blocks), comments=tuple(comments))


def format_lines(mapfile: Mapfile) -> Iterable[str]:
    """Given a mapfile, yield its lines in the layout ddrescue writes (without line ends)."""
    yield from (line for line in mapfile.comments if not line.startswith(_HEADER_COMMENTS))
    yield "# current_pos  current_status  current_pass"
    status_fields = [f"0x{mapfile.current_position:08X}", f"    {mapfile.current_status}"]
    if mapfile.current_pass is not None:
        status_fields.append(f"              {mapfile.current_pass}")
    yield "     ".join(status_fields)
    yield "#      pos        size  status"
    for block in mapfile.blocks:
        yield f"0x{block.position:08X}  0x{block.size:08X}  {block.status.value}"


def write(mapfile: Mapfile, stream: TextIO) -> None:
    stream.writelines(line + "\n" for line in format_lines(mapfile))
