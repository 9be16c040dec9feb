"""Hostile PLC payloads and hostile clients against a running agent on the secured broker
(issue 14): the line keeps running, or stops with an alarm; never frozen and "RUNNING"."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.agent import Agent
from edge.config import parse_config
from edge.ledger import BatchStart
from edge.wiring import build_agent
from epcis.broker import BrokerLink, write_secrets
from serialtrace.services import connect_once
from tests.edge.agent.line import GTIN, SimLine, config_for, line_config, sim_devices, start_line
from tests.edge.agent.subscriber import Subscriber
from tests.support.services import Broker

pytestmark = pytest.mark.mqtt
ROOT = "serialtrace/v1/plant1/line3/"


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


def client_for(link: BrokerLink) -> paho.Client:
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    link.configure(client)
    ready = threading.Event()
    client.on_connect = lambda *args: ready.set()
    client.connect(link.host, link.port)
    client.loop_start()
    assert ready.wait(10)
    return client


def wait_for(condition: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return bool(condition())  # type: ignore[operator]


def nested(depth: int) -> bytes:
    return b'{"id": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"


def test_hostile_payloads_on_every_in_topic_leave_the_line_running(
    agent: Agent, mosquitto: Broker
) -> None:
    """The issue's attack: the same 500-deep nesting on plc/trigger or plc/gate killed paho's
    network thread; the line froze while /status showed RUNNING and the PLC connected."""
    agent.start_batch(BatchStart(GTIN, "H1", "281100", 10))
    watch = Subscriber(mosquitto, [ROOT + "plc/invalid", ROOT + "plc/accept"], client_id="hostile")
    plc = client_for(mosquitto.link("plc", "plant1", "line3"))
    hostile = [
        nested(500),
        nested(5000),
        b'{"id": NaN}',
        b'{"id": Infinity}',
        b'{"id": ' + b"9" * 5000 + b"}",
        b'{"id": "1", "outcome": ' + b"[" * 300 + b"]" * 300 + b"}",
    ]
    try:
        for topic in ("plc/trigger", "plc/gate", "plc/batch", "plc/error"):
            for payload in hostile:
                plc.publish(ROOT + topic, payload, qos=1).wait_for_publish(5)
        sent = 4 * len(hostile)
        assert watch.wait_for(lambda: len(watch.on(ROOT + "plc/invalid")) >= sent, 20)
        errors = [json.loads(p)["error"] for p in watch.on(ROOT + "plc/invalid")]
        assert all(error.startswith("payload: expected") for error in errors), errors
        # Still running: the link is up, and a good trigger is printed and accepted.
        assert agent.plc.connected
        assert agent.current_batch().state.value == "running"
        plc.publish(ROOT + "plc/trigger", b'{"id": "after"}', qos=1).wait_for_publish(5)
        assert watch.wait_for(lambda: watch.on(ROOT + "plc/accept"), 20)
        assert json.loads(watch.on(ROOT + "plc/accept")[0])["id"] == "after"
        assert agent.status()["alarms"] == {}
    finally:
        plc.loop_stop()
        watch.close()


def test_only_the_lines_own_plc_may_command_it(agent: Agent, mosquitto: Broker) -> None:
    """The issue: anonymous clients paused, resumed and stopped the line (plc/batch,
    plc/error)."""
    agent.start_batch(BatchStart(GTIN, "H2", "281100", 10))
    assert connect_once(mosquitto.anonymous()) == "Not authorized"
    for link in (
        mosquitto.link("plc", "plant1", "line9"),  # another line's PLC
        mosquitto.link("line", "plant1", "line9"),  # another line's agent
        mosquitto.link("server", "intruder"),  # the trace server
    ):
        client = client_for(link)
        try:
            client.publish(ROOT + "plc/batch", b'{"command": "pause"}', qos=1).wait_for_publish(5)
            client.publish(ROOT + "plc/error", b'{"error": "stop!"}', qos=1).wait_for_publish(5)
        finally:
            client.disconnect()
            client.loop_stop()
    time.sleep(1.0)  # what the broker would have delivered by now
    assert agent.current_batch().state.value == "running"
    assert agent.status()["alarms"] == {}


def started_with_a_wrong_password(tmp_path: Path, mosquitto: Broker, line: SimLine) -> Agent:
    """An agent of line3 started with its broker identity's name and a wrong password."""
    good = mosquitto.link("line", "plant1", "line3")
    secrets = tmp_path / "wrong.toml"
    write_secrets(
        secrets,
        {
            "url": mosquitto.url,
            "username": good.username or "",
            "password": "wrong",
            "ca_file": str(mosquitto.ca_file),
        },
    )
    raw = line_config(
        tmp_path / "edge",
        mosquitto.url,
        printer_url=line.printer_tcp.url,
        case_printer_url=line.case_printer_tcp.url,
        scanner_url=line.scanner.port,
    )
    raw["mqtt"] = {"url": mosquitto.url, "secrets_file": str(secrets)}
    config = parse_config(raw)
    agent = build_agent(config, sim_devices(config, line))
    agent.start()
    return agent


