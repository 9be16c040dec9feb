"""The DPL label builder, status parsing and the printer registry (pure: no port)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.printers import (
    LANGUAGES,
    DplLabelBuilder,
    DplPrinter,
    DplStatus,
    LabelBuilder,
    LabelDataError,
    LabelTemplate,
    PrinterFault,
    PrinterLanguage,
    PrinterProtocolError,
    PrinterSettings,
    PrinterTimeout,
    ZplPrinter,
    label_builder,
    open_printer,
)
from edge.printers.dpl import datamatrix_side, speed_letter
from gs1 import CSET82, Sscc, UnitCode
from tests.edge.printers.ports import FakePort

CODE = UnitCode.create(gtin="09506000134352", serial="A1B2C3", lot="LOT2611", expiry="281130")
UNIT = LabelTemplate.builtin("unit-50x30-203")
SSCC_TEMPLATE = LabelTemplate.builtin("sscc-100x150-203")


def test_unit_label_50x30_203_is_byte_exact() -> None:
    dpl = DplLabelBuilder(UNIT).unit_label(CODE)
    assert dpl == (
        b"\x02L\rD11\r"
        b"1W1C440000055000800532000000000"
        b"\x1d01095060001343521728113010LOT2611\x1d21A1B2C3\r"
        b"1911A0900920089GTIN 09506000134352\r"
        b"1911A0900670089SN A1B2C3\r"
        b"1911A0900420089LOT LOT2611\r"
        b"1911A0900180089EXP 2028-11-30\r"
        b"E\r"
    )
    # the byte count covers ECC 200 settings and data: 10 + 43
    assert dpl.split(b"\r")[2][17:21] == b"0053"


def test_text_that_dpl_cannot_carry_is_refused_naming_it() -> None:
    code = UnitCode.create(gtin="09506000134352", serial="A1", lot="L1", expiry="281130")
    builder = DplLabelBuilder(UNIT)
    with pytest.raises(LabelDataError, match="dpl text: expected printable ASCII"):
        builder._format("\x1d01", {"gtin": "x\ry"}, {})
    assert builder.unit_label(code).endswith(b"E\r")


def test_sscc_label_100x150_203_is_byte_exact() -> None:
    sscc = Sscc.parse("095060001234567893")
    dpl = DplLabelBuilder(SSCC_TEMPLATE).logistic_label(sscc, {"content": "24 x Product"})
    assert dpl == (
        b"\x02L\rD11\r"
        # W1I: bar widths 4 dots, height 260 dots = 1.28 inch, row (1218 - 820 - 260 dots
        # from the bottom) 0.68 inch, column 54 dots = 0.27 inch; 00 + the SSCC
        b"1W1I441280068002700095060001234567893\r"
        b"1911A2105510027SSCC\r"
        b"1911A2105110027095060001234567893\r"
        b"1911A140472002724 x Product\r"
        b"E\r"
    )  # no {sscc_hri} line: W1I prints its own interpretation line under the bars


def test_each_label_kind_needs_its_own_data() -> None:
    with pytest.raises(LabelDataError, match="expected logistic label data, got data for a unit"):
        DplLabelBuilder(UNIT).logistic_label(Sscc.parse("095060001234567893"))
    with pytest.raises(LabelDataError, match="expected unit label data, got data for a logistic"):
        DplLabelBuilder(SSCC_TEMPLATE).unit_label(CODE)
    assert label_builder("dpl", SSCC_TEMPLATE).template is SSCC_TEMPLATE


@pytest.mark.parametrize(
    ("language", "driver", "builder", "start"),
    [
        ("zpl", ZplPrinter, LabelBuilder, b"^XA"),
        ("dpl", DplPrinter, DplLabelBuilder, b"\x02L\r"),
    ],
)
def test_the_registry_builds_each_language(
    language: str, driver: type, builder: type, start: bytes
) -> None:
    settings = PrinterSettings(url="loop://", language=language)  # type: ignore[arg-type]
    printer = open_printer(settings)
    assert isinstance(printer, driver)
    made = label_builder(language, UNIT)
    assert isinstance(made, builder)
    assert made.unit_label(CODE).startswith(start)
    printer.close()


def test_every_language_has_a_registry_entry() -> None:
    assert set(LANGUAGES) == set(PrinterLanguage)


@pytest.mark.parametrize(
    ("raw", "faults"),
    [
        (b"NNNNNNNN", frozenset()),
        (b"NYNNNNNN", {PrinterFault.PAPER_OUT}),
        (b"NNYNNNNN", {PrinterFault.RIBBON_OUT}),
        (b"NNNNNYNN", {PrinterFault.PAUSED}),
        (b"YYYYYYYN", {PrinterFault.PAPER_OUT, PrinterFault.RIBBON_OUT, PrinterFault.PAUSED}),
    ],
)
def test_status_flags(raw: bytes, faults: frozenset[PrinterFault]) -> None:
    assert DplStatus.parse(raw).faults == faults


@pytest.mark.parametrize("raw", [b"", b"NNNNNNN", b"NNNNNNNNN", b"NNNNNNNX", b"\x1eNNNNNNN"])
def test_a_status_that_is_not_eight_flags_is_a_protocol_error(raw: bytes) -> None:
    with pytest.raises(PrinterProtocolError, match="expected eight Y/N flags"):
        DplStatus.parse(raw)


def test_print_speed_letters_and_limits() -> None:
    assert [speed_letter(ips) for ips in (1, 4, 6, 13)] == ["A", "G", "K", "Y"]
    with pytest.raises(ValueError, match="print_speed: expected 1 to 13 ips for DPL, got 14"):
        speed_letter(14)


def test_datamatrix_side_follows_ecc200_capacity() -> None:
    # FNC1 1 + digit pairs 8 + 4 + 1 + LOT2611 5 + GS 1 + 21 1 + A1B2C3 6 = 27 codewords
    assert datamatrix_side("\x1d01095060001343521728113010LOT2611\x1d21A1B2C3") == 22
    assert datamatrix_side("12") == 10
    with pytest.raises(LabelDataError, match="do not fit"):
        datamatrix_side("A" * 2000)


@given(
    serial=st.text(alphabet=sorted(CSET82), min_size=1, max_size=20),
    lot=st.text(alphabet=sorted(CSET82), min_size=1, max_size=20),
)
def test_any_gs1_serial_and_lot_stay_in_their_record(serial: str, lot: str) -> None:
    code = UnitCode.create(gtin="09506000134352", serial=serial, lot=lot, expiry="281130")
    dpl = DplLabelBuilder(UNIT).unit_label(code)
    assert dpl.isascii() and dpl.startswith(b"\x02L\r") and dpl.endswith(b"\rE\r")
    assert dpl.count(b"\x02") == 1 and b"\x01" not in dpl
    record = dpl.split(b"\r", 2)[2]
    count = int(record[17:21])
    payload = record[21 : 21 + count]
    assert payload == b"2000000000\x1d" + code.element_string().encode("ascii")
    assert record[21 + count : 22 + count] == b"\r"  # the byte count ends the record exactly


def test_a_port_that_answers_garbage_gives_errors_within_the_deadlines() -> None:
    # loop:// echoes every byte the driver writes: never a status line, never an RS
    printer = open_printer(
        PrinterSettings(url="loop://", language=PrinterLanguage.DPL, reply_timeout=0.3)
    )
    try:
        job = printer.send(DplLabelBuilder(UNIT).unit_label(CODE))
        with pytest.raises(PrinterProtocolError, match="expected eight Y/N flags"):
            printer.status()  # the echoed label's first record is no status
        # as with ZPL: a status that never comes is named, not a label that never printed
        with pytest.raises(PrinterTimeout, match=r"^job 1: no valid status answer within 0\.5 s"):
            printer.confirm(job, timeout=0.5)
    finally:
        printer.close()


class FeedbackPort(FakePort):
    """A DPL printer that answers <SOH>A with the status line and, in the same read, the RS
    of a label that came out just after it."""

    def write(self, data: bytes) -> int:
        if data == b"\x01A":
            self.inbox += b"NNNNNNNN\r\x1e"
        return len(data)


def test_a_label_out_right_after_a_status_line_is_counted() -> None:
    port = FeedbackPort()
    printer = DplPrinter(
        PrinterSettings(url="dpl://", language=PrinterLanguage.DPL, reply_timeout=0.2),
        port_factory=lambda url, **kwargs: port,
    )
    job = printer.send(DplLabelBuilder(UNIT).unit_label(CODE))
    assert printer.status().faults == frozenset()
    printer.confirm(job, timeout=0.5)  # the RS read with the status line was not dropped
    assert printer.printed == 1


def test_dpl_has_no_command_that_cancels_every_waiting_label() -> None:
    port = FeedbackPort()
    printer = DplPrinter(
        PrinterSettings(url="dpl://", language=PrinterLanguage.DPL, reply_timeout=0.2),
        port_factory=lambda url, **kwargs: port,
    )
    printer.send(DplLabelBuilder(UNIT).unit_label(CODE))
    # <SOH>C cancels the label being printed only: the agent tells the operator instead
    assert printer.cancel_pending() is None
