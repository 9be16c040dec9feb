"""The DPL driver (edge) against the virtual printer speaking DPL (simulators), over a real
pty and TCP; the simulator's DPL reader on hostile bytes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import zxingcpp

from edge.printers import (
    DplLabelBuilder,
    DplPrinter,
    LabelTemplate,
    PaperOut,
    Paused,
    PrinterSettings,
    PrinterTimeout,
    RibbonOut,
)
from gs1 import Sscc, UnitCode
from simulators.labels import PrintedLabel
from simulators.printer import PrinterSimConfig, PtyTransport, TcpTransport, VirtualPrinter
from simulators.printer.dpl import DplReader
from simulators.printer.zpl import DataMatrixField, Immediate, LabelFormat, TextField, ZplIssue

BUILDER = DplLabelBuilder(LabelTemplate.builtin("unit-50x30-203"))
SSCC_BUILDER = DplLabelBuilder(LabelTemplate.builtin("sscc-100x150-203"))


def code(n: int) -> UnitCode:
    return UnitCode.create(gtin="09506000134352", serial=f"SN{n:06d}", lot="L1", expiry="281130")


class Line:
    def __init__(self, transport: str = "pty", **media: int) -> None:
        config = PrinterSimConfig(language="dpl", line_timing=False, print_time=False, **media)
        self.printer = VirtualPrinter(config).start()
        self.labels: list[PrintedLabel] = []
        self.printer.subscribe(self.labels.append)
        self.transport = (
            PtyTransport(self.printer) if transport == "pty" else TcpTransport(self.printer)
        ).start()
        self.driver = DplPrinter(
            PrinterSettings(
                url=self.transport.url, language="dpl", confirm_timeout=30, reply_timeout=2
            )
        )

    def close(self) -> None:
        self.driver.close()
        self.transport.stop()
        self.printer.stop()


@pytest.fixture(params=["pty", "tcp"])
def line(request: pytest.FixtureRequest) -> Iterator[Line]:
    sim = Line(request.param)
    yield sim
    sim.close()


def test_labels_are_confirmed_by_feedback_and_decode(line: Line) -> None:
    jobs = [line.driver.send(BUILDER.unit_label(code(n))) for n in range(10)]
    line.driver.confirm(jobs[-1])
    assert line.driver.printed == 10
    assert line.driver.status().pending_labels == 0
    assert [label.index for label in line.labels] == list(range(1, 11))
    for n, label in enumerate(line.labels):
        [read] = zxingcpp.read_barcodes(label.image)
        assert read.symbology_identifier == "]d2"
        assert read.text == f"(01)09506000134352(17)281130(10)L1(21)SN{n:06d}"
    assert line.printer.status().zpl_issues == 0


@pytest.mark.parametrize(
    ("state", "error"), [("paper_out", PaperOut), ("ribbon_out", RibbonOut), ("paused", Paused)]
)
def test_a_fault_stops_the_job_with_its_error(line: Line, state: str, error: type) -> None:
    line.printer.set_state(state)
    job = line.driver.send(BUILDER.unit_label(code(1)))
    with pytest.raises(error):
        line.driver.confirm(job)
    line.printer.clear_faults()
    line.driver.confirm(job)  # the format waited in the buffer and prints now
    assert len(line.labels) == 1


def test_head_open_shows_as_a_fault_too(line: Line) -> None:
    line.printer.set_state("head_open")
    job = line.driver.send(BUILDER.unit_label(code(1)))
    with pytest.raises(PaperOut):  # DPL's flag b: paper out *or fault*
        line.driver.confirm(job)


def test_a_printer_that_never_prints_times_out(line: Line) -> None:
    line.printer.set_state("paused")
    line.printer.set_manipulator(lambda data: data.replace(b"\x01A", b""))  # no status either
    job = line.driver.send(BUILDER.unit_label(code(1)))
    with pytest.raises(PrinterTimeout, match=r"^job 1: no valid status answer within 0\.5 s"):
        line.driver.confirm(job, timeout=0.5)


def test_a_case_label_prints_its_sscc_as_gs1_128() -> None:
    # a case printer loaded with 100 x 150 mm media
    line = Line(width=812, length=1218)
    try:
        sscc = Sscc.parse("095060001234567893")
        line.driver.print_label(SSCC_BUILDER.logistic_label(sscc, {"content": "24 x Product"}))
        [label] = line.labels
        [read] = zxingcpp.read_barcodes(label.image)
        assert read.format == zxingcpp.BarcodeFormat.Code128
        assert (read.symbology_identifier, read.text) == ("]C1", "(00)095060001234567893")
        assert label.data["code128_hri"] == "(00)095060001234567893"
        assert "24 x Product" in label.data["text"]
        # the bars sit where the template puts them (x 54, y 820 to 1080 dots)
        top, bottom = read.position.top_left, read.position.bottom_left
        assert abs(top.x - 54) <= 25 and abs(top.y - 820) <= 4 and abs(bottom.y - 1079) <= 4
        assert line.printer.status().zpl_issues == 0
    finally:
        line.close()


def test_a_gs1_128_record_the_reader_cannot_read_is_an_issue() -> None:
    reader = DplReader(dpi=203, length=1218)
    events = reader.feed(b"\x02L\r1W1I4412800680027\r1W1I4X1280068002700123\rE\r")
    issues = [e.reason for e in events if isinstance(e, ZplIssue)]
    assert len(issues) == 2 and all(i.startswith("gs1-128: expected 1W1I") for i in issues)
    [printed] = [e for e in events if isinstance(e, LabelFormat)]
    assert printed.fields == ()


def test_the_reader_reports_what_it_does_not_understand_and_goes_on() -> None:
    reader = DplReader(dpi=203, length=240)
    label = BUILDER.unit_label(code(1))
    hostile = (
        b"garbage\x01Z\x02Q"  # bytes outside commands, unknown <SOH>, unknown <STX>
        + b"\x02L\rD11\rXYZ\r1W1Cxx\r1W1C44000abcd\r1911Azz00000000x\rE\r"
        + label[:10]
        + label[10:]  # a good label after the bad one, split anywhere
        + b"\x01A"
    )
    events = []
    for i in range(0, len(hostile), 7):
        events += reader.feed(hostile[i : i + 7])
    issues = [e.reason for e in events if isinstance(e, ZplIssue)]
    assert issues == [
        "bytes outside any command",
        "unknown immediate command",
        "unknown system command",
        "unsupported record",
        "datamatrix: expected a 4-digit byte count",
        "datamatrix: expected a 4-digit byte count",
        "text: expected A + 2-digit points, row, column",
    ]
    formats = [e for e in events if isinstance(e, LabelFormat)]
    assert len(formats) == 2
    [dm] = [f for f in formats[1].fields if isinstance(f, DataMatrixField)]
    assert dm.gs1 and dm.content == "01095060001343521728113010L1\x1d21SN000001"
    assert dm.anchor_bottom and dm.module == 4
    assert next(f.text for f in formats[1].fields if isinstance(f, TextField)).startswith("GTIN")
    assert events[-1] == Immediate("status")


def test_an_endless_record_is_dropped_not_kept() -> None:
    reader = DplReader()
    events = reader.feed(b"\x02L\r" + b"1" * 70_000)
    assert [e.reason for e in events if isinstance(e, ZplIssue)] == ["record longer than 64 KiB"]
    assert not reader.in_format
    assert any(isinstance(e, LabelFormat) for e in reader.feed(BUILDER.unit_label(code(2))))
