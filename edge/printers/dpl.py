"""Honeywell (Datamax-O'Neil) DPL: the label builder (unit and logistic labels) and the driver.

Why DPL as the second language: it prints ECC 200 DataMatrix natively (bar code ``W1c``, and
``W1C`` with a byte count, so a GS inside the data cannot end the record), which a GS1
DataMatrix needs; Zebra's EPL2 has no DataMatrix on most printers (only the ``b`` command of
some later models), so it cannot carry a unit's code.

A label format (``<STX>L`` … ``E``), one record a line (CR)::

    <STX>L              start a label format
    D11                 dot size 1 x 1
    Pk                  print speed (only with ``print_speed``), A = 1 ips, +0.5 ips a letter
    1W1C44000RRRRCCCCnnnn2000000000<GS>0109506000134352…
                        DataMatrix: rotation 1, module 4 x 4 dots, row, column (1/100 inch
                        from the label's lower left corner to the symbol's), byte count,
                        ECC 200, automatic size; the data starts with GS (FNC1 first: GS1)
                        and has GS between fields
    1911A10RRRRCCCCGTIN 09506000134352
                        text: rotation 1, font 9 (scalable), A + point size, row, column
    1W1I44128RRRRCCCC00095060001234567893
                        (logistic labels) GS1-128: rotation 1, EAN 128 with automatic subset
                        switching (FNC1 after the start code, subset C for the digits), bar
                        widths 4 dots, height 1.28 inch, row, column; ``00`` + the SSCC.
                        The printer adds the interpretation line under the bars
    E                   end of format: print one label

Status and confirmation: ``<STX>a`` (sent when the port opens) turns on feedback characters,
so the printer sends RS (0x1E) when a label is out; ``<SOH>A`` asks the ASCII status string
``abcdefgh<CR>`` (each ``Y``/``N``: interpreter busy, paper out or fault, ribbon out or fault,
printing batch, busy printing, paused, label presented, reserved). The driver counts RS to
confirm jobs and polls ``<SOH>A`` for faults, so a line keeps ``max_in_flight`` labels in the
printer as with ZPL. Check these against the programmer's manual of your model's firmware.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import serial

from edge.printers.builder import logistic_fields, unknown_symbology
from edge.printers.config import PrinterSettings
from edge.printers.driver import SerialPrinter
from edge.printers.errors import LabelDataError, PrinterProtocolError, PrinterTimeout
from edge.printers.status import PrinterFault
from edge.printers.templates import LabelKind, LabelTemplate, TextSpec
from gs1 import Sscc
from identity import DATAMATRIX, GS1_DATAMATRIX, UnitIdentity

SOH = b"\x01"
STX = b"\x02"
CR = b"\r"
GS = "\x1d"
LABEL_OUT = 0x1E  # RS: feedback character after each label
BATCH_OUT = 0x1F  # US: feedback character after each batch
STATUS_REQUEST = SOH + b"A"
FEEDBACK_ON = STX + b"a"
STATUS_LENGTH = 8

_NO_VARIABLES: Mapping[str, str] = {}
_SQUARE_SIZES = (
    (10, 3), (12, 5), (14, 8), (16, 12), (18, 18), (20, 22), (22, 30), (24, 36), (26, 44),
    (32, 62), (36, 86), (40, 114), (44, 144), (48, 174), (52, 204), (64, 280), (72, 368),
    (80, 456), (88, 576), (96, 696), (104, 816), (120, 1050), (132, 1304), (144, 1558),
)  # fmt: skip
"""ECC 200 square symbols: modules a side, data codewords."""
MODULE_DIGITS = "123456789ABCDEFGHIJKLMNO"
"""DPL module multipliers 1-24."""


def speed_letter(inches_per_second: int) -> str:
    """DPL print speed letter: A = 1 ips, each letter 0.5 ips more."""
    index = (inches_per_second - 1) * 2
    if not 0 <= index < 26:
        raise ValueError(f"print_speed: expected 1 to 13 ips for DPL, got {inches_per_second}")
    return chr(ord("A") + index)


def datamatrix_side(data: str) -> int:
    """Modules a side of the smallest square ECC 200 symbol for ``data`` in ASCII encodation
    (digit pairs one codeword, GS as FNC1 one, other ASCII one, above ASCII two)."""
    codewords = 0
    index = 0
    end = len(data)
    while index < end:
        char = data[index]
        if "0" <= char <= "9" and index + 1 < end and "0" <= data[index + 1] <= "9":
            index += 2
        else:
            codewords += ord(char) > 127
            index += 1
        codewords += 1
    for side, capacity in _SQUARE_SIZES:
        if codewords <= capacity:
            return side
    raise LabelDataError(f"datamatrix: {codewords} codewords do not fit an ECC 200 symbol")


def _hundredths(dots: int, dpi: int) -> int:
    return round(dots * 100 / dpi)


def _printable(text: str, what: str) -> str:
    if not (text.isascii() and text.isprintable()):
        raise LabelDataError(f"dpl {what}: expected printable ASCII, got {text!r}")
    return text


class DplLabelBuilder:
    """Turns a unit's code or an SSCC into a DPL label format with one template (unit or
    logistic).

    Positions: the template's dots from the top left become DPL's 1/100 inch from the lower
    left corner to each element's lower left corner. The DataMatrix's height is that of the
    smallest square ECC 200 symbol in ASCII encodation (a printer that packs the data tighter
    prints it slightly lower, never off the label)."""

    def __init__(self, template: LabelTemplate) -> None:
        self.template = template
        dpi, length = template.dpi, template.length
        self._module = 1
        self._barcode_head = ""
        if template.datamatrix is not None:
            dm = template.datamatrix
            if not 1 <= dm.module <= len(MODULE_DIGITS):
                raise LabelDataError(
                    f"template {template.name!r}: datamatrix: module: expected 1 to"
                    f" {len(MODULE_DIGITS)} dots for DPL, got {dm.module}"
                )
            self._module = dm.module
            self._barcode_head = "1W1C" + MODULE_DIGITS[dm.module - 1] * 2 + "000"
            self._barcode_column = f"{_hundredths(dm.x, dpi):04d}"
        if template.code128 is not None:
            bc = template.code128
            if not 1 <= bc.module <= len(MODULE_DIGITS):
                raise LabelDataError(
                    f"template {template.name!r}: sscc_barcode: module: expected 1 to"
                    f" {len(MODULE_DIGITS)} dots for DPL, got {bc.module}"
                )
            height = _hundredths(bc.height, dpi)
            if not 1 <= height <= 999:
                raise LabelDataError(
                    f"template {template.name!r}: sscc_barcode: height: expected 1 to 999"
                    f" hundredths of an inch for DPL, got {height} ({bc.height} dots)"
                )
            row = _hundredths(max(0, length - bc.y - bc.height), dpi)
            self._barcode_head = (
                f"1W1I{MODULE_DIGITS[bc.module - 1] * 2}{height:03d}{row:04d}"
                f"{_hundredths(bc.x, dpi):04d}"
            )
        self._text_heads = tuple(
            f"1911A{max(4, min(99, round(t.height * 72 / dpi))):02d}"
            f"{_hundredths(max(0, length - t.y - t.height), dpi):04d}{_hundredths(t.x, dpi):04d}"
            for t in template.texts
        )

    def unit_label(self, code: UnitIdentity, variables: Mapping[str, str] = _NO_VARIABLES) -> bytes:
        """A unit label: the code's DataMatrix (GS1: GS first, as FNC1; plain: the message,
        printable ASCII) and the template's text lines."""
        self._expect(LabelKind.UNIT)
        payload = code.printer_payload()
        if payload.symbology == GS1_DATAMATRIX:
            barcode = GS + payload.data
        elif payload.symbology == DATAMATRIX:
            barcode = _printable(payload.data, "datamatrix")
        else:
            raise unknown_symbology(code, payload.symbology)
        return self._format(barcode, payload.fields, variables)

    def logistic_label(self, sscc: Sscc, variables: Mapping[str, str] = _NO_VARIABLES) -> bytes:
        """A case or pallet label: the SSCC as GS1-128 (``W1I``: FNC1 after the start code,
        then ``00`` and the 18 digits in subset C) and the template's text lines.

        ``W1I`` prints its own interpretation line under the bars, so a template line that
        needs ``{sscc_hri}`` is left out (it would print the same text twice)."""
        self._expect(LabelKind.LOGISTIC)
        fields = logistic_fields(sscc)
        del fields["sscc_hri"]
        return self._format(sscc.element_string(), fields, variables)

    def _expect(self, kind: LabelKind) -> None:
        if self.template.kind is not kind:
            raise LabelDataError(
                f"template {self.template.name!r}: expected {kind.value} label data,"
                f" got data for a {self.template.kind.value} label"
            )

    def _format(
        self, barcode: str, fields: Mapping[str, str], variables: Mapping[str, str]
    ) -> bytes:
        template = self.template
        if variables:
            unknown = set(variables) - template.variables
            if unknown:
                raise LabelDataError(
                    f"template {template.name!r}: variables: expected names from"
                    f" {sorted(template.variables)}, got {sorted(unknown)!r}"
                )
            fields = {**fields, **variables}
        records = ["\x02L", "D11", self._barcode(barcode)]
        for head, spec in zip(self._text_heads, template.texts, strict=True):
            line = _fill(spec, fields)
            if line is not None:
                records.append(head + _printable(line, "text"))
        records.append("E")
        return ("\r".join(records) + "\r").encode("ascii")

    def _barcode(self, data: str) -> str:
        template = self.template
        dm = template.datamatrix
        if dm is None:  # a logistic template: GS1-128, digits only (an SSCC's element string)
            return self._barcode_head + data
        side = datamatrix_side(data) * self._module
        row = _hundredths(max(0, template.length - dm.y - side), template.dpi)
        payload = "2000000000" + data
        return f"{self._barcode_head}{row:04d}{self._barcode_column}{len(payload):04d}{payload}"


