"""Printers print any identity.UnitIdentity: a non-GS1 scheme's plain DataMatrix comes out
of the ZPL and DPL builders, and the virtual printer's rendering reads back as that code."""

from __future__ import annotations

import datetime as dt

import pytest
import zxingcpp

from edge.printers import DplLabelBuilder, LabelBuilder, LabelDataError, LabelTemplate
from edge.printers.zpl import datamatrix_plain_data
from identity import PrintPayload, ScanMatch, UnitKey
from simulators.printer.dpl import DplReader
from simulators.printer.render import render
from simulators.printer.zpl import FormatReader, LabelFormat
from tests.identity.toy import TOY, ToyCode

CODE = TOY.unit("123456", "0000000042", lot="L7", expiry=dt.date(2028, 11, 30))
TEMPLATE = LabelTemplate.builtin("unit-50x30-203")


def read_back(label: LabelFormat) -> zxingcpp.Barcode:
    result = render(label, TEMPLATE.width, TEMPLATE.length)
    assert result.errors == ()
    (barcode,) = zxingcpp.read_barcodes(result.image, text_mode=zxingcpp.TextMode.Plain)
    return barcode


def test_zpl_prints_a_plain_datamatrix_without_fnc1() -> None:
    zpl = LabelBuilder(TEMPLATE).unit_label(CODE)
    assert b"^FH\\^FDTOY1234560000000042^FS" in zpl and b"_1" not in zpl
    # text lines: SN and LOT come from the payload's fields; GTIN and EXP name fields a
    # toy code does not carry, so those lines are left out
    assert b"SN 0000000042" in zpl and b"LOT L7" in zpl
    assert b"GTIN" not in zpl and b"EXP" not in zpl
    (label,) = FormatReader().feed(zpl)
    assert isinstance(label, LabelFormat)
    barcode = read_back(label)
    assert barcode.symbology_identifier == "]d1" and barcode.text == "TOY1234560000000042"
    assert CODE.matches(barcode.symbology_identifier + barcode.text).ok


def test_dpl_prints_a_plain_datamatrix_without_gs() -> None:
    dpl = DplLabelBuilder(TEMPLATE).unit_label(CODE)
    assert b"2000000000TOY1234560000000042\r" in dpl and b"\x1d" not in dpl
    (label,) = [event for event in DplReader().feed(dpl) if isinstance(event, LabelFormat)]
    barcode = read_back(label)
    assert barcode.symbology_identifier == "]d1" and barcode.text == "TOY1234560000000042"


def test_the_zpl_escape_character_is_doubled_in_plain_data() -> None:
    assert datamatrix_plain_data("A_B") == "A__B"
    with pytest.raises(LabelDataError, match="datamatrix: expected a message, got ''"):
        datamatrix_plain_data("")


class QrOnly(ToyCode):
    """A scheme asking for a barcode the drivers do not print."""

    def printer_payload(self) -> PrintPayload:
        return PrintPayload("qr", self.text(), {})


@pytest.mark.parametrize("builder", [LabelBuilder, DplLabelBuilder])
def test_a_symbology_the_drivers_do_not_print_is_refused(builder: type[LabelBuilder]) -> None:
    with pytest.raises(LabelDataError) as raised:
        builder(TEMPLATE).unit_label(QrOnly("123456", "0000000042"))
    assert str(raised.value) == (
        "toy unit: symbology: expected one of ['datamatrix', 'gs1-datamatrix'], got 'qr'"
    )


def test_dpl_refuses_plain_data_it_cannot_send() -> None:
    class Hostile(ToyCode):
        def printer_payload(self) -> PrintPayload:
            return PrintPayload("datamatrix", "TOY\r1", {})

    with pytest.raises(LabelDataError, match=r"dpl datamatrix: expected printable ASCII"):
        DplLabelBuilder(TEMPLATE).unit_label(Hostile("123456", "0000000042"))


def test_the_toy_code_is_what_it_says() -> None:  # guards the helper the tests rely on
    assert CODE.key() == UnitKey("toy", "123456", "0000000042")
    assert CODE.matches("]d2x") == ScanMatch(
        None, error="symbology_identifier: expected ']d1', got ']d2'"
    )
