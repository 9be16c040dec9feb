from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.printers.errors import LabelDataError
from edge.printers.zpl import code128_gs1_data, datamatrix_gs1_data, field_data


def unhex(field: str) -> bytes:
    """Undo ^FH\\ the way the ZPL guide describes it (independent of the simulator)."""
    return re.sub(rb"\\([0-9A-F]{2})", lambda m: bytes([int(m[1], 16)]), field.encode("ascii"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("LOT2611", "LOT2611"),
        ("a_b,c d", "a_b,c d"),
        ("^XZ", "\\5EXZ"),
        ("~HS", "\\7EHS"),
        ("back\\slash", "back\\5Cslash"),
        ("a\x1db", "a\\1Db"),
        ("line\r\n", "line\\0D\\0A"),
        ("\x7f", "\\7F"),
        ("Müsli", "M\\C3\\BCsli"),
        ("", ""),
    ],
)
def test_field_data_escapes_what_zpl_would_interpret(text: str, expected: str) -> None:
    assert field_data(text) == expected


@given(st.text())
def test_field_data_is_inert_and_round_trips(text: str) -> None:
    field = field_data(text)
    assert field.isascii() and field.isprintable()
    assert "^" not in field and "~" not in field
    assert unhex(field) == text.encode("utf-8")


def test_datamatrix_data_writes_fnc1_as_zebra_documents_for_gs1() -> None:
    assert datamatrix_gs1_data("0109506000134352\x1d21A_B") == "_10109506000134352_121A__B"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "datamatrix: expected a GS1 element string, got ''"),
        (
            "\x1d01",
            "datamatrix: expected an element string without a leading GS (FNC1 is implicit),"
            " got '\\x1d01'",
        ),
    ],
)
def test_datamatrix_data_errors(data: str, message: str) -> None:
    with pytest.raises(LabelDataError) as error:
        datamatrix_gs1_data(data)
    assert str(error.value) == message


def test_code128_data_is_subset_c_with_leading_fnc1() -> None:
    assert code128_gs1_data("00095060001234567893") == ">;>800095060001234567893"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("00ABC", "gs1-128: expected an all-digit element string, got '00ABC'"),
        ("001", "gs1-128: expected an even number of digits for subset C, got 3 in '001'"),
        ("", "gs1-128: expected an all-digit element string, got ''"),
    ],
)
def test_code128_data_errors(data: str, message: str) -> None:
    with pytest.raises(LabelDataError) as error:
        code128_gs1_data(data)
    assert str(error.value) == message
