"""DPL (Honeywell / Datamax-O'Neil) as the virtual printer reads it.

:class:`DplReader` turns the byte stream into the same events as the ZPL reader: label
formats (:class:`~simulators.printer.zpl.LabelFormat`), immediate commands and issues. The
subset understood is what ``edge.printers.dpl`` writes:

- immediate: ``<SOH>A`` (status string, :data:`STATUS`), ``<SOH>B`` (toggle pause);
- system: ``<STX>a`` (feedback characters on: RS after each label, :data:`FEEDBACK`),
  ``<STX>L`` (start a label format);
- in a format, one record a CR: ``D11``, ``P<letter>`` (print speed), ``E`` (print),
  ``1W1C…`` (DataMatrix, byte-counted data, ECC 200), ``1W1I…`` (GS1-128: EAN 128 with
  automatic subsets, FNC1 after the start code) and ``1911A<pt>…`` (text, font 9). The
  interpretation line a real printer adds under ``W1I`` bars is not drawn.

Positions are 1/100 inch from the label's lower left corner to the element's lower left
corner; the reader turns them into dots from the top (``length`` is the media's length).
Everything else is reported as an issue and never stops the reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulators.printer.zpl import (
    GS,
    Code128Field,
    DataMatrixField,
    Event,
    Immediate,
    LabelField,
    LabelFormat,
    PrintSpeed,
    TextField,
    ZplIssue,
)

SOH = 0x01
STX = 0x02
CR = 0x0D
LF = 0x0A
STATUS = "status"
TOGGLE_PAUSE = "toggle_pause"
FEEDBACK = "feedback"
MAX_RECORD_BYTES = 64 * 1024
DATAMATRIX_HEAD = 21
"""``1W1C`` + module x, y + ``eee`` + row + column + byte count."""
MODULE_DIGITS = "123456789ABCDEFGHIJKLMNO"


@dataclass
class _Format:
    fields: list[LabelField] = field(default_factory=list)
    raw: bytearray = field(default_factory=bytearray)


class DplReader:
    """Bytes in, label formats, immediate commands, print speeds and issues out."""

    def __init__(self, dpi: int = 203, length: int = 240) -> None:
        self.dpi = dpi
        self.length = length
        self._buffer = bytearray()
        self._format: _Format | None = None

    @property
    def in_format(self) -> bool:
        return self._format is not None

    def feed(self, data: bytes) -> list[Event]:
        self._buffer += data
        events: list[Event] = []
        while self._buffer:
            if not self._step(events):
                break
        return events

    def _dots(self, hundredths: int) -> int:
        return round(hundredths * self.dpi / 100)

    # -- one step: consume what can be consumed, False when more bytes are needed -----------

    def _step(self, events: list[Event]) -> bool:
        buf = self._buffer
        first = buf[0]
        if first == SOH:
            if len(buf) < 2:
                return False
            command = chr(buf[1])
            del buf[:2]
            if command == "A":
                events.append(Immediate(STATUS))
            elif command == "B":
                events.append(Immediate(TOGGLE_PAUSE))
            else:
                events.append(ZplIssue("unknown immediate command", "<SOH>" + command))
            return True
        if self._format is None:
            return self._outside(events)
        return self._record(events)

    def _outside(self, events: list[Event]) -> bool:
        buf = self._buffer
        if buf[0] in (CR, LF):
            del buf[:1]
            return True
        if buf[0] == STX:
            if len(buf) < 2:
                return False
            command = chr(buf[1])
            del buf[:2]
            if command == "L":
                self._format = _Format(raw=bytearray(b"\x02L\r"))
                if buf[:1] == b"\r":
                    del buf[:1]
            elif command == "a":
                events.append(Immediate(FEEDBACK))
            else:
                events.append(ZplIssue("unknown system command", "<STX>" + command))
            return True
        end = next((i for i, b in enumerate(buf) if b in (SOH, STX)), len(buf))
        events.append(ZplIssue("bytes outside any command", bytes(buf[:end]).decode("latin-1")))
        del buf[:end]
        return True

    def _record(self, events: list[Event]) -> bool:
        buf = self._buffer
        assert self._format is not None
        if buf[:4] == b"1W1C":
            if len(buf) < DATAMATRIX_HEAD:
                return False
            count_text = bytes(buf[17:21])
            if not count_text.isdigit():  # not a byte-counted record: skip to its CR
                end = buf.find(b"\r")
                if end < 0:
                    return False if len(buf) <= MAX_RECORD_BYTES else self._overlong(events)
                self._issue(events, "datamatrix: expected a 4-digit byte count", end + 1)
                return True
            total = DATAMATRIX_HEAD + int(count_text)
            if len(buf) < total:
                return False if len(buf) <= MAX_RECORD_BYTES else self._overlong(events)
            record = bytes(buf[:total])
            del buf[:total]
            if buf[:1] == b"\r":
                del buf[:1]
            self._format.raw += record + b"\r"
            self._datamatrix(record, events)
            return True
        end = buf.find(b"\r")
        if end < 0:
            return False if len(buf) <= MAX_RECORD_BYTES else self._overlong(events)
        record = bytes(buf[:end])
        del buf[: end + 1]
        self._format.raw += record + b"\r"
        text = record.decode("latin-1").rstrip("\n")
        if text == "E" or (text.startswith("E") and text[1:].isdigit()):
            events.append(
                LabelFormat(None, None, tuple(self._format.fields), bytes(self._format.raw))
            )
            self._format = None
        elif text == "D11" or text == "":
            pass
        elif text.startswith("P") and len(text) == 2 and "A" <= text[1] <= "Z":
            speed = 1 + (ord(text[1]) - ord("A")) / 2
            events.append(PrintSpeed(max(1, round(speed))))
        elif len(text) >= 15 and text[0] in "1234" and text[1:5] == "911A":
            self._text(text, events)
        elif text[:4] == "1W1I":
            self._code128(text, events)
        else:
            events.append(ZplIssue("unsupported record", text[:200]))
        return True

    def _overlong(self, events: list[Event]) -> bool:
        events.append(
            ZplIssue("record longer than 64 KiB", bytes(self._buffer[:200]).decode("latin-1"))
        )
        self._buffer.clear()
        self._format = None
        return True

    def _issue(self, events: list[Event], reason: str, skip: int) -> None:
        events.append(ZplIssue(reason, bytes(self._buffer[:skip]).decode("latin-1")))
        del self._buffer[:skip]

    def _datamatrix(self, record: bytes, events: list[Event]) -> None:
        assert self._format is not None
        head = record[:DATAMATRIX_HEAD].decode("latin-1")
        payload = record[DATAMATRIX_HEAD:].decode("latin-1")
        module_x, module_y = head[4], head[5]
        numbers = head[6:17]
        if (
            module_x not in MODULE_DIGITS
            or module_x != module_y
            or not numbers.isdigit()
            or not payload.startswith("2000")
            or not payload[4:10].isdigit()
        ):
            events.append(
                ZplIssue(
                    "datamatrix: expected 1W1C, equal module sizes 1-9/A-O, eee, row, column,"
                    " byte count and ECC 200 ('2000' + rows + columns)",
                    record.decode("latin-1")[:200],
                )
            )
            return
        row, column = int(numbers[3:7]), int(numbers[7:11])
        data = payload[10:]
        gs1 = data.startswith(GS)
        self._format.fields.append(
            DataMatrixField(
                x=self._dots(column),
                y=self.length - self._dots(row),
                module=MODULE_DIGITS.index(module_x) + 1,
                gs1=gs1,
                content=data[1:] if gs1 else data,
                anchor_bottom=True,
            )
        )

    def _code128(self, text: str, events: list[Event]) -> None:
        assert self._format is not None
        wide, narrow, numbers, data = text[4], text[5], text[6:17], text[17:]
        if (
            wide not in MODULE_DIGITS
            or narrow not in MODULE_DIGITS
            or len(numbers) != 11
            or not numbers.isdigit()
            or len(data) < 4
            or not (data.isascii() and data.isprintable())
        ):
            events.append(
                ZplIssue(
                    "gs1-128: expected 1W1I, bar widths 1-9/A-O, height, row, column and at"
                    " least 4 printable ASCII characters",
                    text[:200],
                )
            )
            return
        height = self._dots(int(numbers[:3]))
        row, column = int(numbers[3:7]), int(numbers[7:11])
        self._format.fields.append(
            Code128Field(
                x=self._dots(column),
                y=max(0, self.length - self._dots(row) - height),
                module=MODULE_DIGITS.index(narrow) + 1,
                height=height,
                gs1=True,  # W1I: FNC1 always follows the start code
                content=data,
            )
        )

    def _text(self, text: str, events: list[Event]) -> None:
        assert self._format is not None
        size, row, column = text[5:7], text[7:11], text[11:15]
        if not (size.isdigit() and row.isdigit() and column.isdigit()):
            events.append(ZplIssue("text: expected A + 2-digit points, row, column", text))
            return
        height = round(int(size) * self.dpi / 72)
        top = self.length - self._dots(int(row)) - height
        self._format.fields.append(
            TextField(
                x=self._dots(int(column)),
                y=max(0, top),
                font="9",
                height=height,
                width=max(1, height * 11 // 24),
                text=text[15:],
            )
        )
