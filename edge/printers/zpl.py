"""ZPL II encoding: field data that cannot break out of its field, and GS1 barcode data.

Every field the builder writes is ``^FH\\^FD…^FS``: the hexadecimal indicator is ``\\`` (not
the default ``_``, which the DataMatrix escape sequences need), and every byte that could end
the field or start a command — ``^``, ``~``, ``\\``, control characters, DEL and every
non-ASCII byte of the UTF-8 text — is written as ``\\hh``. The printer turns ``\\hh`` back into
the byte before it interprets the field, so the data round-trips byte for byte.

GS1 barcodes follow Zebra's documentation for GS1:

* DataMatrix: ``^BXN,h,200,0,0,6,_`` sets ``_`` as the escape character; ``_1`` is FNC1 (the
  leading GS1 flag and each separator after a variable-length AI) and a ``_`` of the data is
  written ``__``. Field hex processing (``^FH``) happens before escape processing.
* Code 128: ``>;`` starts subset C and ``>8`` is FNC1, so an SSCC is ``>;>800`` + 18 digits.
"""

from __future__ import annotations

from edge.printers.errors import LabelDataError

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
