from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.printers import LabelBuilder, LabelTemplate
from gs1 import UnitCode
from simulators.printer.zpl import (
    DataMatrixField,
    FormatReader,
    Immediate,
    LabelFormat,
    TextField,
    ZplIssue,
    decode_datamatrix,
)

ZPL = LabelBuilder(LabelTemplate.builtin("unit-50x30-203")).unit_label(
    UnitCode.create(gtin="09506000134352", serial="A_1", lot="L1", expiry="281130")
)


def test_reads_the_builders_unit_label() -> None:
    events = FormatReader().feed(ZPL)
    assert len(events) == 1 and isinstance(events[0], LabelFormat)
    label = events[0]
    assert (label.width, label.length, label.raw) == (400, 240, ZPL)
    barcode = label.fields[0]
    assert barcode == DataMatrixField(16, 40, 4, True, "01095060001343521728113010L1\x1d21A_1")
    assert label.fields[1] == TextField(180, 30, "0", 24, 11, "GTIN 09506000134352")


@given(st.lists(st.integers(1, len(ZPL) - 1), max_size=8))
def test_any_split_of_the_stream_reads_the_same(cuts: list[int]) -> None:
    reader = FormatReader()
    points = [0, *sorted(cuts), len(ZPL)]
    events = [e for a, b in itertools.pairwise(points) for e in reader.feed(ZPL[a:b])]
    assert events == FormatReader().feed(ZPL)


def test_immediate_commands_between_and_inside_formats() -> None:
    events = FormatReader().feed(b"~HS^XA^FO1,1~HS^FDx^FS^XZ~PS~PP~JA")
    assert [type(e).__name__ for e in events] == [
        "Immediate", "Immediate", "LabelFormat", "Immediate", "Immediate", "Immediate"
    ]  # fmt: skip
    assert [e.name for e in events if isinstance(e, Immediate)] == ["HS", "HS", "PS", "PP", "JA"]


@pytest.mark.parametrize(
    ("stream", "issue"),
    [
        (b"^XA^GB100,2,2^FS^XZ", ZplIssue("unknown command", "^GB100,2,2")),
        (b"~WC^XA^XZ", ZplIssue("unknown command", "~WC")),
        (b"hello^XA^XZ", ZplIssue("bytes outside any command", "hello")),
        (b"^FO1,1^XA^XZ", ZplIssue("command outside ^XA … ^XZ", "^FO1,1")),
        (
            b"^XA^FOx,1^XZ",
            ZplIssue("bad parameters: invalid literal for int() with base 10: 'x'", "^FOx,1"),
        ),
        (
            b"^XA^FDa^XA^XZ",
            ZplIssue("^XA inside a format: the unfinished format is dropped", "^XA"),
        ),
        (b"^XA^FDa^XZ", ZplIssue("^XZ before ^FS: the open field is dropped", "^XZ")),
        (
            b"^XA^BXN,4,140^FDa^FS^XZ",
            ZplIssue("bad parameters: expected quality 200 (ECC 200)", "^BXN,4,140"),
        ),
        (
            b"^XA^BXN,4,200,,,,_^FD_9x^FS^XZ",
            ZplIssue("datamatrix: unsupported escape sequence '_9x'", "_9x"),
        ),
    ],
)
def test_what_the_printer_does_not_understand_is_reported(stream: bytes, issue: ZplIssue) -> None:
    assert issue in FormatReader().feed(stream)


def test_print_speed_and_hex_fields() -> None:
    events = FormatReader().feed(b"^XA^PR8^XZ^XA^CI28^FH^FDM_C3_BCsli_5E^FS^XZ")
    assert events[0].inches_per_second == 8  # type: ignore[union-attr]
    label = events[1]
    assert isinstance(label, LabelFormat) and label.fields[0].text == "Müsli^"  # type: ignore[union-attr]


def test_datamatrix_escape_sequences() -> None:
    assert decode_datamatrix("_10112_121a__b_d065_G", "_") == (True, "0112\x1d21a_bA\x07")
    assert decode_datamatrix("plain", "_") == (False, "plain")
