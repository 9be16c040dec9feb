"""ZPL II as the virtual printer reads it: a byte stream in, commands and label formats out.

:class:`CommandReader` splits the byte stream into commands (``^XX`` or ``~XX`` and the
parameters up to the next ``^`` or ``~``) as bytes arrive, in pieces of any size.
:class:`FormatReader` turns commands into :class:`LabelFormat` values (one per ``^XA`` …
``^XZ``), immediate commands (``~HS``, ``~PS``, ``~PP``, ``~JA``) and :class:`ZplIssue` values
for everything it does not understand: unknown commands, bad parameters, bytes outside any
command. Issues are reported, never silently dropped, and never stop the reader.

The subset understood is what ``edge.printers`` emits: ``^XA ^XZ ^PW ^LL ^PR ^CI ^FO ^A ^BX
^BY ^BC ^FH ^FD ^FS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PREFIXES = frozenset(b"^~")
NO_PARAMETERS = frozenset({"XA", "XZ", "FS", "HS", "PS", "PP", "JA"})
IMMEDIATE = frozenset({"HS", "PS", "PP", "JA"})
MAX_COMMAND_BYTES = 64 * 1024
GS = "\x1d"
FNC1 = "\x00FNC1"  # a marker no byte of data can produce (data bytes are single characters)


@dataclass(frozen=True)
class Command:
    prefix: str
    name: str
    parameters: bytes

    def __str__(self) -> str:
        return f"{self.prefix}{self.name}{self.parameters.decode('latin-1')}"


@dataclass(frozen=True)
class Garbage:
    data: bytes


@dataclass(frozen=True)
class ZplIssue:
    """Something in the stream the printer did not understand, with the bytes concerned."""

    reason: str
    text: str


@dataclass(frozen=True)
class TextField:
    x: int
    y: int
    font: str
    height: int
    width: int
    text: str


@dataclass(frozen=True)
class DataMatrixField:
    x: int
    y: int
    module: int
    gs1: bool
    content: str
    """The data with GS between GS1 fields (no leading FNC1; ``gs1`` says whether there was)."""
    anchor_bottom: bool = False
    """``y`` is the symbol's bottom edge (DPL), not its top (ZPL)."""


@dataclass(frozen=True)
class Code128Field:
    x: int
    y: int
    module: int
    height: int
    gs1: bool
    content: str


LabelField = TextField | DataMatrixField | Code128Field


@dataclass(frozen=True)
class LabelFormat:
    width: int | None
    length: int | None
    fields: tuple[LabelField, ...]
    raw: bytes


@dataclass(frozen=True)
class Immediate:
    name: str


@dataclass(frozen=True)
class PrintSpeed:
    inches_per_second: int


Event = LabelFormat | Immediate | PrintSpeed | ZplIssue


