"""ZPL II: field data that cannot break out of its field, GS1 barcode data, and the driver.

Every field the builder writes is ``^FH\\^FD…^FS``: the hexadecimal indicator is ``\\`` (not
the default ``_``, which the DataMatrix escape sequences need), and every byte that could end
the field or start a command — ``^``, ``~``, ``\\``, control characters, DEL and every
non-ASCII byte of the UTF-8 text — is written as ``\\hh``. The printer turns ``\\hh`` back into
the byte before it interprets the field, so the data round-trips byte for byte.

GS1 barcodes follow Zebra's documentation for GS1:

* DataMatrix: ``^BXN,h,200,0,0,6,_`` sets ``_`` as the escape character; ``_1`` is FNC1 (the
  leading GS1 flag and each separator after a variable-length AI) and a ``_`` of the data is
  written ``__``. Field hex processing (``^FH``) happens before escape processing.
* a plain DataMatrix (a code scheme other than GS1, see :mod:`identity`): the same ``^BX``
  without the leading ``_1``, ``_`` written ``__``.
* Code 128: ``>;`` starts subset C and ``>8`` is FNC1, so an SSCC is ``>;>800`` + 18 digits.

The driver (:class:`ZplPrinter`) confirms a label by asking the host status (``~HS``): a job
is out when fewer labels are pending in the printer than were sent after it. The send /
confirm loop itself is :class:`~edge.printers.driver.SerialPrinter`'s.
"""

from __future__ import annotations

import time

import serial

from edge.printers.driver import SerialPrinter
from edge.printers.errors import LabelDataError, PrinterTimeout
from edge.printers.status import FRAME_END, HOST_STATUS_REQUEST, HostStatus

GS = "\x1d"
HEX_INDICATOR = "\\"
DATAMATRIX_ESCAPE = "_"

_UNSAFE_ASCII = frozenset("^~\\")


def _byte_table() -> tuple[str, ...]:
    table = []
    for byte in range(256):
        char = chr(byte)
        if 0x20 <= byte < 0x7F and char not in _UNSAFE_ASCII:
            table.append(char)
        else:
            table.append(f"{HEX_INDICATOR}{byte:02X}")
    return tuple(table)


_BYTE_TO_FIELD = _byte_table()


def field_data(text: str) -> str:
    """``text`` as the data of a ``^FH\\^FD`` field: ASCII only, no byte that ZPL interprets.

    Text is encoded as UTF-8 (the label switches to ``^CI28`` when it carries any non-ASCII
    byte, see :func:`needs_utf8`).
    """
    if text.isascii() and text.isprintable() and not _UNSAFE_ASCII.intersection(text):
        return text
    return "".join([_BYTE_TO_FIELD[byte] for byte in text.encode("utf-8", "surrogatepass")])


def needs_utf8(text: str) -> bool:
    """True if ``text`` has a character outside ASCII, so the label needs ``^CI28``."""
    return not text.isascii()


def datamatrix_gs1_data(element_string: str) -> str:
    """A GS1 element string (GS between fields) as ``^BX`` quality 200 field data.

    The result starts with ``_1`` (FNC1: this is GS1 data) and has ``_1`` wherever the element
    string has a GS; ``_`` itself becomes ``__``. It still goes through :func:`field_data`.
    """
    if not element_string:
        raise LabelDataError("datamatrix: expected a GS1 element string, got ''")
    if element_string.startswith(GS):
        raise LabelDataError(
            f"datamatrix: expected an element string without a leading GS (FNC1 is implicit),"
            f" got {element_string!r}"
        )
    escaped = element_string.replace(DATAMATRIX_ESCAPE, DATAMATRIX_ESCAPE * 2)
    return DATAMATRIX_ESCAPE + "1" + escaped.replace(GS, DATAMATRIX_ESCAPE + "1")


def datamatrix_plain_data(text: str) -> str:
    """A plain DataMatrix message (no FNC1: not GS1 data) as ``^BX`` quality 200 field data:
    ``_`` (the escape character) becomes ``__``. It still goes through :func:`field_data`."""
    if not text:
        raise LabelDataError("datamatrix: expected a message, got ''")
    return text.replace(DATAMATRIX_ESCAPE, DATAMATRIX_ESCAPE * 2)


def code128_gs1_data(element_string: str) -> str:
    """An all-numeric GS1 element string (e.g. ``00`` + SSCC) as ``^BC`` field data.

    Subset C (``>;``) packs two digits per symbol character; ``>8`` is the leading FNC1.
    """
    if not element_string.isdigit() or not element_string.isascii():
        raise LabelDataError(
            f"gs1-128: expected an all-digit element string, got {element_string!r}"
        )
    if len(element_string) % 2:
        raise LabelDataError(
            f"gs1-128: expected an even number of digits for subset C,"
            f" got {len(element_string)} in {element_string!r}"
        )
    return ">;>8" + element_string


class ZplPrinter(SerialPrinter[HostStatus]):
    """A Zebra-compatible printer (ZPL II) on a serial port or a raw TCP port."""

    cancel_command = b"~JA"  # Cancel All: every format in the buffer

    def _on_open(self, port: serial.SerialBase) -> None:
        if self.config.print_speed is not None:
            port.write(f"^XA^PR{self.config.print_speed}^XZ".encode("ascii"))

    def _query_status(self, port: serial.SerialBase) -> HostStatus:
        """Ask ``~HS`` and parse the three status strings."""
        port.reset_input_buffer()
        port.write(HOST_STATUS_REQUEST)
        deadline = time.monotonic() + self.config.reply_timeout
        answer = bytearray()
        while answer.count(FRAME_END) < 3:
            if time.monotonic() >= deadline:
                raise PrinterTimeout(
                    f"~HS: expected three status strings within {self.config.reply_timeout} s,"
                    f" got {bytes(answer)!r}"
                )
            answer += port.read(port.in_waiting or 1)
        return HostStatus.parse(bytes(answer))

    def _printed_after(self, status: HostStatus) -> int:
        return self._sent - status.pending_labels

    def _pending(self, status: HostStatus) -> int:
        return status.pending_labels

    def host_status(self) -> HostStatus:
        """Ask ``~HS`` and parse the answer (and count the labels it shows out)."""
        return self._poll()