def _fill(spec: TextSpec, fields: Mapping[str, str]) -> str | None:
    out = []
    for piece in spec.pieces:
        if piece.field is None:
            out.append(piece.literal)
        else:
            value = fields.get(piece.field)
            if value is None:
                return None
            out.append(value)
    return "".join(out)


@dataclass(frozen=True)
class DplStatus:
    """One ``<SOH>A`` answer."""

    interpreter_busy: bool
    paper_out: bool
    """Paper out or another fault (head open on most models)."""
    ribbon_out: bool
    printing_batch: bool
    busy_printing: bool
    paused: bool
    label_presented: bool

    @property
    def faults(self) -> frozenset[PrinterFault]:
        flags = (
            (self.paper_out, PrinterFault.PAPER_OUT),
            (self.ribbon_out, PrinterFault.RIBBON_OUT),
            (self.paused, PrinterFault.PAUSED),
        )
        return frozenset(fault for flag, fault in flags if flag)

    @classmethod
    def parse(cls, raw: bytes) -> DplStatus:
        """Parse ``abcdefgh`` (eight ``Y``/``N``, without the CR)."""
        if len(raw) != STATUS_LENGTH or any(byte not in b"YN" for byte in raw):
            raise PrinterProtocolError(
                f"<SOH>A answer: expected eight Y/N flags 'abcdefgh' and CR, got {raw!r}"
            )
        flags = [byte == ord("Y") for byte in raw]
        return cls(*flags[:7])