class CommandReader:
    """Split a ZPL byte stream into commands, as the bytes come."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> bytes:
        return bytes(self._buffer)

    def feed(self, data: bytes) -> list[Command | Garbage]:
        self._buffer += data
        out: list[Command | Garbage] = []
        buf = self._buffer
        pos = 0
        while pos < len(buf):
            start = _next_prefix(buf, pos)
            if start < 0:
                stray = bytes(buf[pos:]).strip(b"\r\n")
                if stray:
                    out.append(Garbage(stray))
                pos = len(buf)
                break
            if start > pos:
                stray = bytes(buf[pos:start]).strip(b"\r\n")
                if stray:
                    out.append(Garbage(stray))
                pos = start
            if len(buf) - start < 3:
                break
            prefix = chr(buf[start])
            name_end = start + 3
            if buf[start + 1] == ord("A") and prefix == "^":
                name_end = start + 2  # ^A is followed by the font name
            name = bytes(buf[start + 1 : name_end]).decode("latin-1").upper()
            if name in NO_PARAMETERS:
                out.append(Command(prefix, name, b""))
                pos = name_end
                continue
            end = _next_prefix(buf, name_end)
            if end < 0:
                if len(buf) - start > MAX_COMMAND_BYTES:
                    out.append(Garbage(bytes(buf[start:])))
                    pos = len(buf)
                break
            out.append(Command(prefix, name, bytes(buf[name_end:end])))
            pos = end
        del buf[:pos]
        return out


def _next_prefix(buf: bytearray, start: int) -> int:
    caret = buf.find(b"^", start)
    tilde = buf.find(b"~", start)
    if caret < 0:
        return tilde
    if tilde < 0:
        return caret
    return min(caret, tilde)


_HEX = re.compile(rb"[0-9A-Fa-f]{2}")


def decode_field_hex(data: bytes, indicator: int) -> bytes:
    """Undo ``^FH``: each indicator byte followed by two hex digits becomes that byte."""
    if indicator not in data:
        return data
    out = bytearray()
    pos = 0
    while True:
        found = data.find(indicator, pos)
        if found < 0:
            out += data[pos:]
            return bytes(out)
        out += data[pos:found]
        pair = data[found + 1 : found + 3]
        if _HEX.fullmatch(pair):
            out.append(int(pair, 16))
            pos = found + 3
        else:
            out.append(indicator)
            pos = found + 1


class FieldDataError(ValueError):
    """Barcode field data the printer cannot encode (bad escape sequence)."""


def decode_datamatrix(data: str, escape: str) -> tuple[bool, str]:
    """Apply ``^BX`` quality 200 escape sequences: (GS1 mode, content with GS separators)."""
    parts: list[str] = []
    pos = 0
    while pos < len(data):
        char = data[pos]
        if char != escape:
            parts.append(char)
            pos += 1
            continue
        code = data[pos + 1 : pos + 2]
        if code == escape:
            parts.append(escape)
            pos += 2
        elif code == "1":
            parts.append(FNC1)
            pos += 2
        elif (
            code == "d" and data[pos + 2 : pos + 5].isdigit() and len(data[pos + 2 : pos + 5]) == 3
        ):
            parts.append(chr(int(data[pos + 2 : pos + 5]) % 256))
            pos += 5
        elif code and "@" <= code <= "_":
            parts.append(chr(ord(code) - 64))
            pos += 2
        else:
            raise FieldDataError(f"datamatrix: unsupported escape sequence {data[pos : pos + 5]!r}")
    gs1 = bool(parts) and parts[0] == FNC1
    if gs1:
        parts = parts[1:]
    return gs1, "".join(GS if p == FNC1 else p for p in parts)


_CODE128_SWITCHES = frozenset(";:95 67")


def decode_code128(data: str) -> tuple[bool, str]:
    """Apply ``^BC`` invocation codes: (GS1 mode, content with GS separators)."""
    parts: list[str] = []
    pos = 0
    while pos < len(data):
        char = data[pos]
        if char != ">":
            parts.append(char)
            pos += 1
            continue
        code = data[pos + 1 : pos + 2]
        pos += 2
        if code == "8":
            parts.append(FNC1)
        elif code == "<":
            parts.append(">")
        elif code and code in _CODE128_SWITCHES:
            continue
        else:
            raise FieldDataError(f"gs1-128: unsupported invocation code {'>' + code!r}")
    gs1 = bool(parts) and parts[0] == FNC1
    if gs1:
        parts = parts[1:]
    return gs1, "".join(GS if p == FNC1 else p for p in parts)


@dataclass
class _FormatState:
    width: int | None = None
    length: int | None = None
    utf8: bool = False
    origin: tuple[int, int] = (0, 0)
    font: tuple[str, int, int] = ("0", 30, 30)
    hex_indicator: int | None = None
    barcode: tuple[str, tuple[int, ...], str] | None = None
    bar_module: int = 2
    data: bytes | None = None
    fields: list[LabelField] = field(default_factory=list)
    raw: bytearray = field(default_factory=bytearray)


class FormatReader:
    """Commands in, label formats, immediate commands and issues out."""

    def __init__(self) -> None:
        self.commands = CommandReader()
        self._format: _FormatState | None = None

    @property
    def in_format(self) -> bool:
        return self._format is not None

    def feed(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        for item in self.commands.feed(data):
            if isinstance(item, Garbage):
                events.append(ZplIssue("bytes outside any command", item.data.decode("latin-1")))
            else:
                self._command(item, events)
        return events

    def _command(self, command: Command, events: list[Event]) -> None:
        name = command.name
        if command.prefix == "~":
            if name in IMMEDIATE:
                events.append(Immediate(name))
            else:
                events.append(ZplIssue("unknown command", str(command)))
            return
        if name == "XA":
            if self._format is not None:
                events.append(
                    ZplIssue("^XA inside a format: the unfinished format is dropped", "^XA")
                )
            self._format = _FormatState()
            self._format.raw += b"^XA"
            return
        state = self._format
        if state is None:
            events.append(ZplIssue("command outside ^XA … ^XZ", str(command)))
            return
        state.raw += f"^{name}".encode("latin-1") + command.parameters
        try:
            self._format_command(state, command, events)
        except (ValueError, IndexError) as exc:
            events.append(ZplIssue(f"bad parameters: {exc}", str(command)))

    def _format_command(self, state: _FormatState, command: Command, events: list[Event]) -> None:
        name = command.name
        params = command.parameters.replace(b"\r", b"").replace(b"\n", b"")
        if name == "XZ":
            self._format = None
            if state.data is not None:
                events.append(ZplIssue("^XZ before ^FS: the open field is dropped", "^XZ"))
            if state.fields:
                events.append(
                    LabelFormat(state.width, state.length, tuple(state.fields), bytes(state.raw))
                )
        elif name == "FD":
            if state.data is not None:
                events.append(ZplIssue("^FD without ^FS: the previous field is dropped", "^FD"))
            data = command.parameters
            if state.hex_indicator is not None:
                data = decode_field_hex(data, state.hex_indicator)
            state.data = data
        elif name == "FS":
            self._close_field(state, events)
        elif name == "FH":
            state.hex_indicator = params[0] if params else ord("_")
        elif name == "FO":
            x, y = _ints(params, 2)
            state.origin = (x, y)
        elif name == "A":
            text = params.decode("latin-1")
            font = text[:1] or "0"
            rest = text[1:].split(",")
            height = int(rest[1]) if len(rest) > 1 and rest[1] else state.font[1]
            width = int(rest[2]) if len(rest) > 2 and rest[2] else height
            state.font = (font, height, width)
        elif name == "BX":
            values = params.decode("latin-1").split(",")
            if len(values) < 3 or values[2] != "200":
                raise ValueError("expected quality 200 (ECC 200)")
            module = int(values[1])
            escape = values[6] if len(values) > 6 and values[6] else "_"
            state.barcode = ("BX", (module,), escape)
        elif name == "BY":
            state.bar_module = _ints(params, 1)[0]
        elif name == "BC":
            values = params.decode("latin-1").split(",")
            height = int(values[1])
            mode = values[5] if len(values) > 5 and values[5] else "N"
            if mode != "N":
                raise ValueError(f"expected mode N, got {mode!r}")
            state.barcode = ("BC", (state.bar_module, height), "")
        elif name == "PW":
            state.width = _ints(params, 1)[0]
        elif name == "LL":
            state.length = _ints(params, 1)[0]
        elif name == "CI":
            state.utf8 = params.strip() == b"28"
        elif name == "PR":
            events.append(PrintSpeed(_ints(params, 1)[0]))
        else:
            events.append(ZplIssue("unknown command", str(command)))

    def _close_field(self, state: _FormatState, events: list[Event]) -> None:
        data, state.data = state.data, None
        barcode, state.barcode = state.barcode, None
        state.hex_indicator = None
        if data is None:
            return
        text = data.decode("utf-8", "replace") if state.utf8 else data.decode("latin-1")
        x, y = state.origin
        try:
            if barcode is None:
                font, height, width = state.font
                state.fields.append(TextField(x, y, font, height, width, text))
            elif barcode[0] == "BX":
                gs1, content = decode_datamatrix(text, barcode[2])
                state.fields.append(DataMatrixField(x, y, barcode[1][0], gs1, content))
            else:
                gs1, content = decode_code128(text)
                module, height = barcode[1]
                state.fields.append(Code128Field(x, y, module, height, gs1, content))
        except FieldDataError as exc:
            events.append(ZplIssue(str(exc), text))


def _ints(params: bytes, count: int) -> tuple[int, ...]:
    values = params.decode("latin-1").split(",")
    if len(values) < count:
        raise ValueError(f"expected {count} numbers, got {params!r}")
    return tuple(int(v) for v in values[:count])
