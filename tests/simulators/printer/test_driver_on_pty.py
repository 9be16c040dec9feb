"""The ZPL driver (edge) against the virtual printer (simulators) over a real pty."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import zxingcpp

from edge.printers import (
    BufferFull,
    HeadOpen,
    HostStatus,
    LabelBuilder,
    LabelTemplate,
    PaperOut,
    Paused,
    PrinterConfig,
    PrinterDisconnected,
    PrinterFault,
    PrinterTimeout,
    RibbonOut,
    ZplPrinter,
)
from gs1 import UnitCode
from simulators.labels import PrintedLabel
from simulators.printer import (
    FaultConfig,
    LabelFaultRule,
    PrinterSimConfig,
    PtyTransport,
    TcpTransport,
    VirtualPrinter,
)

BUILDER = LabelBuilder(LabelTemplate.builtin("unit-50x30-203"))


def label(n: int) -> bytes:
    code = UnitCode.create(gtin="09506000134352", serial=f"SN{n:06d}", lot="L1", expiry="281130")
    return BUILDER.unit_label(code)


class Line:
    def __init__(self, **config: Any) -> None:
        settings = {"line_timing": False, "print_time": False, **config}
        self.printer = VirtualPrinter(PrinterSimConfig(**settings)).start()
        self.labels: list[PrintedLabel] = []
        self.printer.subscribe(self.labels.append)
        self.transport = PtyTransport(self.printer).start()
        self.driver = ZplPrinter(
            PrinterConfig(url=self.transport.url, confirm_timeout=5, reply_timeout=0.5)
        )

    def close(self) -> None:
        self.driver.close()
        self.transport.stop()
        self.printer.stop()


@pytest.fixture
def line(request: pytest.FixtureRequest) -> Iterator[Line]:
    made = Line(**getattr(request, "param", {}))
    yield made
    made.close()


def test_labels_print_and_are_confirmed(line: Line) -> None:
    jobs = [line.driver.send(label(n)) for n in range(12)]
    line.driver.confirm(jobs[-1])
    assert [printed.index for printed in line.labels] == list(range(1, 13))
    first = line.labels[0]
    (barcode,) = zxingcpp.read_barcodes(first.image, text_mode=zxingcpp.TextMode.Plain)
    assert barcode.symbology_identifier == "]d2"
    assert barcode.text == "01095060001343521728113010L1\x1d21SN000000"
    assert first.data["datamatrix"] == barcode.text and first.faults == ()
    assert first.zpl.encode("latin-1") == label(0)


def test_host_status_answer_is_what_the_printer_state_says(line: Line) -> None:
    line.printer.set_state("head_open")
    line.printer.set_state("paused")
    status = line.driver.host_status()
    assert status == HostStatus.parse(line.printer.host_status())
    assert status.faults == {PrinterFault.HEAD_OPEN, PrinterFault.PAUSED}
    assert status.comm_settings == 0b1_0001_1100  # 115200 (1100), 8 data bits, 1 stop bit


@pytest.mark.parametrize(
    ("state", "error"),
    [
        ("paper_out", PaperOut),
        ("ribbon_out", RibbonOut),
        ("head_open", HeadOpen),
        ("paused", Paused),
    ],
)
def test_each_printer_fault_is_seen_as_its_error(
    line: Line, state: str, error: type[Exception]
) -> None:
    line.printer.set_state(state)
    job = line.driver.send(label(1))
    with pytest.raises(error):
        line.driver.confirm(job)
    assert line.labels == []
    line.printer.clear_faults()  # the operator fixes it: the buffered label prints
    line.driver.confirm(job)
    assert len(line.labels) == 1


@pytest.mark.parametrize("line", [dict(faults=FaultConfig(ribbon_out_after=3))], indirect=True)
def test_ribbon_out_after_n_labels(line: Line) -> None:
    jobs = [line.driver.send(label(n)) for n in range(5)]
    line.driver.confirm(jobs[2])
    with pytest.raises(RibbonOut) as raised:
        line.driver.confirm(jobs[3])
    assert raised.value.status is not None and raised.value.status.formats_in_buffer == 2
    assert len(line.labels) == 3


def test_pp_and_ps_pause_and_resume(line: Line) -> None:
    line.driver._io(lambda port: port.write(b"~PP"))
    job = line.driver.send(label(1))
    with pytest.raises(Paused):
        line.driver.confirm(job)
    line.driver._io(lambda port: port.write(b"~PS"))
    line.driver.confirm(job)


@pytest.mark.parametrize(
    "line", [dict(buffer_capacity=2, print_time=True, length=4000, print_speed=2)], indirect=True
)
def test_a_full_buffer_that_does_not_drain_is_buffer_full(line: Line) -> None:
    jobs = [line.driver.send(label(n)) for n in range(4)]
    with pytest.raises(BufferFull):
        line.driver.confirm(jobs[-1], timeout=0.3)


@pytest.mark.parametrize(
    "line",
    [dict(faults=FaultConfig(label={"missed": LabelFaultRule(labels=frozenset({2}))}))],
    indirect=True,
)
def test_missed_print_is_a_blank_label_the_driver_cannot_see(line: Line) -> None:
    line.driver.confirm(line.driver.send(label(1)))
    line.driver.confirm(line.driver.send(label(2)))  # confirmed: ~HS cannot tell
    assert line.labels[1].faults == ("missed",) and (line.labels[1].image == 255).all()


def test_runtime_label_faults_name_themselves(line: Line) -> None:
    line.printer.inject("smudge")
    line.printer.inject("low_contrast", count=2)
    jobs = [line.driver.send(label(n)) for n in range(3)]
    line.driver.confirm(jobs[-1])
    assert [p.faults for p in line.labels] == [("smudge", "low_contrast"), ("low_contrast",), ()]


def test_garbage_on_the_line_is_reported_and_the_driver_times_out(line: Line) -> None:
    line.printer.set_line_noise(1.0)
    with pytest.raises(PrinterTimeout):
        line.driver.confirm(line.driver.send(label(1)), timeout=0.3)
    line.printer.set_line_noise(0.0)
    status = line.printer.status()
    assert status.zpl_issues > 0 and status.labels_printed == 0
    line.driver.confirm(line.driver.send(label(2)))  # the line is clean again
    assert len(line.labels) == 1


def test_corrupted_command_is_reported_not_ignored(line: Line) -> None:
    line.printer.set_manipulator(lambda data: data.replace(b"^FO16,40", b"^FQ16,40"))
    line.driver.confirm(line.driver.send(label(1)))
    issues = line.printer.status().recent_issues
    assert [(i.reason, i.text) for i in issues] == [("unknown command", "^FQ16,40")]


@pytest.mark.parametrize("line", [dict(silent_when_faulted=True)], indirect=True)
def test_a_printer_silent_in_a_fault_is_a_timeout(line: Line) -> None:
    line.printer.set_state("ribbon_out")
    with pytest.raises(PrinterTimeout):
        line.driver.confirm(line.driver.send(label(1)), timeout=0.3)


def test_a_printer_that_is_gone_is_disconnected(line: Line) -> None:
    line.driver.confirm(line.driver.send(label(1)))
    line.driver.close()
    line.driver = ZplPrinter(
        PrinterConfig(url=line.transport.url, reconnect_attempts=1, reconnect_delay=0)
    )
    line.transport.stop()
    with pytest.raises(PrinterDisconnected):
        line.driver.send(label(2))


def test_the_same_driver_works_over_tcp() -> None:
    printer = VirtualPrinter(PrinterSimConfig(print_time=False)).start()
    try:
        with (
            TcpTransport(printer) as transport,
            ZplPrinter(PrinterConfig(url=transport.url, confirm_timeout=5)) as driver,
        ):
            assert transport.url.startswith("socket://127.0.0.1:")
            jobs = [driver.send(label(n)) for n in range(3)]
            driver.confirm(jobs[-1])
            assert printer.status().labels_printed == 3
    finally:
        printer.stop()
