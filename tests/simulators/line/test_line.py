"""The line simulator: every device reachable where its endpoints say, as a controller sees it."""

from __future__ import annotations

import json
import queue
import time

import paho.mqtt.client as paho
import pytest
import zxingcpp
from paho.mqtt.enums import CallbackAPIVersion

import gs1
from edge.printers import LabelBuilder, PrinterConfig, ZplPrinter, load_template
from edge.scanners import ScannerConfig, SerialScanner
from simulators.line import SCENARIO_DIR, LineSimulator, Scenario, ScenarioError
from tests.support.services import Broker

UNIT = gs1.UnitCode.create(gtin="09506000134352", serial="SN0001", lot="L1", expiry="281130")


@pytest.mark.parametrize("path", sorted(SCENARIO_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_loads(path):
    scenario = Scenario.load(path)
    assert scenario.name == path.stem
    assert scenario.description


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"line": {"rate": 1}}, "line.rate: unknown key; expected one of"),
        ({"line": {"rate_per_minute": 0}}, "line.rate_per_minute: expected more than 0, got 0"),
        ({"line": {"site": 3}}, "line.site: expected str, got 3"),
        ({"printer": {"transport": "usb"}}, "printer.transport: expected one of ('pty', 'tcp')"),
        ({"camera": {"preset": "foggy"}}, "camera.preset: expected one of"),
        ({"camera": {"lens": 1}}, "camera.lens: unknown key"),
        ({"case_scanner": {"no_read_rate": 2.0}}, "case_scanner.no_read_rate: expected 0..1"),
        ({"printer": {"faults": {"label": {"smear": {}}}}}, "printer: faults.label: expected one"),
    ],
)
def test_bad_scenarios_are_refused_naming_the_key(data, message):
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_mapping(data)
    assert str(caught.value).startswith(message)


def test_unknown_scenario_name_lists_the_known_ones():
    with pytest.raises(ScenarioError, match=r"one of .*defects-2pct.*normal"):
        Scenario.load("no-such-scenario")


def test_a_controller_drives_every_device_of_the_line(mosquitto: Broker, tmp_path):
    scenario = Scenario.from_mapping(
        {
            "seed": 5,
            "line": {"site": "s1", "line": "l1", "rate_per_minute": 1200, "gate_delay_s": 0.2},
            "printer": {"transport": "pty", "print_time": False, "line_timing": False},
        }
    )
    plc = mosquitto.link("plc", "s1", "l1")
    with LineSimulator(scenario, plc, work_dir=tmp_path) as line:
        ends = line.endpoints()
        assert ends.printer.startswith("/dev/pts/")
        assert ends.case_printer.startswith("socket://127.0.0.1:")

        # Unit printer over its pty; the camera photographs the label into the queue.
        builder = LabelBuilder(load_template("unit-50x30-203"))
        with ZplPrinter(PrinterConfig(url=ends.printer)) as printer:
            printer.confirm(printer.send(builder.unit_label(UNIT)), timeout=10)
        assert line.frames is not None
        frame = line.frames.get(timeout=10)
        found = zxingcpp.read_barcodes(frame.image, text_mode=zxingcpp.TextMode.Plain)
        assert [(r.symbology_identifier, r.text) for r in found] == [("]d2", UNIT.element_string())]

        # Case printer over TCP; the case scanner on its pty reads the SSCC back.
        sscc = gs1.Sscc.build(0, "9506000", 42)
        sscc_builder = LabelBuilder(load_template("sscc-100x150-203"))
        with SerialScanner(ends.case_scanner, ScannerConfig()) as scanner:
            with ZplPrinter(PrinterConfig(url=ends.case_printer)) as case_printer:
                case_printer.confirm(
                    case_printer.send(sscc_builder.logistic_label(sscc)),
                    timeout=10,
                )
            scan = scanner.get(timeout=10)
        assert scan is not None and scan.code == sscc

        # The PLC: triggers on MQTT; units without a verdict go to the reject bin.
        triggers: queue.Queue[dict[str, str]] = queue.Queue()
        client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        client.on_message = lambda _c, _u, m: triggers.put(json.loads(m.payload))
        link = mosquitto.link("observer", "line-test")
        link.configure(client)
        client.connect(link.host, link.port)
        client.subscribe("serialtrace/v1/s1/l1/plc/trigger", qos=1)
        client.loop_start()
        try:
            time.sleep(0.3)
            line.conveyor.run(3)
            ids = [triggers.get(timeout=5)["id"] for _ in range(3)]
            assert len(set(ids)) == 3
            assert line.conveyor.wait_done(10)
        finally:
            client.loop_stop()
            client.disconnect()
        counts = line.counts()
        assert counts["labels_printed"] == 1
        assert counts["case_labels_printed"] == 1
        assert counts["gate"]["triggered"] == 3
        assert counts["gate"]["rejected"] + counts["gate"]["no_verdict"] == 3
