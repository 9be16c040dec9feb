"""Whatever the data, the builder's label reaches the printer as exactly one format with the
same data: the builder (edge) and the virtual printer (simulators) agree on the wire."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.printers import LabelBuilder, LabelTemplate
from edge.printers.zpl import datamatrix_gs1_data, field_data
from gs1 import Sscc
from simulators.printer.zpl import DataMatrixField, FormatReader, LabelFormat, TextField

BUILDER = LabelBuilder(LabelTemplate.builtin("sscc-100x150-203"))
SSCC = Sscc.parse("095060001234567893")
PIECES = ["^", "~", "_", "\\", ",", "\x00", "\x1d", "\r", "\n", "\x7f", "é", "^XZ", "~JA",
          "^XA", "_1", "\\5E", "€", "A"]  # fmt: skip
HOSTILE = st.lists(st.sampled_from(PIECES), max_size=20).map("".join) | st.text(max_size=40)


@settings(max_examples=200)
@given(HOSTILE)
def test_hostile_text_is_one_label_with_the_same_text(text: str) -> None:
    events = FormatReader().feed(BUILDER.logistic_label(SSCC, {"content": text}))
    assert len(events) == 1 and isinstance(events[0], LabelFormat)
    texts = [f.text for f in events[0].fields if isinstance(f, TextField)]
    assert texts[2] == text


@settings(max_examples=200)
@given(HOSTILE.filter(lambda s: s and not s.startswith("\x1d")))
def test_hostile_datamatrix_data_round_trips(data: str) -> None:
    zpl = (
        "^XA^FO0,0^BXN,4,200,0,0,6,_^FH\\^FD" + field_data(datamatrix_gs1_data(data)) + "^FS^XZ"
    ).encode("ascii")
    events = FormatReader().feed(zpl)
    assert len(events) == 1 and isinstance(events[0], LabelFormat)
    field = events[0].fields[0]
    assert isinstance(field, DataMatrixField) and field.gs1
    # The reader decodes ^FH bytes as Latin-1 without ^CI28; compare bytes.
    assert field.content.encode("latin-1") == data.encode("utf-8")
