"""The line keeps step or stops (issue 21 item 4), on the simulated line with the real agent.

* camera frames are matched to units by the camera's trigger count: a lost frame costs one
  unit (``no_read``), never every later one; a camera whose count jumps stops the line;
* a full store (SQLite's own "database or disk is full", by ``PRAGMA max_page_count``), a
  stuck unit: alarm, the PLC told to stop, the batch paused and closable once it clears;
* a case left with no good unit is never labelled, closed or put on a pallet;
* the gate link resumes its persistent session on every reconnect.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.agent import Agent
from edge.batch import BatchAction
from edge.config import EdgeConfig
from edge.ledger import BatchStart
from edge.wiring import build_agent
from tests.edge.agent.line import GTIN, SimLine, config_for, sim_devices, start_line
from tests.edge.agent.subscriber import Subscriber
from tests.support.services import Broker

pytestmark = [pytest.mark.mqtt]

ROOT = "serialtrace/v1/plant1/line3/"
EVENTS = ROOT + "events"
COMMAND = ROOT + "plc/command"
ACCEPT = ROOT + "plc/accept"
REJECT = ROOT + "plc/reject"


def wait(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def fake_plc(broker: Broker) -> paho.Client:
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="step-plc")
    link = broker.link("plc", "plant1", "line3")
    link.configure(client)
    client.connect(link.host, link.port)
    client.loop_start()
    return client


def trigger(plc: paho.Client, unit: str) -> None:
    plc.publish(ROOT + "plc/trigger", json.dumps({"id": unit}), qos=1).wait_for_publish(5)


def units(config: EdgeConfig) -> dict[str, sqlite3.Row]:
    db = sqlite3.connect(config.data_path / "edge.sqlite")
    db.row_factory = sqlite3.Row
    try:
        return {r["trigger"]: r for r in db.execute("SELECT * FROM units ORDER BY id")}
    finally:
        db.close()


def stops(watch: Subscriber) -> list[dict[str, Any]]:
    return [
        body for body in (json.loads(p) for p in watch.on(COMMAND)) if body.get("command") == "stop"
    ]


@pytest.fixture
def line() -> Iterator[SimLine]:
    sim = start_line()
    yield sim
    sim.close()


@pytest.fixture
def started(
    tmp_path: Path, mosquitto: Broker, line: SimLine, request: pytest.FixtureRequest
) -> Iterator[tuple[Agent, EdgeConfig, paho.Client, Subscriber]]:
    extra = getattr(request, "param", None)
    config = config_for(tmp_path / "edge", mosquitto, line, extra=extra)
    watch = Subscriber(mosquitto, [EVENTS, COMMAND, ACCEPT, REJECT])
    plc = fake_plc(mosquitto)
    agent = build_agent(config, sim_devices(config, line))
    try:
        agent.start()
        assert agent.plc.wait_connected(10) and agent.publisher.wait_connected(10)
        yield agent, config, plc, watch
    finally:
        plc.disconnect()  # wakes its network loop: loop_stop() does not wait out a select
        plc.loop_stop()
        watch.close()
        agent.stop()


def run_units(plc: paho.Client, config: EdgeConfig, ids: list[str], timeout: float = 60) -> None:
    """Trigger units one after another, each once the previous one is decided."""
    for unit in ids:
        trigger(plc, unit)
        assert wait(
            lambda u=unit: (
                u in units(config)  # type: ignore[misc]
                and units(config)[u]["state"] not in ("allocated", "encoded")
            ),
            timeout,
        ), units(config)


# -- camera frames ----------------------------------------------------------------------------


def test_a_lost_frame_costs_one_unit_and_the_line_keeps_step(
    started: tuple[Agent, EdgeConfig, paho.Client, Subscriber], line: SimLine
) -> None:
    agent, config, plc, watch = started
    agent.start_batch(BatchStart(GTIN, "K1", "281100", 50))
    run_units(plc, config, ["1", "2", "3"])
    # the camera loses the next label's frame (a stall overran its buffer)
    line.camera.lose_frames(1)
    trigger(plc, "4")
    trigger(plc, "5")
    run_units(plc, config, ["6", "7", "8"])
    rows = units(config)
    states = {unit: rows[unit]["state"] for unit in rows}
    assert states == {
        "1": "commissioned",
        "2": "commissioned",
        "3": "commissioned",
        "4": "rejected",  # its frame was lost: this unit, and only this one
        "5": "commissioned",  # its own frame, though it came first after the lost one
        "6": "commissioned",
        "7": "commissioned",
        "8": "commissioned",
    }
    assert "frame lost" in rows["4"]["reason"]
    assert line.camera.lost == 1
    assert agent.current_batch().state.value == "running"  # type: ignore[union-attr]
    assert agent.status()["alarms"] == {}
    # pausing the batch stops the belt too: no flood of triggers refused while paused
    agent.transition(BatchAction.PAUSE, "break")
    assert watch.wait_for(lambda: any("paused: break" in s["reason"] for s in stops(watch)))


def test_a_camera_out_of_step_stops_the_line_with_an_alarm(
    started: tuple[Agent, EdgeConfig, paho.Client, Subscriber], line: SimLine
) -> None:
    agent, config, plc, watch = started
    agent.start_batch(BatchStart(GTIN, "K2", "281100", 50))
    run_units(plc, config, ["1", "2"])
    line.camera.skip_triggers(500)  # its count jumps: frames no longer name their labels
    trigger(plc, "3")
    assert wait(lambda: "device" in agent.status()["alarms"]), agent.status()["alarms"]
    assert "camera out of step" in agent.status()["alarms"]["device"]
    assert wait(lambda: any("out of step" in s["reason"] for s in stops(watch)), 10)
    assert wait(lambda: agent.current_batch().state.value == "paused")  # type: ignore[union-attr]
    assert wait(lambda: units(config)["3"]["state"] == "rejected")  # never on a wrong frame
    assert not any(json.loads(p)["id"] == "3" for p in watch.on(ACCEPT))


# -- faults: full store, stuck unit --------------------------------------------------------


def test_a_full_store_stops_the_line_and_the_batch_closes_once_it_clears(
    started: tuple[Agent, EdgeConfig, paho.Client, Subscriber],
) -> None:
    agent, config, plc, watch = started
    agent.start_batch(BatchStart(GTIN, "K3", "281100", 500))
    run_units(plc, config, ["1", "2"])

    def fill(conn: sqlite3.Connection) -> None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")

    agent.writer.call(fill)  # the writer's connection: no page more than it has now
    sent = 2
    while "store" not in agent.status()["alarms"] and sent < 300:
        sent += 1
        trigger(plc, str(sent))
        time.sleep(0.02)
    alarm = agent.status()["alarms"].get("store", "")
    assert "database or disk is full" in alarm, agent.status()["alarms"]
    assert wait(lambda: any("database or disk is full" in s["reason"] for s in stops(watch)), 10)
    # once the units in flight are decided, later triggers are refused (the PLC rejects
    # those units), nothing more is accepted
    assert agent.pipeline.wait_idle(20)
    time.sleep(0.5)  # the last verdicts on their way through the broker
    accepted = len(watch.on(ACCEPT))
    trigger(plc, "after")
    assert watch.wait_for(lambda: any(json.loads(p)["id"] == "after" for p in watch.on(REJECT)))
    assert len(watch.on(ACCEPT)) == accepted

    agent.writer.call(lambda conn: conn.execute("PRAGMA max_page_count = 1073741823"))
    # the fault cleared: the pause the store refused is taken, the batch closes balanced
    assert wait(lambda: agent.current_batch().state.value == "paused"), agent.current_batch()  # type: ignore[union-attr]
    assert agent.pipeline.wait_idle(20)
    agent.transition(BatchAction.STOP)
    closed = agent.close_batch()
    assert closed.state.value == "closed"
    rows = units(config).values()
    assert not [r for r in rows if r["state"] in ("allocated", "encoded")]
    db = sqlite3.connect(config.data_path / "edge.sqlite")
    try:
        (batch,) = db.execute("SELECT printed FROM batches").fetchall()
    finally:
        db.close()
    final = [r for r in rows if r["state"] != "voided"]
    assert batch[0] == len(final)  # every printed label is accounted for


@pytest.mark.parametrize(
    "started",
    [
        {
            "line": {"stuck_unit_s": 1.0},
            # the camera's timeout must come well after the stuck-unit alarm (1 s, seen by
            # the agent's state loop within another second): 3 s to spare on a busy machine
            "devices": {"camera": {"url": "unused", "timeout_s": 5.0}},
        }
    ],
    indirect=True,
)
def test_a_stuck_unit_stops_the_line_and_the_batch_closes_after(
    started: tuple[Agent, EdgeConfig, paho.Client, Subscriber], line: SimLine
) -> None:
    agent, config, plc, watch = started
    agent.start_batch(BatchStart(GTIN, "K4", "281100", 50))
    run_units(plc, config, ["1"])
    line.camera.lose_frames(1)  # no frame comes for unit 2: it waits for the camera
    trigger(plc, "2")
    assert wait(lambda: "stuck unit" in agent.status()["alarms"], 20), agent.status()["alarms"]
    assert "in flight for" in agent.status()["alarms"]["stuck unit"]
    assert wait(lambda: any("in flight" in s["reason"] for s in stops(watch)), 10)
    assert wait(lambda: agent.current_batch().state.value == "paused")  # type: ignore[union-attr]
    assert agent.pipeline.wait_idle(20)  # the camera's timeout decides it: no_read
    assert units(config)["2"]["state"] == "rejected"
    agent.transition(BatchAction.STOP)
    assert agent.close_batch().state.value == "closed"


# -- cases --------------------------------------------------------------------------------


def test_a_case_with_no_good_unit_is_never_labelled_or_shipped(
    tmp_path: Path, mosquitto: Broker
) -> None:
    line = start_line(scanner_no_read_rate=1.0)  # case labels unreadable: the case is held
    config = config_for(tmp_path / "edge", mosquitto, line, units_per_case=2)
    watch = Subscriber(mosquitto, [EVENTS, ACCEPT])
    plc = fake_plc(mosquitto)
    agent = build_agent(config, sim_devices(config, line))
    try:
        agent.start()
        assert agent.plc.wait_connected(10) and agent.publisher.wait_connected(10)
        agent.start_batch(BatchStart(GTIN, "K5", "281100", 20))
        run_units(plc, config, ["1", "2"])
        assert wait(lambda: agent.status()["cases"].get("case:held") == 1, 30), agent.status()
        # both units reached the reject gate without their accept: out of the case
        for unit in ("1", "2"):
            body = json.dumps({"id": unit, "outcome": "rejected", "reason": "no_verdict"})
            plc.publish(ROOT + "plc/gate", body, qos=1).wait_for_publish(5)
        assert wait(lambda: all(r["state"] == "decommissioned" for r in units(config).values()))
        line.scanner.no_read_rate = 0.0  # the operator fixes the scanner and retries
        for container_id in agent.writer.call(agent.aggregation.retry_held):
            agent.packer.submit(container_id)
        assert agent.packer.wait_idle(20)
        assert agent.packer.dropped_empty == 1 and agent.packer.packed_cases == 0
        status = agent.status()["cases"]
        assert "case:closed" not in status and "pallet:open" not in status, status
        agent.transition(BatchAction.STOP)
        assert agent.close_batch().state.value == "closed"
        time.sleep(0.5)  # nothing more to come: give a wrong packing event time to show
        packings = [e for e in watch.events(EVENTS) if e.get("bizStep") == "packing"]
        assert packings == []
    finally:
        plc.disconnect()  # wakes its network loop: loop_stop() does not wait out a select
        plc.loop_stop()
        watch.close()
        agent.stop()
        line.close()


# -- the gate link -------------------------------------------------------------------------


def test_the_gate_link_resumes_its_session_on_reconnect_in_the_first_run(
    started: tuple[Agent, EdgeConfig, paho.Client, Subscriber],
) -> None:
    agent, config, plc, _ = started
    assert agent.plc.gate_session_resumed is False  # a new database: a clean first session
    agent.start_batch(BatchStart(GTIN, "K6", "281100", 20))
    run_units(plc, config, ["1"])
    sock = agent.plc._gate_client.socket()  # the network drops the gate link
    assert isinstance(sock, socket.socket)
    sock.shutdown(socket.SHUT_RDWR)
    body = json.dumps({"id": "1", "outcome": "rejected", "reason": "no_verdict"})
    plc.publish(ROOT + "plc/gate", body, qos=1).wait_for_publish(5)  # while it is away
    assert wait(lambda: units(config)["1"]["state"] == "decommissioned", 30)
    assert agent.plc.gate_session_resumed is True  # the session, and what was queued, kept
