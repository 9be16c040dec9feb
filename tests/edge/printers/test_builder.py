from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.printers import LabelBuilder, LabelDataError, LabelTemplate
from gs1 import Sscc, UnitCode

CODE = UnitCode.create(gtin="09506000134352", serial="A1B2C3", lot="LOT2611", expiry="281130")
SSCC = Sscc.parse("095060001234567893")


def test_unit_label_50x30_203_is_byte_exact() -> None:
    zpl = LabelBuilder(LabelTemplate.builtin("unit-50x30-203")).unit_label(CODE)
    assert zpl == (
        b"^XA^PW400^LL240"
        b"^FO16,40^BXN,4,200,0,0,6,_^FH\\^FD_101095060001343521728113010LOT2611_121A1B2C3^FS"
        b"^FO180,30^A0N,24,11^FH\\^FDGTIN 09506000134352^FS"
        b"^FO180,80^A0N,24,11^FH\\^FDSN A1B2C3^FS"
        b"^FO180,130^A0N,24,11^FH\\^FDLOT LOT2611^FS"
        b"^FO180,180^A0N,24,11^FH\\^FDEXP 2028-11-30^FS^XZ"
    )


def test_unit_label_40x24_300_is_byte_exact() -> None:
    zpl = LabelBuilder(LabelTemplate.builtin("unit-40x24-300")).unit_label(CODE)
    assert zpl == (
        b"^XA^PW472^LL283"
        b"^FO20,30^BXN,5,200,0,0,6,_^FH\\^FD_101095060001343521728113010LOT2611_121A1B2C3^FS"
        b"^FO215,30^A0N,32,13^FH\\^FDGTIN 09506000134352^FS"
        b"^FO215,92^A0N,32,13^FH\\^FDSN A1B2C3^FS"
        b"^FO215,154^A0N,32,13^FH\\^FDLOT LOT2611^FS"
        b"^FO215,216^A0N,32,13^FH\\^FDEXP 2028-11-30^FS^XZ"
    )


def test_sscc_label_is_byte_exact() -> None:
    builder = LabelBuilder(LabelTemplate.builtin("sscc-100x150-203"))
    zpl = builder.logistic_label(SSCC, {"content": "48 x Paracetamol 500 mg"})
    assert zpl == (
        b"^XA^PW812^LL1218"
        b"^FO54,820^BY4^BCN,260,N,N,N^FH\\^FD>;>800095060001234567893^FS"
        b"^FO54,40^A0N,60,50^FH\\^FDSSCC^FS"
        b"^FO54,120^A0N,60,40^FH\\^FD095060001234567893^FS"
        b"^FO54,220^A0N,40,30^FH\\^FD48 x Paracetamol 500 mg^FS"
        b"^FO100,1100^A0N,44,32^FH\\^FD(00)095060001234567893^FS^XZ"
    )


def test_lines_whose_field_is_missing_are_left_out() -> None:
    builder = LabelBuilder(LabelTemplate.builtin("unit-50x30-203"))
    zpl = builder.unit_label(UnitCode.create(gtin="09506000134352", serial="S1"))
    assert b"LOT" not in zpl and b"EXP" not in zpl
    assert b"^FD_10109506000134352_121S1^FS" not in zpl  # no separator without a lot
    assert b"^FD_1010950600013435221S1^FS" in zpl
    no_content = LabelBuilder(LabelTemplate.builtin("sscc-100x150-203")).logistic_label(SSCC)
    assert no_content.count(b"^FD") == 4


def test_day_00_expiry_prints_year_and_month() -> None:
    code = UnitCode.create(gtin="09506000134352", serial="S1", expiry="281100")
    zpl = LabelBuilder(LabelTemplate.builtin("unit-50x30-203")).unit_label(code)
    assert b"^FDEXP 2028-11^FS" in zpl


def test_data_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(LabelDataError) as error:
        LabelBuilder(LabelTemplate.builtin("unit-50x30-203")).logistic_label(SSCC)
    assert str(error.value) == (
        "template 'unit-50x30-203': expected logistic label data, got data for a unit label"
    )


def test_undeclared_variables_are_refused() -> None:
    with pytest.raises(LabelDataError) as error:
        LabelBuilder(LabelTemplate.builtin("sscc-100x150-203")).logistic_label(
            SSCC, {"content": "x", "customer": "y"}
        )
    assert str(error.value) == (
        "template 'sscc-100x150-203': variables: expected names from ['content'], got ['customer']"
    )


COMMAND = re.compile(rb"[\^~]([A-Z0-9@]{1,2})")


@given(st.text())
def test_hostile_variable_text_never_breaks_the_label(text: str) -> None:
    zpl = LabelBuilder(LabelTemplate.builtin("sscc-100x150-203")).logistic_label(
        SSCC, {"content": text}
    )
    assert zpl.isascii()
    assert zpl.startswith(b"^XA") and zpl.endswith(b"^XZ")
    assert zpl.count(b"^XA") == 1 and zpl.count(b"^XZ") == 1 and b"~" not in zpl
    assert zpl.count(b"^FD") == zpl.count(b"^FS") == 5
    content = zpl.split(b"^FO54,220^A0N,40,30^FH\\^FD", 1)[1].split(b"^FS", 1)[0]
    assert re.sub(rb"\\([0-9A-F]{2})", lambda m: bytes([int(m[1], 16)]), content) == text.encode(
        "utf-8"
    )
    assert (b"^CI28" in zpl) == (not text.isascii())