def test_a_broker_that_refuses_the_credentials_raises_an_alarm_and_halts_the_line(
    tmp_path: Path, mosquitto: Broker, line: SimLine
) -> None:
    agent = started_with_a_wrong_password(tmp_path, mosquitto, line)
    try:
        agent.start_batch(BatchStart(GTIN, "H3", "281100", 10))
        assert wait_for(lambda: "mqtt" in agent.status()["alarms"])
        alarms = agent.status()["alarms"]
        assert alarms["mqtt"].startswith("broker refused the connection: ")
        assert alarms["mqtt"].endswith(f"as mqtts://line/plant1/line3@127.0.0.1:{mosquitto.port}")
        assert "wrong" not in json.dumps(agent.status())
        assert wait_for(lambda: agent.current_batch().state.value == "paused")
        assert wait_for(lambda: "plc link" in agent.status()["alarms"])
        alarms = agent.status()["alarms"]
        assert "PLC link: broker refused the connection: " in alarms["plc link"]
        assert "broker refused the connection: not authorized" in agent.current_batch().reason
        metrics = _metrics(agent)
        assert 'serialtrace_edge_mqtt_refused{link="publisher"} 1.0' in metrics
        assert 'serialtrace_edge_alarm{alarm="mqtt"} 1.0' in metrics
    finally:
        agent.stop(drain_timeout_s=0)


def test_a_batch_started_after_the_broker_refused_the_line_is_halted_at_once(
    tmp_path: Path, mosquitto: Broker, line: SimLine
) -> None:
    """The refusal came first (on a busy machine it may): the batch does not run on a line
    whose links are refused; it is paused at once, with the refusal as its reason (it was
    paused 5 s later as "PLC link disconnected")."""
    agent = started_with_a_wrong_password(tmp_path, mosquitto, line)
    try:
        assert wait_for(lambda: {"mqtt", "plc link"} <= set(agent.status()["alarms"]))
        batch = agent.start_batch(BatchStart(GTIN, "H4", "281100", 10))
        assert batch.state.value == "paused"
        # the reason is one of the refused links' (the MQTT link's, or the PLC's if its
        # refusal came again meanwhile)
        assert "broker refused the connection: not authorized" in str(batch.reason), batch
    finally:
        agent.stop(drain_timeout_s=0)


def test_an_untrusted_broker_certificate_raises_an_alarm(
    tmp_path: Path, mosquitto: Broker, line: SimLine
) -> None:
    config = config_for(tmp_path / "edge", mosquitto, line)
    secrets = tmp_path / "no-ca.toml"  # the right password, but no CA: the system's CAs
    good = mosquitto.link("line", "plant1", "line3")
    write_secrets(
        secrets,
        {"url": mosquitto.url, "username": good.username or "", "password": good.password or ""},
    )
    untrusted = config.model_copy(
        update={"mqtt": config.mqtt.model_copy(update={"secrets_file": str(secrets)})}
    )
    agent = build_agent(untrusted, sim_devices(untrusted, line))
    agent.start()
    try:
        assert wait_for(lambda: "mqtt" in agent.status()["alarms"])
        assert agent.status()["alarms"]["mqtt"].startswith(
            "TLS: the broker's certificate is not trusted"
        )
    finally:
        agent.stop(drain_timeout_s=0)


def _metrics(agent: Agent) -> str:
    from edge.metrics import render_metrics

    body, _ = render_metrics(agent)
    return body.decode()
