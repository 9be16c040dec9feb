"""The edge builds its devices through the drivers' registries: a line whose unit printer
speaks DPL prints, verifies and commissions end to end on the DPL simulator, and the device
keys of the configuration (printer ``language``, ``flow_control``, ``print_speed``, scanner
framing and ``timeout_s``) reach the drivers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import serial
import zxingcpp

import gs1
from edge.batch import BatchAction
from edge.config import parse_config
from edge.ledger import BatchStart
from edge.printers import DplPrinter, FlowControl, PrinterLanguage, ZplPrinter
from edge.scanners import ScanOutcome, open_scanner
from edge.vision import QueueSource
from edge.wiring import (
    LabelContainerLabeller,
    LabelUnitPrinter,
    build_agent,
    build_devices,
    printer_driver,
)
from simulators.camera.transport import FrameQueue
from simulators.labels import PrintedLabel
from simulators.scanner.scanner import ScannerProfile, ScannerSimulator
from tests.edge.agent.line import GTIN, config_for, line_config, sim_devices, start_line
from tests.support.services import Broker

UNITS = 12


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.mark.mqtt
def test_a_dpl_unit_printer_prints_codes_the_camera_reads_and_the_line_commissions(
    tmp_path: Path, mosquitto: Broker
) -> None:
    line = start_line(printer_language="dpl")
    labels: list[PrintedLabel] = []
    lock = threading.Lock()

    def keep(label: PrintedLabel) -> None:
        with lock:
            labels.append(label)

    line.printer.subscribe(keep)
    try:
        config = config_for(
            tmp_path / "edge",
            mosquitto,
            line,
            units_per_case=5,
            cases_per_pallet=10,
            printer_settings={"language": "dpl", "print_speed": 4},
        )
        agent = build_agent(config, sim_devices(config, line))
        assert isinstance(agent.devices.printer, LabelUnitPrinter)
        assert isinstance(agent.devices.printer._driver, DplPrinter)
        agent.start()
        try:
            agent.start_batch(BatchStart(gtin=GTIN, lot="DPL1", expiry="281130", planned=UNITS))
            for index in range(UNITS):
                agent.trigger(f"u{index}")
            assert wait_for(lambda: len(labels) >= UNITS, 60)
            assert agent.pipeline.wait_idle(60)
            agent.transition(BatchAction.STOP)
            states = dict(
                agent.read(
                    lambda c: c.execute(
                        "SELECT state, count(*) FROM units GROUP BY state"
                    ).fetchall()
                )
            )
            serials = {
                row[0]
                for row in agent.read(lambda c: c.execute("SELECT serial FROM units").fetchall())
            }
        finally:
            agent.stop()
    finally:
        line.close()

    assert states == {"commissioned": UNITS}
    status = line.printer.status()
    assert status.zpl_issues == 0, status.recent_issues
    assert status.print_speed == 4  # the P record the driver adds for print_speed
    assert len(labels) == UNITS
    decoded = set()
    for label in labels:
        assert label.zpl.startswith("\x02L\rPG\rD11\r")  # DPL, print speed G = 4 ips
        [read] = zxingcpp.read_barcodes(label.image)
        assert read.symbology_identifier == "]d2"  # GS1 DataMatrix
        code = gs1.parse(read.text)
        assert isinstance(code, gs1.UnitCode)
        assert code.gtin.value == GTIN and code.lot == "DPL1"
        decoded.add(code.serial)
    assert decoded == serials


@pytest.mark.mqtt
def test_a_dpl_case_printer_labels_cases_that_the_scanner_reads_back(
    tmp_path: Path, mosquitto: Broker
) -> None:
    line = start_line(case_printer_language="dpl")
    labels: list[PrintedLabel] = []
    lock = threading.Lock()

    def keep(label: PrintedLabel) -> None:
        with lock:
            labels.append(label)

    line.case_printer.subscribe(keep)
    try:
        config = config_for(
            tmp_path / "edge",
            mosquitto,
            line,
            units_per_case=4,
            cases_per_pallet=10,
            case_printer_settings={"language": "dpl"},
        )
        agent = build_agent(config, sim_devices(config, line))
        assert isinstance(agent.devices.labeller, LabelContainerLabeller)
        assert isinstance(agent.devices.labeller._driver, DplPrinter)
        agent.start()
        try:
            agent.start_batch(BatchStart(gtin=GTIN, lot="DPL2", expiry="281130", planned=UNITS))
            for index in range(UNITS):
                agent.trigger(f"u{index}")
            assert wait_for(lambda: len(labels) >= UNITS // 4, 60)
            assert agent.pipeline.wait_idle(60)
            agent.transition(BatchAction.STOP)
            cases = agent.read(
                lambda c: c.execute(
                    "SELECT sscc, children FROM containers WHERE level = 'case'"
                    " AND state = 'closed' ORDER BY id"
                ).fetchall()
            )
        finally:
            agent.stop()
    finally:
        line.close()

    assert [children for _, children in cases] == [4] * (UNITS // 4)
    status = line.case_printer.status()
    assert status.zpl_issues == 0, status.recent_issues
    read_back = []
    for label in labels:
        assert label.zpl.startswith("\x02L\rD11\r1W1I")  # DPL, the SSCC as GS1-128
        [read] = zxingcpp.read_barcodes(label.image)
        assert read.symbology_identifier == "]C1"
        read_back.append(read.text.removeprefix("(00)"))
    assert read_back == [sscc for sscc, _ in cases]


def _config(tmp_path: Path, **kwargs: Any) -> Any:
    kwargs.setdefault("scanner_url", "loop://")
    kwargs.setdefault("case_printer_url", "socket://127.0.0.1:1")
    return parse_config(line_config(tmp_path, "mqtt://127.0.0.1:1", **kwargs))


@pytest.mark.parametrize(("language", "driver"), [("zpl", ZplPrinter), ("dpl", DplPrinter)])
def test_the_language_key_picks_the_driver_and_the_label_language(
    tmp_path: Path, language: str, driver: type
) -> None:
    config = _config(tmp_path, printer_settings={"language": language})
    assert config.devices.printer.language is PrinterLanguage(language)
    assert isinstance(printer_driver(config.devices.printer), driver)


class Recorder:
    """A port factory that records how the port was opened (a loop:// port underneath)."""

    def __init__(self) -> None:
        self.opened: list[dict[str, Any]] = []

    def __call__(self, url: str, **kwargs: Any) -> serial.SerialBase:
        self.opened.append(kwargs)
        return serial.serial_for_url("loop://", **kwargs)


@pytest.mark.parametrize(
    ("flow_control", "flags"),
    [
        ("none", (False, False, False)),
        ("xonxoff", (True, False, False)),
        ("rtscts", (False, True, False)),
        ("dsrdtr", (False, False, True)),
    ],
)
def test_the_flow_control_key_reaches_the_port(
    tmp_path: Path, flow_control: str, flags: tuple[bool, bool, bool]
) -> None:
    config = _config(tmp_path, printer_settings={"flow_control": flow_control, "baudrate": 19200})
    settings = config.devices.printer
    assert settings.flow_control is FlowControl(flow_control)
    recorder = Recorder()
    printer = printer_driver(settings, port_factory=recorder)  # as build_devices does
    printer.send(b"^XA^XZ")
    printer.close()
    [opened] = recorder.opened
    assert (opened["xonxoff"], opened["rtscts"], opened["dsrdtr"]) == flags
    assert opened["baudrate"] == 19200


def test_scanner_framing_keys_reach_the_scanner(tmp_path: Path) -> None:
    profile = ScannerProfile(terminator=b"\r\n", prefix=b"\x02", suffix=b"#")
    with ScannerSimulator(profile=profile) as simulator:
        config = _config(
            tmp_path,
            scanner_url=simulator.port,
            scanner_settings={"terminator": "CRLF", "prefix": "\\x02", "suffix": "#"},
        )
        settings = config.devices.scanner
        framing = settings.framing()
        assert (framing.terminator, framing.prefix, framing.suffix) == (b"\r\n", b"\x02", b"#")
        with open_scanner(settings) as scanner:
            simulator.scan("(00)095060001234567893")
            result = scanner.get(timeout=20)
    # with the default framing (CR, no prefix/suffix) this scan would be invalid
    assert result is not None and result.outcome is ScanOutcome.OK, result
    assert result.code == gs1.Sscc.parse("095060001234567893")


def test_scanner_timeout_s_is_how_long_the_packer_waits_for_a_read(tmp_path: Path) -> None:
    config = _config(tmp_path, scanner_settings={"timeout_s": 0.75})
    assert config.devices.scanner.timeout_s == 0.75
    agent = build_agent(
        config, build_devices(config, frame_source=QueueSource(FrameQueue(maxsize=1), name="t"))
    )
    try:
        assert isinstance(agent.devices.labeller, LabelContainerLabeller)
        assert agent.packer._read_timeout_s == 0.75
    finally:
        agent.devices.close()
