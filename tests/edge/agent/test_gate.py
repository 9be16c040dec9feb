"""Gate confirmation: the PLC reports what its reject gate did with each unit (``plc/gate``).

A unit that was commissioned but went to the reject bin (its accept was lost or came late) must
not stay active: the agent decommissions it, takes it out of its case, and publishes both
events. Reports sent while the agent was down reach it when it is back.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import gs1
from edge.batch import BatchAction
from edge.config import EdgeConfig
from edge.errors import PayloadError
from edge.ledger import BatchStart
from edge.plc import GateReport, parse_gate
from edge.wiring import build_agent
from simulators.plc import Conveyor
from tests.edge.agent.line import GTIN, SimLine, config_for, sim_devices, start_line
from tests.edge.agent.subscriber import Subscriber
from tests.support.services import Broker

ROOT = "serialtrace/v1/plant1/line3/"
EVENTS = ROOT + "events"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b'{"id": "17", "outcome": "passed", "reason": null}', GateReport("17", True, None)),
        (b'{"id": "17", "outcome": "passed"}', GateReport("17", True, None)),
        (
            b'{"id": 17, "outcome": "rejected", "reason": "no_verdict", "ts": 1.5}',
            GateReport("17", False, "no_verdict"),
        ),
        (
            b'{"id": "a", "outcome": "rejected", "reason": "rejected"}',
            GateReport("a", False, "rejected"),
        ),
        (b'{"id": "a", "outcome": "rejected", "reason": "late"}', GateReport("a", False, "late")),
    ],
)
def test_gate_payloads(payload: bytes, expected: GateReport) -> None:
    assert parse_gate(payload) == expected


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "payload: expected JSON, got a syntax error"),
        (b'{"id": "1", "outcome": ' + b"{" * 300, "payload: expected"),
        (b"[]", "payload: expected a JSON object, got list"),
        (b'{"outcome": "passed"}', "id: expected a string or integer, got None"),
        (b'{"id": false, "outcome": "passed"}', "id: expected a string or integer, got False"),
        (b'{"id": "", "outcome": "passed"}', "id: expected 1..64 printable characters, got ''"),
        (
            b'{"id": "' + b"7" * 65 + b'", "outcome": "passed"}',
            "id: expected 1..64 printable characters, got '" + "7" * 65 + "'",
        ),
        (b'{"id": "1"}', "outcome: expected 'passed' or 'rejected', got None"),
        (b'{"id": "1", "outcome": "PASSED"}', "outcome: expected 'passed' or 'rejected', got 'PA"),
        (
            b'{"id": "1", "outcome": "passed", "reason": "late"}',
            "reason: expected null for a passed unit, got 'late'",
        ),
        (
            b'{"id": "1", "outcome": "rejected"}',
            "reason: expected one of 'rejected', 'no_verdict', 'late' for a rejected unit, "
            "got None",
        ),
        (
            b'{"id": "1", "outcome": "rejected", "reason": "jam"}',
            "reason: expected one of 'rejected', 'no_verdict', 'late' for a rejected unit, "
            "got 'jam'",
        ),
        (
            b'{"id": "1", "outcome": "passed", "serial": "S"}',
            "gate: unknown fields ['serial']; expected 'id', 'outcome', 'reason' and optional 'ts'",
        ),
    ],
)
def test_malformed_gate_reports_are_refused_with_the_reason(payload: bytes, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_gate(payload)
    assert str(caught.value).startswith(message)


def fake_plc(broker: Broker) -> paho.Client:
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="gate-plc")
    link = broker.link("plc", "plant1", "line3")  # the line's PLC identity
    link.configure(client)
    client.connect(link.host, link.port)
    client.loop_start()
    return client


def report(plc: paho.Client, unit: str, outcome: str, reason: str | None) -> None:
    body = json.dumps({"id": unit, "outcome": outcome, "reason": reason})
    plc.publish(ROOT + "plc/gate", body, qos=1).wait_for_publish(5)


def wait(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def units(config: EdgeConfig) -> dict[str, sqlite3.Row]:
    db = sqlite3.connect(config.data_path / "edge.sqlite")
    db.row_factory = sqlite3.Row
    try:
        return {r["trigger"]: r for r in db.execute("SELECT * FROM units")}
    finally:
        db.close()


def sgtin(serial: str) -> str:
    return gs1.UnitCode.create(gtin=GTIN, serial=serial).sgtin_uri(7)


@pytest.fixture
def line() -> Iterator[SimLine]:
    sim = start_line(label_faults={"smudge": {"labels": [3]}})  # one unit is rejected
    yield sim
    sim.close()


@pytest.mark.mqtt
def test_units_the_gate_rejected_after_commissioning_are_decommissioned_and_unpacked(
    tmp_path: Path, mosquitto: Broker, line: SimLine
) -> None:
    config = config_for(tmp_path / "edge", mosquitto, line, units_per_case=2)
    watch = Subscriber(
        mosquitto,
        [EVENTS, ROOT + "plc/accept", ROOT + "plc/reject", ROOT + "plc/invalid"],
        client_id="gate-watch",
    )
    plc = fake_plc(mosquitto)
    agent = build_agent(config, sim_devices(config, line))
    try:
        agent.start()
        assert agent.plc.wait_connected(10) and agent.publisher.wait_connected(10)
        agent.start_batch(BatchStart(GTIN, "G1", "281100", 20))
        for unit in ("g1", "g2", "g3", "g4"):
            plc.publish(ROOT + "plc/trigger", json.dumps({"id": unit}), qos=1)
            time.sleep(0.05)
        assert watch.wait_for(lambda: len(watch.on(ROOT + "plc/accept")) == 3, 20)
        assert watch.wait_for(lambda: len(watch.on(ROOT + "plc/reject")) == 1, 20)
        accepted = [json.loads(p)["id"] for p in watch.on(ROOT + "plc/accept")]
        refused = json.loads(watch.on(ROOT + "plc/reject")[0])["id"]
        assert wait(lambda: agent.packer.packed_cases == 1)
        packed, loose = accepted[1], accepted[2]  # the second unit of the packed case; the open one

        # the gate passed the first, and rejected two commissioned units (accept lost / late)
        report(plc, accepted[0], "passed", None)
        report(plc, packed, "rejected", "no_verdict")
        report(plc, loose, "rejected", "late")
        report(plc, refused, "rejected", "rejected")  # as the agent decided: nothing to do
        rows: dict[str, sqlite3.Row] = {}

        def settled() -> bool:
            rows.update(units(config))
            return bool(rows[packed]["state"] == rows[loose]["state"] == "decommissioned")

        assert wait(settled)
        assert rows[accepted[0]]["state"] == "commissioned"
        assert rows[refused]["state"] == "rejected"
        assert rows[packed]["reason"] == (
            "rejected at the reject gate after commissioning (no_verdict)"
        )
        assert rows[loose]["reason"] == "rejected at the reject gate after commissioning (late)"
        assert rows[packed]["case_id"] is None and rows[loose]["case_id"] is None

        # on the broker: the packed unit left its case (unpacking), then both were decommissioned
        def by_step(step: str) -> list[dict[str, object]]:
            return [e for e in watch.events(EVENTS) if e.get("bizStep") == step]

        assert watch.wait_for(lambda: len(by_step("decommissioning")) == 2, 20)
        decommissioned = {e["epcList"][0]: e for e in by_step("decommissioning")}  # type: ignore[index]
        assert set(decommissioned) == {sgtin(rows[packed]["serial"]), sgtin(rows[loose]["serial"])}
        for event in decommissioned.values():
            assert event["action"] == "DELETE"
            assert event["disposition"] == "inactive"
        unpacked = by_step("unpacking")
        assert len(unpacked) == 1
        assert unpacked[0]["childEPCs"] == [sgtin(rows[packed]["serial"])]
        # the open case will be packed without the decommissioned unit
        agent.pipeline.wait_idle(5)
        agent.transition(BatchAction.STOP)
        closed = agent.close_batch()
        assert closed.state.value == "closed"
        assert watch.wait_for(lambda: len(by_step("packing")) >= 2, 20)
        packings = by_step("packing")
        children = [c for e in packings for c in e.get("childEPCs", [])]  # type: ignore[attr-defined]
        assert sgtin(rows[loose]["serial"]) not in children
        assert agent.status()["alarms"] == {}

        # a passed unit the agent had rejected: an alarm, on record, answered; never a crash
        report(plc, refused, "passed", None)
        assert wait(lambda: "gate" in agent.status()["alarms"])
        assert "passed it without an accept" in units(config)[refused]["reason"]
        # unknown ids and garbage are answered on plc/invalid
        report(plc, "nobody", "rejected", "no_verdict")
        plc.publish(ROOT + "plc/gate", b'{"id": "g1", "outcome": "maybe"}', qos=1)
        assert watch.wait_for(lambda: len(watch.on(ROOT + "plc/invalid")) == 3, 10)
        errors = sorted(json.loads(p)["error"] for p in watch.on(ROOT + "plc/invalid"))
        assert errors == [
            "id: no unit on this line has trigger id 'nobody'",
            "outcome: expected 'passed' or 'rejected', got 'maybe'",
            f"outcome: the reject gate passed unit {refused!r}, which was not accepted",
        ]
    finally:
        plc.loop_stop()
        watch.close()
        agent.stop()


@pytest.mark.mqtt
def test_a_gate_report_sent_while_the_agent_was_down_decommissions_the_unit(
    tmp_path: Path, mosquitto: Broker, line: SimLine
) -> None:
    """The crash window: commissioned (event in the outbox), accept never reached the gate."""
    config = config_for(tmp_path / "edge", mosquitto, line)
    watch = Subscriber(mosquitto, [EVENTS, ROOT + "plc/accept"])
    plc = fake_plc(mosquitto)
    agent = build_agent(config, sim_devices(config, line))
    try:
        agent.start()
        assert agent.plc.wait_connected(10) and agent.publisher.wait_connected(10)
        agent.start_batch(BatchStart(GTIN, "G2", "281100", 20))
        plc.publish(ROOT + "plc/trigger", json.dumps({"id": "w1"}), qos=1)
        assert watch.wait_for(lambda: len(watch.on(ROOT + "plc/accept")) == 1, 20)
        agent.stop()
        # the agent is down; the unit reaches the gate without (the PLC saw no) accept
        report(plc, "w1", "rejected", "no_verdict")
        agent = build_agent(config, sim_devices(config, line))
        agent.start()
        assert wait(lambda: units(config)["w1"]["state"] == "decommissioned")
        serial = units(config)["w1"]["serial"]

        def decommissioned() -> list[dict[str, object]]:
            return [
                e
                for e in watch.events(EVENTS)
                if e.get("bizStep") == "decommissioning" and e.get("epcList") == [sgtin(serial)]
            ]

        assert watch.wait_for(lambda: len(decommissioned()) == 1, 20)
        reconciliation = agent.status()["reconciliation"]
        assert reconciliation["commissioned"] == 0 and reconciliation["scrapped"] == 1
    finally:
        plc.loop_stop()
        watch.close()
        agent.stop()


@pytest.mark.mqtt
def test_with_every_accept_too_late_no_unit_stays_active(tmp_path: Path, mosquitto: Broker) -> None:
    """A gate right at the camera: (nearly) every unit reaches it before its accept."""
    line = start_line()
    config = config_for(tmp_path / "edge", mosquitto, line)
    watch = Subscriber(mosquitto, [EVENTS])
    conveyor = Conveyor(
        mosquitto.link("plc", "plant1", "line3"),
        "plant1",
        "line3",
        rate_per_minute=300,
        gate_delay_s=0.0,
    )
    agent = build_agent(config, sim_devices(config, line))
    try:
        agent.start()
        assert agent.plc.wait_connected(10) and agent.publisher.wait_connected(10)
        agent.start_batch(BatchStart(GTIN, "G3", "281100", 20))
        conveyor.start()
        assert conveyor.wait_connected(10)
        conveyor.run(8)
        assert conveyor.wait_done(30)
        outcomes = dict(conveyor.gate.outcomes)
        assert len(outcomes) == 8

        def settled() -> bool:
            rows = units(config)
            return len(rows) == 8 and all(
                (r["state"] == "commissioned")
                == (outcomes[trigger] == "passed")  # active only if it passed the gate
                and r["state"] in {"commissioned", "decommissioned", "rejected"}
                for trigger, r in rows.items()
            )

        assert wait(settled)
        # Whether a unit is commissioned before its gate report (then decommissioned) or after
        # (then recorded rejected) depends on timing here; both paths are pinned down
        # deterministically by the tests above, this one checks the invariant under the race.
        agent.transition(BatchAction.STOP)
        closed = agent.close_batch()
        assert closed.state.value == "closed"
        rows = units(config).values()
        decommissioned = {sgtin(r["serial"]) for r in rows if r["state"] == "decommissioned"}

        def retired() -> set[str]:
            events = watch.events(EVENTS)
            return {
                epc for e in events if e.get("bizStep") == "decommissioning" for epc in e["epcList"]
            }

        assert watch.wait_for(lambda: retired() == decommissioned, 20)
        commissioned = {
            epc
            for e in watch.events(EVENTS)
            if e.get("bizStep") == "commissioning" and "epcList" in e
            for epc in e["epcList"]
        }
        active = {sgtin(r["serial"]) for r in rows if r["state"] == "commissioned"}
        assert commissioned == decommissioned | active  # retired unless it passed the gate
    finally:
        conveyor.close()
        watch.close()
        agent.stop()
        line.close()