class DplPrinter(SerialPrinter[DplStatus]):
    """A Honeywell / Datamax-O'Neil printer (DPL) on a serial port or a raw TCP port.

    The printer reports each label out by itself (RS), so the loop waits for those first and
    polls ``<SOH>A`` only every :attr:`status_interval` for faults."""

    poll_at_once = False
    status_interval = 0.1

    def __init__(
        self,
        config: PrinterSettings,
        *,
        port_factory: Callable[..., serial.SerialBase] = serial.serial_for_url,
    ) -> None:
        super().__init__(config, port_factory=port_factory)
        self._speed = b""
        if self.config.print_speed is not None:
            self._speed = f"P{speed_letter(self.config.print_speed)}\r".encode("ascii")
        self._unread = bytearray()
        self._carry = b""

    def _on_open(self, port: serial.SerialBase) -> None:
        self._carry = b""  # bytes of a port that is gone
        port.write(FEEDBACK_ON)

    def _prepare(self, label: bytes) -> bytes:
        if self._speed and label.startswith(b"\x02L\r"):
            return label[:3] + self._speed + label[3:]
        return label

    def _await_output(self, until: float) -> None:
        self._io(partial(self._pump, until=until))

    def _query_status(self, port: serial.SerialBase) -> DplStatus:
        self._unread.clear()
        port.write(STATUS_REQUEST)
        deadline = time.monotonic() + self.config.reply_timeout
        while True:
            line = self._pump(port, deadline, until_line=True)
            if line is not None:
                return DplStatus.parse(line)
            if time.monotonic() >= deadline:
                raise PrinterTimeout(
                    f"<SOH>A: expected 'abcdefgh' and CR within {self.config.reply_timeout} s,"
                    f" got {bytes(self._unread)!r}"
                )

    def _pump(
        self, port: serial.SerialBase, until: float, *, until_line: bool = False
    ) -> bytes | None:
        """Read what the printer sends until ``until``: count RS (a label out), collect the
        rest up to a CR (a status line, returned when ``until_line``). What came in the same
        read after a returned status line (an RS, say) is kept for the next call."""
        while True:
            chunk, self._carry = self._carry or port.read(port.in_waiting or 1), b""
            seen = False
            for index, byte in enumerate(chunk):
                if byte == LABEL_OUT:
                    self._printed = min(self._sent, self._printed + 1)
                    seen = True
                elif byte == BATCH_OUT:
                    continue
                elif byte == CR[0]:
                    line = bytes(self._unread)
                    self._unread.clear()
                    if until_line:
                        self._carry = chunk[index + 1 :]
                        return line
                else:
                    self._unread.append(byte)
                    if len(self._unread) > 64:  # noise, not a status line
                        del self._unread[:-STATUS_LENGTH]
            if seen and not until_line:
                return None
            if time.monotonic() >= until:
                return None
