"""The structure of a DataMatrix ECC 200 symbol: sizes, regions, module placement, codewords.

Everything here follows ISO/IEC 16022:2006 (square and rectangular symbols, Table 7; module
placement, Annex F; data encodation, 5.2) and ISO/IEC 21471:2020 for the rectangular
extension (DMRE). It is what the grader's reference decode needs: which module carries which
bit of which codeword, which modules form the fixed pattern, how codewords are split into
Reed-Solomon blocks, and what the data codewords say.

Coordinates are ``(row, column)`` of the symbol, row 0 at the top, column 0 at the left (the
solid "L" runs down column 0 and along the last row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from edge.vision.errors import VisionError
from edge.vision.grading.reedsolomon import BlockDecode, decode_block

GS = "\x1d"


@dataclass(frozen=True)
class SymbolSize:
    """One ECC 200 symbol size: modules, data regions, codewords and Reed-Solomon blocks.

    ``blocks`` lists ``(count, data codewords per block)``; every block has
    ``ec_per_block`` error correction codewords.
    """

    rows: int
    columns: int
    region_rows: int
    region_columns: int
    ec_per_block: int
    blocks: tuple[tuple[int, int], ...]
    dmre: bool = False

    @property
    def name(self) -> str:
        return f"{self.rows}x{self.columns}"

    @property
    def regions_vertical(self) -> int:
        return self.rows // (self.region_rows + 2)

    @property
    def regions_horizontal(self) -> int:
        return self.columns // (self.region_columns + 2)

    @property
    def mapping_rows(self) -> int:
        return self.regions_vertical * self.region_rows

    @property
    def mapping_columns(self) -> int:
        return self.regions_horizontal * self.region_columns

    @property
    def block_count(self) -> int:
        return sum(count for count, _ in self.blocks)

    @property
    def data_codewords(self) -> int:
        return sum(count * size for count, size in self.blocks)

    @property
    def ec_codewords(self) -> int:
        return self.block_count * self.ec_per_block

    @property
    def total_codewords(self) -> int:
        return self.data_codewords + self.ec_codewords


# ISO/IEC 16022:2006 Table 7 and ISO/IEC 21471:2020 Table 7: rows, columns, data region rows,
# data region columns, EC codewords per block, (blocks, data codewords per block)...
_TABLE: tuple[tuple[int, int, int, int, int, tuple[tuple[int, int], ...], bool], ...] = (
    (10, 10, 8, 8, 5, ((1, 3),), False),
    (12, 12, 10, 10, 7, ((1, 5),), False),
    (14, 14, 12, 12, 10, ((1, 8),), False),
    (16, 16, 14, 14, 12, ((1, 12),), False),
    (18, 18, 16, 16, 14, ((1, 18),), False),
    (20, 20, 18, 18, 18, ((1, 22),), False),
    (22, 22, 20, 20, 20, ((1, 30),), False),
    (24, 24, 22, 22, 24, ((1, 36),), False),
    (26, 26, 24, 24, 28, ((1, 44),), False),
    (32, 32, 14, 14, 36, ((1, 62),), False),
    (36, 36, 16, 16, 42, ((1, 86),), False),
    (40, 40, 18, 18, 48, ((1, 114),), False),
    (44, 44, 20, 20, 56, ((1, 144),), False),
    (48, 48, 22, 22, 68, ((1, 174),), False),
    (52, 52, 24, 24, 42, ((2, 102),), False),
    (64, 64, 14, 14, 56, ((2, 140),), False),
    (72, 72, 16, 16, 36, ((4, 92),), False),
    (80, 80, 18, 18, 48, ((4, 114),), False),
    (88, 88, 20, 20, 56, ((4, 144),), False),
    (96, 96, 22, 22, 68, ((4, 174),), False),
    (104, 104, 24, 24, 56, ((6, 136),), False),
    (120, 120, 18, 18, 68, ((6, 175),), False),
    (132, 132, 20, 20, 62, ((8, 163),), False),
    (144, 144, 22, 22, 62, ((8, 156), (2, 155)), False),
    (8, 18, 6, 16, 7, ((1, 5),), False),
    (8, 32, 6, 14, 11, ((1, 10),), False),
    (12, 26, 10, 24, 14, ((1, 16),), False),
    (12, 36, 10, 16, 18, ((1, 22),), False),
    (16, 36, 14, 16, 24, ((1, 32),), False),
    (16, 48, 14, 22, 28, ((1, 49),), False),
    (8, 48, 6, 22, 15, ((1, 18),), True),
    (8, 64, 6, 14, 18, ((1, 24),), True),
    (8, 80, 6, 18, 22, ((1, 32),), True),
    (8, 96, 6, 22, 28, ((1, 38),), True),
    (8, 120, 6, 18, 32, ((1, 49),), True),
    (8, 144, 6, 22, 36, ((1, 63),), True),
    (12, 64, 10, 14, 27, ((1, 43),), True),
    (12, 88, 10, 20, 36, ((1, 64),), True),
    (16, 64, 14, 14, 36, ((1, 62),), True),
    (20, 36, 18, 16, 28, ((1, 44),), True),
    (20, 44, 18, 20, 34, ((1, 56),), True),
    (20, 64, 18, 14, 42, ((1, 84),), True),
    (22, 48, 20, 22, 38, ((1, 72),), True),
    (24, 48, 22, 22, 41, ((1, 80),), True),
    (24, 64, 22, 14, 46, ((1, 108),), True),
    (26, 40, 24, 18, 38, ((1, 70),), True),
    (26, 48, 24, 22, 42, ((1, 90),), True),
    (26, 64, 24, 14, 50, ((1, 118),), True),
)

SIZES: dict[tuple[int, int], SymbolSize] = {
    (rows, columns): SymbolSize(rows, columns, rr, rc, ec, blocks, dmre)
    for rows, columns, rr, rc, ec, blocks, dmre in _TABLE
}
"""Every ECC 200 size by ``(rows, columns)``."""


def size_of(rows: int, columns: int) -> SymbolSize | None:
    """The ECC 200 size of ``rows`` x ``columns`` modules; None if there is none."""
    return SIZES.get((rows, columns))


# -- layout -------------------------------------------------------------------------------

FIXED_DATA = -1
"""Marks a data module in :func:`fixed_pattern` (0 = light, 1 = dark otherwise)."""


@lru_cache(maxsize=64)
def fixed_pattern(size: SymbolSize) -> npt.NDArray[np.int8]:
    """Each module's colour where it is fixed (1 dark, 0 light), :data:`FIXED_DATA` elsewhere.

    Every data region has a solid bar on its left and bottom and an alternating (clock)
    pattern on its top and right; in symbols with several regions these meet as alignment
    patterns.
    """
    out = np.full((size.rows, size.columns), FIXED_DATA, dtype=np.int8)
    block_h, block_w = size.region_rows + 2, size.region_columns + 2
    for r in range(size.rows):
        for c in range(size.columns):
            br, bc = r % block_h, c % block_w
            if bc == 0 or br == block_h - 1:
                out[r, c] = 1
            elif br == 0:
                out[r, c] = 1 if c % 2 == 0 else 0
            elif bc == block_w - 1:
                out[r, c] = 1 if r % 2 == 1 else 0
    out.flags.writeable = False
    return out


def mapping_to_symbol(size: SymbolSize, row: int, column: int) -> tuple[int, int]:
    """Symbol coordinates of a module of the mapping matrix (data regions side by side)."""
    return (
        (row // size.region_rows) * (size.region_rows + 2) + 1 + row % size.region_rows,
        (column // size.region_columns) * (size.region_columns + 2)
        + 1
        + column % size.region_columns,
    )


@lru_cache(maxsize=64)
def placement(size: SymbolSize) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """Where each codeword's bits are: ``(codeword, bit)`` per symbol module.

    Returns two arrays of the symbol's shape: the codeword index (-1 for fixed-pattern
    modules and for the fixed corner modules some sizes leave) and the bit (7 = most
    significant, 0 = least). Follows ISO/IEC 16022 Annex F ("utah" shapes along diagonals,
    four special corner cases), with ISO/IEC 21471's wrap of rows for DMRE.
    """
    nrow, ncol = size.mapping_rows, size.mapping_columns
    codeword = np.full((nrow, ncol), -1, dtype=np.int32)
    bit = np.full((nrow, ncol), -1, dtype=np.int32)
    placed = np.zeros((nrow, ncol), dtype=bool)

    def module(r: int, c: int, chr_index: int, bit_number: int) -> None:
        if r < 0:
            r += nrow
            c += 4 - ((nrow + 4) % 8)
        if c < 0:
            c += ncol
            r += 4 - ((ncol + 4) % 8)
        if r >= nrow:  # ISO/IEC 21471 (DMRE)
            r -= nrow
        codeword[r, c] = chr_index
        bit[r, c] = 8 - bit_number
        placed[r, c] = True

    def utah(r: int, c: int, chr_index: int) -> None:
        for number, (dr, dc) in enumerate(
            ((-2, -2), (-2, -1), (-1, -2), (-1, -1), (-1, 0), (0, -2), (0, -1), (0, 0)), start=1
        ):
            module(r + dr, c + dc, chr_index, number)

    def corner(cells: Sequence[tuple[int, int]], chr_index: int) -> None:
        for number, (r, c) in enumerate(cells, start=1):
            module(r, c, chr_index, number)

    chr_index = 0
    row, col = 4, 0
    while True:
        if row == nrow and col == 0:
            corner(
                ((nrow - 1, 0), (nrow - 1, 1), (nrow - 1, 2), (0, ncol - 2), (0, ncol - 1),
                 (1, ncol - 1), (2, ncol - 1), (3, ncol - 1)),
                chr_index,
            )  # fmt: skip
            chr_index += 1
        if row == nrow - 2 and col == 0 and ncol % 4:
            corner(
                ((nrow - 3, 0), (nrow - 2, 0), (nrow - 1, 0), (0, ncol - 4), (0, ncol - 3),
                 (0, ncol - 2), (0, ncol - 1), (1, ncol - 1)),
                chr_index,
            )  # fmt: skip
            chr_index += 1
        if row == nrow - 2 and col == 0 and ncol % 8 == 4:
            corner(
                ((nrow - 3, 0), (nrow - 2, 0), (nrow - 1, 0), (0, ncol - 2), (0, ncol - 1),
                 (1, ncol - 1), (2, ncol - 1), (3, ncol - 1)),
                chr_index,
            )  # fmt: skip
            chr_index += 1
        if row == nrow + 4 and col == 2 and ncol % 8 == 0:
            corner(
                ((nrow - 1, 0), (nrow - 1, ncol - 1), (0, ncol - 3), (0, ncol - 2),
                 (0, ncol - 1), (1, ncol - 3), (1, ncol - 2), (1, ncol - 1)),
                chr_index,
            )  # fmt: skip
            chr_index += 1
        while True:  # up and to the right
            if row < nrow and col >= 0 and not placed[row, col]:
                utah(row, col, chr_index)
                chr_index += 1
            row -= 2
            col += 2
            if not (row >= 0 and col < ncol):
                break
        row += 1
        col += 3
        while True:  # down and to the left
            if row >= 0 and col < ncol and not placed[row, col]:
                utah(row, col, chr_index)
                chr_index += 1
            row += 2
            col -= 2
            if not (row < nrow and col >= 0):
                break
        row += 3
        col += 1
        if not (row < nrow or col < ncol):
            break

    symbol_codeword = np.full((size.rows, size.columns), -1, dtype=np.int32)
    symbol_bit = np.full((size.rows, size.columns), -1, dtype=np.int32)
    for r in range(nrow):
        for c in range(ncol):
            sr, sc = mapping_to_symbol(size, r, c)
            symbol_codeword[sr, sc] = codeword[r, c]
            symbol_bit[sr, sc] = bit[r, c]
    symbol_codeword.flags.writeable = False
    symbol_bit.flags.writeable = False
    return symbol_codeword, symbol_bit


@lru_cache(maxsize=64)
def unplaced_corner(size: SymbolSize) -> tuple[tuple[int, int], ...]:
    """Symbol modules of the mapping matrix no codeword uses (the fixed 2x2 corner of some
    sizes): the bottom-right and the one diagonal to it are dark, the other two light."""
    codeword, _ = placement(size)
    fixed = fixed_pattern(size)
    return tuple(
        (int(r), int(c))
        for r, c in zip(*np.nonzero((codeword < 0) & (fixed == FIXED_DATA)), strict=True)
    )


def unplaced_corner_colour(size: SymbolSize, row: int, column: int) -> int:
    """Colour of an unused corner module (ISO/IEC 16022 Annex F: the lower right and the one
    up-left of it are dark)."""
    last_r, last_c = mapping_to_symbol(size, size.mapping_rows - 1, size.mapping_columns - 1)
    return 1 if (row, column) in ((last_r, last_c), (last_r - 1, last_c - 1)) else 0


def codewords_from(size: SymbolSize, dark: npt.NDArray[np.bool_]) -> list[int]:
    """The codewords (data and EC, interleaved as placed) read from module colours."""
    codeword, bit = placement(size)
    values = np.zeros(size.total_codewords, dtype=np.int64)
    used = codeword >= 0
    np.add.at(values, codeword[used], dark[used].astype(np.int64) << bit[used])
    return [int(v) for v in values]


def block_layout(size: SymbolSize) -> list[list[int]]:
    """For each Reed-Solomon block, the interleaved codeword indexes it is made of (data
    first, then EC), as ISO/IEC 16022 5.7.2 interleaves them."""
    count = size.block_count
    data_sizes = [s for n, s in size.blocks for _ in range(n)]
    blocks: list[list[int]] = [[] for _ in range(count)]
    index = 0
    for position in range(max(data_sizes)):
        for b in range(count):
            if position < data_sizes[b]:
                blocks[b].append(index)
                index += 1
    # the 144x144 symbol: blocks 9 and 10 are one data codeword shorter; the interleaving of
    # the first 1550 is b = i mod 10 and the last 8 go to blocks 0-7, as above.
    for position in range(size.ec_per_block):
        for b in range(count):
            blocks[b].append(size.data_codewords + position * count + b)
    return blocks


@dataclass(frozen=True)
class Correction:
    """Reed-Solomon decoding of every block of a symbol."""

    blocks: tuple[BlockDecode, ...]
    data: tuple[int, ...]
    corrected: tuple[int, ...]
    """All codewords as they should have been (interleaved order), when every block decoded."""

    @property
    def ok(self) -> bool:
        return all(block.ok for block in self.blocks)


def correct(size: SymbolSize, codewords: Sequence[int]) -> Correction:
    """Decode every block; the data codewords in symbol order."""
    layout = block_layout(size)
    results = []
    corrected = list(codewords)
    for indexes in layout:
        result = decode_block([codewords[i] for i in indexes], size.ec_per_block)
        results.append(result)
        if result.ok:
            for i, value in zip(indexes, result.codewords, strict=True):
                corrected[i] = value
    return Correction(tuple(results), tuple(corrected[: size.data_codewords]), tuple(corrected))


# -- data encodation ----------------------------------------------------------------------


class DataError(VisionError, ValueError):
    """The data codewords do not follow ISO/IEC 16022 encodation."""


@dataclass(frozen=True)
class Message:
    """What the data codewords say. ``text`` has FNC1 as GS, except one in first position,
    which sets ``gs1``, and one in second position (an AIM application indicator, ``]d3``),
    which is not transmitted (as zxing-cpp does); bytes above 127 are Latin-1 characters."""

    text: str
    gs1: bool
    eci: int | None = None


_C40_BASIC = "    0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_TEXT_BASIC = "    0123456789abcdefghijklmnopqrstuvwxyz"
_SHIFT2 = "!\"#$%&'()*+,-./:;<=>?@[\\]^_"
_C40_SHIFT3 = "`abcdefghijklmnopqrstuvwxyz{|}~\x7f"
_TEXT_SHIFT3 = "`ABCDEFGHIJKLMNOPQRSTUVWXYZ{|}~\x7f"
_X12 = "\r*> 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MAX_TEXT = 4096


def decode_data(codewords: Sequence[int]) -> Message:
    """The message of ``codewords`` (the data codewords, pads included); DataError if they
    break the encodation rules."""
    return _DataDecoder(codewords).run()


class _DataDecoder:
    """ISO/IEC 16022 5.2: ASCII, C40, Text, X12, EDIFACT and Base 256 encodation."""

    def __init__(self, codewords: Sequence[int]) -> None:
        self.cw = list(codewords)
        self.i = 0
        self.out: list[str] = []
        self.upper = False
        self.gs1 = False
        self.eci: int | None = None
        self.trailer = ""
        self.first_position = 1
        """1-based codeword position of an FNC1 that marks GS1 data (ISO/IEC 16022 5.6.2:
        the fifth after a Structured Append header)."""

    def put(self, value: int) -> None:
        if self.upper:
            value += 128
            self.upper = False
        self.out.append(chr(value))
        if len(self.out) > _MAX_TEXT:
            raise DataError(f"data: expected at most {_MAX_TEXT} characters")

    def run(self) -> Message:
        cw, n = self.cw, len(self.cw)
        while self.i < n:
            value = cw[self.i]
            self.i += 1
            if 1 <= value <= 128:
                self.put(value - 1)
            elif value == 129:  # pad: the message ends
                break
            elif 130 <= value <= 229:
                for digit in f"{value - 130:02d}":
                    self.put(ord(digit))
            elif value == 232:  # FNC1: in first position it marks GS1 data
                if self.i == self.first_position:
                    self.gs1 = True
                elif self.i == self.first_position + 1:
                    pass  # second position: an AIM application indicator flag, not sent
                else:
                    self.out.append(GS)
            elif value == 235:
                self.upper = True
            elif value in (236, 237) and self.i == 1:
                self.out.append(f"[)>\x1e{'05' if value == 236 else '06'}\x1d")
                self.trailer = "\x1e\x04"
            elif value == 241:
                self.eci = self._eci()
            elif value == 233:  # structured append: three codewords of sequence data
                if self.i == 1:  # then FNC1 "in first position" is the fifth codeword
                    self.first_position = 5
                self.i += 3
            elif value == 234:  # reader programming
                continue
            elif value in (230, 239):
                self._c40_text(text=value == 239)
            elif value == 238:
                self._x12()
            elif value == 240:
                self._edifact()
            elif value == 231:
                self._base256()
            else:
                raise DataError(
                    f"codeword {self.i - 1}: expected a valid ASCII-mode value, got {value}"
                )
        return Message("".join(self.out) + self.trailer, self.gs1, self.eci)

    def _eci(self) -> int:
        cw, i, n = self.cw, self.i, len(self.cw)
        if i >= n:
            raise DataError("ECI: expected a designator, got the end of the data")
        c1 = cw[i]
        if c1 <= 127:
            self.i = i + 1
            return c1 - 1
        if c1 <= 191 and i + 1 < n:
            self.i = i + 2
            return (c1 - 128) * 254 + cw[i + 1] + 126
        if i + 2 < n:
            self.i = i + 3
            return (c1 - 192) * 64516 + (cw[i + 1] - 1) * 254 + cw[i + 2] + 16382
        raise DataError("ECI: expected a complete designator, got the end of the data")

    def _triples(self) -> list[int] | None:
        """The next three C40/Text/X12 values; None at an unlatch or when one codeword (then
        ASCII) or none is left."""
        cw, n = self.cw, len(self.cw)
        if self.i >= n or cw[self.i] == 254:
            self.i += self.i < n
            return None
        if self.i + 1 >= n:
            return None
        value = cw[self.i] * 256 + cw[self.i + 1] - 1
        self.i += 2
        return [value // 1600, (value // 40) % 40, value % 40]

    def _c40_text(self, *, text: bool) -> None:
        basic = _TEXT_BASIC if text else _C40_BASIC
        shift3 = _TEXT_SHIFT3 if text else _C40_SHIFT3
        shift = 0
        while (values := self._triples()) is not None:
            for c in values:
                if shift == 0:
                    if c < 3:
                        shift = c + 1
                    else:
                        self.put(ord(basic[c]))
                    continue
                if shift == 1:
                    self.put(c)
                elif shift == 2:
                    if c < len(_SHIFT2):
                        self.put(ord(_SHIFT2[c]))
                    elif c == 27:
                        self.out.append(GS)
                    elif c == 30:
                        self.upper = True
                    else:
                        raise DataError(f"C40/Text shift 2: expected 0-27 or 30, got {c}")
                else:
                    if c >= len(shift3):
                        raise DataError(f"C40/Text shift 3: expected 0-31, got {c}")
                    self.put(ord(shift3[c]))
                shift = 0

    def _x12(self) -> None:
        while (values := self._triples()) is not None:
            for c in values:
                if c >= len(_X12):
                    raise DataError(f"X12: expected a value 0-39, got {c}")
                self.put(ord(_X12[c]))

    def _edifact(self) -> None:
        cw, n = self.cw, len(self.cw)
        while self.i < n:
            if n - self.i <= 2:  # at most two codewords left: they are ASCII
                return
            packed = (cw[self.i] << 16) | (cw[self.i + 1] << 8) | cw[self.i + 2]
            start = self.i
            self.i += 3
            for number, shift in enumerate((18, 12, 6, 0)):
                value = (packed >> shift) & 0x3F
                if value == 0x1F:  # unlatch; the rest of its codeword is padding
                    self.i = start + ((number + 1) * 6 + 7) // 8
                    return
                self.put(value | 0x40 if value & 0x20 == 0 else value)

    def _base256(self) -> None:
        cw, n = self.cw, len(self.cw)

        def unrandom(position: int) -> int:
            pseudo = ((149 * (position + 1)) % 255) + 1
            return (cw[position] - pseudo) % 256

        if self.i >= n:
            raise DataError("Base 256: expected a length, got the end of the data")
        d1 = unrandom(self.i)
        self.i += 1
        if d1 == 0:
            count = n - self.i
        elif d1 < 250:
            count = d1
        else:
            if self.i >= n:
                raise DataError("Base 256: expected a second length codeword")
            count = 250 * (d1 - 249) + unrandom(self.i)
            self.i += 1
        if self.i + count > n:
            raise DataError(f"Base 256: expected {count} bytes, got {n - self.i}")
        for position in range(self.i, self.i + count):
            self.put(unrandom(position))
        self.i += count
