"""The PLC simulator: gate bookkeeping, and the conveyor on a real broker."""

from __future__ import annotations

import json
import time

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from simulators.plc import Conveyor, Gate, GateReport
from tests.support.services import Broker

ROOT = "serialtrace/v1/p1/l1/"


def test_gate_passes_only_accepted_units_and_reports_each() -> None:
    gate = Gate(gate_delay_s=1.0)
    for unit, at in (("1", 0.0), ("2", 0.1), ("3", 0.2), ("4", 0.3)):
        gate.triggered(unit, at)
    assert gate.verdict("1", "accept", "S1", None) is None
    assert gate.verdict("2", "reject", "S2", "no_read") is None
    assert gate.verdict("3", "reject", "S3", "wrong_data") is None
    assert gate.verdict("3", "accept", "S3", None) is None  # a reject is final
    assert gate.advance(1.15) == [
        GateReport("1", "passed", None),
        GateReport("2", "rejected", "rejected"),
    ]
    assert gate.outcomes == {"1": "passed", "2": "rejected"}
    assert gate.advance(5.0) == [
        GateReport("3", "rejected", "rejected"),
        GateReport("4", "rejected", "no_verdict"),
    ]
    assert gate.advance(6.0) == []
    assert gate.outcomes == {"1": "passed", "2": "rejected", "3": "rejected", "4": "no_verdict"}
    # too late: the unit is in the bin, and the gate says so again
    assert gate.verdict("4", "accept", "S4", None) == GateReport("4", "rejected", "late")
    assert gate.verdict("4", "reject", "S4", "x") is None  # late, but as it happened
    assert gate.verdict("1", "accept", "S1", None) is None  # a duplicate accept: it passed
    assert gate.verdict("99", "accept", "S9", None) is None
    counts = gate.counts.as_dict()
    assert counts["passed"] == 1 and counts["rejected"] == 2 and counts["no_verdict"] == 1
    assert counts["late_verdicts"] == 3 and counts["unknown_verdicts"] == 1
    assert gate.serials == {"1": "S1"}


def test_gate_report_payload() -> None:
    assert json.loads(GateReport("7", "rejected", "no_verdict").payload()) == {
        "id": "7",
        "outcome": "rejected",
        "reason": "no_verdict",
    }
    assert json.loads(GateReport("8", "passed", None).payload()) == {
        "id": "8",
        "outcome": "passed",
        "reason": None,
    }


def test_bad_settings_are_refused() -> None:
    with pytest.raises(
        ValueError,
        match=r"broker: expected mqtt://HOST\[:PORT\] or mqtts://HOST\[:PORT\], got 'http://x'",
    ):
        Conveyor("http://x", "p1", "l1")
    with pytest.raises(ValueError, match="rate_per_minute: expected more than 0, got 0"):
        Conveyor("mqtt://127.0.0.1:1883", "p1", "l1", rate_per_minute=0)


@pytest.mark.mqtt
def test_conveyor_triggers_sorts_and_stops_on_command(mosquitto: Broker) -> None:
    triggers: list[dict[str, str]] = []
    reports: list[dict[str, str | None]] = []
    agent = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="fake-agent")

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        if message.topic == ROOT + "plc/gate":
            reports.append(json.loads(message.payload))
            return
        unit = json.loads(message.payload)
        triggers.append(unit)
        verdict = "accept" if int(unit["id"]) % 2 else "reject"
        client.publish(ROOT + f"plc/{verdict}", json.dumps({"id": unit["id"], "serial": "S"}))

    agent.on_message = on_message
    link = mosquitto.link("observer", "fake-agent")  # both the agent's PLC connections' rights
    link.configure(agent)
    agent.connect(link.host, link.port)
    agent.subscribe([(ROOT + "plc/trigger", 1), (ROOT + "plc/gate", 1)])
    agent.loop_start()
    conveyor = Conveyor(
        mosquitto.link("plc", "p1", "l1"), "p1", "l1", rate_per_minute=1200, gate_delay_s=0.2
    ).start()
    try:
        assert conveyor.wait_connected(10)
        time.sleep(0.2)
        conveyor.run(10)
        assert conveyor.wait_done(10)
        counts = conveyor.counts()
        assert [t["id"] for t in triggers] == [str(i) for i in range(1, 11)]
        assert all(t["deadline_ms"] == 200.0 for t in triggers)  # the gate's verdict deadline
        assert counts["triggered"] == 10 and counts["passed"] == 5 and counts["rejected"] == 5
        deadline = time.monotonic() + 5
        while len(reports) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sorted(reports, key=lambda r: int(str(r["id"]))) == [
            {"id": str(i), "outcome": "passed", "reason": None}
            if i % 2
            else {"id": str(i), "outcome": "rejected", "reason": "rejected"}
            for i in range(1, 11)
        ]
        conveyor.run()
        time.sleep(0.3)
        agent.publish(ROOT + "plc/command", json.dumps({"command": "stop", "reason": "ribbon"}))
        deadline = time.monotonic() + 5
        while conveyor.running.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert conveyor.stop_reason == "ribbon" and not conveyor.running.is_set()
        agent.publish(ROOT + "plc/command", json.dumps({"command": "start"}))
        deadline = time.monotonic() + 5
        while not conveyor.running.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert conveyor.running.is_set()
        # a run that sent all its units: the agent's start (a new batch) runs the belt again
        conveyor.halt()
        conveyor.run(1)
        deadline = time.monotonic() + 5
        while conveyor.running.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not conveyor.running.is_set()
        agent.publish(ROOT + "plc/command", json.dumps({"command": "start"}))
        deadline = time.monotonic() + 5
        while not conveyor.running.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert conveyor.running.is_set() and conveyor.stop_reason is None
        # the agent's gate-timing policy slows the belt
        agent.publish(ROOT + "plc/command", json.dumps({"command": "rate", "rate_per_minute": 300}))
        deadline = time.monotonic() + 5
        while not conveyor.rate_changes and time.monotonic() < deadline:
            time.sleep(0.02)
        assert conveyor.rate_changes == [300.0] and conveyor.interval == pytest.approx(0.2)
        agent.publish(ROOT + "plc/accept", b"garbage")
        bad_rate = json.dumps({"command": "rate", "rate_per_minute": -1})
        agent.publish(ROOT + "plc/command", bad_rate)
        deadline = time.monotonic() + 5
        while conveyor.counts()["invalid_messages"] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert conveyor.counts()["invalid_messages"] == 2
        assert conveyor.rate_changes == [300.0]
    finally:
        conveyor.close()
        agent.loop_stop()
