"""The PLC link: malformed messages are answered on plc/invalid and never stop the agent."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.agent import Agent
from edge.errors import PayloadError
from edge.plc import TriggerMessage, parse_trigger, parse_trigger_message
from edge.wiring import build_agent
from tests.edge.agent.line import GTIN, SimLine, config_for, sim_devices, start_line
from tests.edge.agent.subscriber import Subscriber
from tests.support.services import Broker

ROOT = "serialtrace/v1/plant1/line3/"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [(b"", None), (b"{}", None), (b'{"id": "17"}', "17"), (b'{"id": 17, "ts": 1.5}', "17")],
)
def test_trigger_payloads(payload: bytes, expected: str | None) -> None:
    assert parse_trigger(payload) == expected


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b'{"id": "17", "deadline_ms": 150}', TriggerMessage("17", 150.0)),
        (b'{"id": 3, "deadline_ms": 0.5, "ts": 2}', TriggerMessage("3", 0.5)),
        (b'{"id": "4"}', TriggerMessage("4", None)),
    ],
)
def test_a_trigger_may_announce_the_gates_verdict_deadline(
    payload: bytes, expected: TriggerMessage
) -> None:
    assert parse_trigger_message(payload) == expected


@pytest.mark.parametrize(
    "value", [b"0", b"-5", b"true", b'"150"', b"60001", b"[150]"], ids=lambda v: v.decode()
)
def test_a_bad_deadline_is_refused_naming_the_field(value: bytes) -> None:
    with pytest.raises(PayloadError, match=r"^deadline_ms: expected a number of milliseconds"):
        parse_trigger_message(b'{"id": "1", "deadline_ms": ' + value + b"}")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "payload: expected JSON, got a syntax error"),
        (b"[1]", "payload: expected a JSON object, got list"),
        (b'{"id": true}', "id: expected a string or integer, got True"),
        (b'{"id": "a\\nb"}', "id: expected 1..64 printable characters, got 'a\\nb'"),
        (b'{"id": "1", "speed": 3}', "trigger: unknown fields ['speed']; expected 'id' and"),
        (b'{"id": "' + b"x" * 70_000 + b'"}', "payload: expected at most 65536 bytes, got 70010"),
        (b"\xff\xfe", "payload: expected UTF-8 JSON, got invalid UTF-8 at byte 0"),
        # What froze the line (paho's network thread died on it): deep nesting, NaN, big ints.
        (b'{"id": ' + b"[" * 500 + b"]" * 500 + b"}", "payload: expected at most 8 levels"),
        (b'{"id": NaN}', "payload: expected finite numbers, got NaN"),
        (b'{"id": 1e999}', "payload: expected finite numbers, got 1e999"),
        (b'{"id": ' + b"9" * 5000 + b"}", "payload: expected integers of at most 20 digits"),
    ],
)
def test_malformed_triggers_are_refused_with_the_reason(payload: bytes, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_trigger(payload)
    assert str(caught.value).startswith(message)


@pytest.fixture
def line() -> Iterator[SimLine]:
    sim = start_line()
    yield sim
    sim.close()


@pytest.fixture
def agent(tmp_path: Path, mosquitto: Broker, line: SimLine) -> Iterator[Agent]:
    config = config_for(tmp_path / "edge", mosquitto, line)
    running = build_agent(config, sim_devices(config, line))
    running.start()
    assert running.plc.wait_connected(10) and running.publisher.wait_connected(10)
    yield running
    running.stop()


def publisher(broker: Broker) -> paho.Client:
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="fake-plc")
    link = broker.link("plc", "plant1", "line3")  # the line's PLC identity
    link.configure(client)
    client.connect(link.host, link.port)
    client.loop_start()
    return client


@pytest.mark.mqtt
def test_garbage_on_every_in_topic_is_answered_and_the_line_goes_on(
    agent: Agent, mosquitto: Broker
) -> None:
    watch = Subscriber(
        mosquitto,
        [ROOT + "plc/invalid", ROOT + "plc/batch/reply", ROOT + "plc/accept", ROOT + "plc/reject"],
        client_id="plc-watch",
    )
    plc = publisher(mosquitto)
    try:
        for topic, payload in [
            ("plc/trigger", b"not json"),
            ("plc/trigger", b'{"id": {"nested": 1}}'),
            ("plc/batch", b'{"command": "explode"}'),
            ("plc/batch", b'{"command": "start", "gtin": "123", "request_id": 7}'),
            ("plc/error", b'{"code": 5}'),
            ("plc/batch", b"\x00\x01"),
        ]:
            plc.publish(ROOT + topic, payload, qos=1).wait_for_publish(5)
        assert watch.wait_for(lambda: len(watch.on(ROOT + "plc/invalid")) == 6, 10)
        invalid = [json.loads(p) for p in watch.on(ROOT + "plc/invalid")]
        assert {i["topic"] for i in invalid} == {
            ROOT + "plc/trigger",
            ROOT + "plc/batch",
            ROOT + "plc/error",
        }
        assert any("command: expected one of start, pause" in i["error"] for i in invalid)
        assert any("expiry: expected a string, got None" in i["error"] for i in invalid)
        assert watch.wait_for(lambda: len(watch.on(ROOT + "plc/batch/reply")) == 3, 10)
        replies = [json.loads(p) for p in watch.on(ROOT + "plc/batch/reply")]
        assert [r["ok"] for r in replies] == [False, False, False]
        assert replies[1]["request_id"] == 7

        # a trigger while no batch runs: rejected with the reason, no serial spent
        plc.publish(ROOT + "plc/trigger", b'{"id": "u0"}', qos=1)
        assert watch.wait_for(lambda: watch.on(ROOT + "plc/reject"), 10)
        reject = json.loads(watch.on(ROOT + "plc/reject")[0])
        assert reject == {
            "id": "u0",
            "serial": None,
            "reason": "batch: no batch is open on this line; start one first",
        }

        # still alive: a good batch command and triggers work
        start = {
            "command": "start",
            "gtin": GTIN,
            "lot": "P1",
            "expiry": "281100",
            "planned": 3,
            "request_id": "s",
        }
        plc.publish(ROOT + "plc/batch", json.dumps(start), qos=1)
        assert watch.wait_for(lambda: len(watch.on(ROOT + "plc/batch/reply")) == 4, 10)
        assert json.loads(watch.on(ROOT + "plc/batch/reply")[-1])["ok"] is True
        for unit in ("u1", "u2", "u3"):
            plc.publish(ROOT + "plc/trigger", json.dumps({"id": unit}), qos=1)
            time.sleep(0.05)
        assert watch.wait_for(lambda: len(watch.on(ROOT + "plc/accept")) == 3, 20)
        accepted = [json.loads(p)["id"] for p in watch.on(ROOT + "plc/accept")]
        assert accepted == ["u1", "u2", "u3"]
        assert agent.plc.errors == 6
    finally:
        plc.loop_stop()
        watch.close()


@pytest.mark.mqtt
def test_a_plc_fault_pauses_the_batch(agent: Agent, mosquitto: Broker) -> None:
    from edge.ledger import BatchStart

    agent.start_batch(BatchStart(GTIN, "P2", "281100", 10))
    plc = publisher(mosquitto)
    try:
        plc.publish(ROOT + "plc/error", b'{"error": "emergency stop pressed"}', qos=1)
        deadline = time.monotonic() + 10
        while agent.current_batch().state.value != "paused" and time.monotonic() < deadline:
            time.sleep(0.05)
        batch = agent.current_batch()
        assert batch.state.value == "paused"
        assert batch.reason == "PLC: emergency stop pressed"
        assert agent.status()["alarms"] == {"device": "PLC: emergency stop pressed"}
    finally:
        plc.loop_stop()
