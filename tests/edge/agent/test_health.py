"""The agent's ``/health`` tells the truth and ``/metrics`` shows each device: a real broker
(set up as in production), the agent on the simulated line, its API on a free port."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from edge.agent import Agent
from edge.api import create_app
from edge.wiring import build_agent
from epcis.topics import LineTopics
from serialtrace.services import connect_once, serve_asgi
from tests.edge.agent.line import GTIN, SimLine, api_headers, config_for, sim_devices, start_line
from tests.support.services import Broker, free_port, start_mosquitto

pytestmark = pytest.mark.mqtt

Health = dict[str, Any]


@contextmanager
def agent_api(
    tmp_path: Path, broker: Broker | str, **config: Any
) -> Iterator[tuple[Agent, httpx.Client, SimLine]]:
    line = start_line()
    try:
        settings = config_for(tmp_path / "edge", broker, line, **config)
        agent = build_agent(settings, sim_devices(settings, line))
        with (
            serve_asgi(create_app(agent), free_port()) as url,
            httpx.Client(base_url=url, timeout=30, headers=api_headers(settings)) as client,
        ):
            yield agent, client, line
    finally:
        line.close()


def health_until(
    client: httpx.Client, wanted: Callable[[int, Health], bool], timeout: float = 20.0
) -> tuple[int, Health]:
    """Poll ``/health`` until ``wanted(status_code, body)``; fails with the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/health")
        body: Health = response.json()
        if wanted(response.status_code, body):
            return response.status_code, body
        if time.monotonic() > deadline:
            raise AssertionError(
                f"/health never as wanted in {timeout} s: {response.status_code} {body}"
            )
        time.sleep(0.1)


def failing(body: Health) -> dict[str, str]:
    return {item["part"]: item["problem"] for item in body["failing"]}


def healthy(code: int, body: Health) -> bool:
    return code == 200


def fails(part: str, *words: str) -> Callable[[int, Health], bool]:
    def wanted(code: int, body: Health) -> bool:
        problem = failing(body).get(part)
        return code == 503 and problem is not None and all(w in problem for w in words)

    return wanted


def start_batch(client: httpx.Client, lot: str) -> None:
    response = client.post(
        "/batch/start", json={"gtin": GTIN, "lot": lot, "expiry": "281130", "planned": 50}
    )
    assert response.status_code == 200, response.text


def test_health_is_200_with_every_part_listed_ok_and_metrics_show_the_devices(
    tmp_path: Path, mosquitto: Broker
) -> None:
    with agent_api(tmp_path, mosquitto) as (agent, client, _):
        _, body = health_until(client, healthy)
        assert body["status"] == "ok" and body["failing"] == []
        assert [part["part"] for part in body["parts"]] == [
            "mqtt", "plc", "printer", "camera", "case printer", "scanner", "workers", "outbox",
        ]  # fmt: skip
        assert all(part["ok"] and part["problem"] is None for part in body["parts"])
        assert body["mqtt"] is True and body["plc"] is True
        assert set(body["workers"]) >= {
            "edge-writer", "edge-print", "edge-verify", "edge-packer", "outbox-publisher",
            "plc-batch", "edge-state",
        }  # fmt: skip
        assert all(body["workers"].values())
        assert "password" not in str(body).lower()
        start_batch(client, "H1")  # a running line with nothing wrong is healthy too
        assert client.post("/trigger", json={"id": "u1"}).status_code == 200
        assert agent.pipeline.wait_idle(20)
        health_until(client, healthy)

        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        text = metrics.text
        for device in ("mqtt", "plc", "printer", "camera", "case printer", "scanner"):
            assert f'serialtrace_edge_device_up{{device="{device}"}} 1.0' in text
        assert 'serialtrace_edge_worker_alive{worker="edge-print"} 1.0' in text
        assert "serialtrace_edge_outbox_max_age_seconds 120.0" in text
        assert "serialtrace_edge_healthy 1.0" in text
        assert "serialtrace_edge_device_fault{" not in text


def test_broker_stopped_fails_health_naming_mqtt_and_restarted_heals_it(tmp_path: Path) -> None:
    broker = start_mosquitto(tmp_path / "broker")
    try:
        with agent_api(tmp_path, broker) as (_, client, _):
            health_until(client, healthy)
            broker.stop()
            _, body = health_until(client, fails("mqtt", "not connected to mqtts://line/plant1"))
            assert "plc" in failing(body)  # its link goes through the same broker
            assert body["mqtt"] is False
            text = client.get("/metrics").text
            assert 'serialtrace_edge_device_up{device="mqtt"} 0.0' in text
            assert 'serialtrace_edge_device_fault{device="mqtt",fault="not connected' in text
            assert "serialtrace_edge_healthy 0.0" in text
            broker.start()
            health_until(client, healthy, timeout=30)
    finally:
        broker.stop()


def test_plc_link_gone_fails_health_naming_the_plc(tmp_path: Path, mosquitto: Broker) -> None:
    with agent_api(tmp_path, mosquitto) as (agent, client, _):
        health_until(client, healthy)
        agent.plc.stop()  # its broker connections closed and its worker ended
        _, body = health_until(client, fails("plc", "PLC link not connected"))
        assert "mqtt" not in failing(body)
        assert failing(body)["workers"] == "not running: plc-batch"
        text = client.get("/metrics").text
        assert 'serialtrace_edge_device_up{device="plc"} 0.0' in text
        assert 'serialtrace_edge_worker_alive{worker="plc-batch"} 0.0' in text


def test_printer_fault_fails_health_naming_the_printer_until_it_prints_again(
    tmp_path: Path, mosquitto: Broker
) -> None:
    with agent_api(tmp_path, mosquitto) as (agent, client, line):
        health_until(client, healthy)
        start_batch(client, "H2")
        line.printer.set_state("head_open")
        assert client.post("/trigger", json={"id": "u1"}).status_code == 200
        _, body = health_until(client, fails("printer", "head_open"))
        assert set(failing(body)) == {"printer"}
        text = client.get("/metrics").text
        assert 'serialtrace_edge_device_up{device="printer"} 0.0' in text
        assert (
            'serialtrace_edge_device_fault{device="printer",fault="printer reports head_open"} 1.0'
            in text
        )
        line.printer.clear_faults()  # the operator closes the head and resumes
        assert client.post("/batch/resume", json={}).status_code == 200
        assert client.post("/trigger", json={"id": "u2"}).status_code == 200
        assert agent.pipeline.wait_idle(20)
        health_until(client, healthy)
        assert agent.pipeline.stats.printed >= 1


def test_printer_disconnected_fails_health_naming_the_printer(
    tmp_path: Path, mosquitto: Broker
) -> None:
    with agent_api(tmp_path, mosquitto) as (_, client, line):
        health_until(client, healthy)
        start_batch(client, "H3")
        line.printer_tcp.stop()
        assert client.post("/trigger", json={"id": "u1"}).status_code == 200
        _, body = health_until(client, fails("printer", "cannot open"))
        assert set(failing(body)) == {"printer"}


def test_outbox_older_than_its_max_age_fails_health_naming_the_outbox(
    tmp_path: Path, mosquitto: Broker
) -> None:
    """No trace server confirms the events: the oldest ages past ``outbox.max_age_s``."""
    with agent_api(tmp_path, mosquitto, extra={"outbox": {"max_age_s": 1.0}}) as (
        _,
        client,
        _,
    ):
        health_until(client, healthy)  # nothing waits yet
        start_batch(client, "H4")  # its event waits for the server's confirmation
        _, body = health_until(client, fails("outbox", "limit outbox.max_age_s = 1 s"))
        assert set(failing(body)) == {"outbox"}


def test_dead_worker_fails_health_naming_it(tmp_path: Path, mosquitto: Broker) -> None:
    with agent_api(tmp_path, mosquitto) as (agent, client, _):
        health_until(client, healthy)
        agent.packer.stop()
        _, body = health_until(client, fails("workers", "edge-packer"))
        assert body["workers"]["edge-packer"] is False


def test_second_client_of_the_line_identity_fails_health_as_a_takeover(
    tmp_path: Path, mosquitto: Broker
) -> None:
    """Another client connecting as this line (a second agent with its secrets) takes the
    publisher's session over each time: Mosquitto 2.0.11 just closes the connection (no
    0x8E), so three closes in a minute are what a takeover looks like."""
    with agent_api(tmp_path, mosquitto) as (agent, client, _):
        health_until(client, healthy)
        intruder = mosquitto.link("line", "plant1", "line3")
        for _ in range(3):
            connects = agent.publisher.stats.connects
            assert connect_once(intruder) is None  # accepted: the agent's link is closed
            deadline = time.monotonic() + 30
            while agent.publisher.stats.connects == connects:  # the agent is back
                assert time.monotonic() < deadline, "the publisher did not reconnect"
                time.sleep(0.05)
        _, body = health_until(client, fails("mqtt", "session taken over", "3 times in 60 s"))
        assert set(failing(body)) == {"mqtt"}
        assert "serialtrace_edge_mqtt_takeovers_total 1.0" in client.get("/metrics").text


def test_session_taken_over_fails_health_naming_mqtt(tmp_path: Path, mosquitto: Broker) -> None:
    """MQTT 5 reason 0x8E (another client with this line's client id) as paho reports it
    (the broker here, Mosquitto 2.0.11, closes such a connection without the reason)."""
    with agent_api(tmp_path, mosquitto) as (agent, client, _):
        health_until(client, healthy)
        taken = ReasonCode(PacketTypes.DISCONNECT, identifier=0x8E)  # type: ignore[no-untyped-call]
        agent.publisher._on_disconnect(agent.publisher._client, None, None, taken, None)
        health_until(client, fails("mqtt", "session taken over"))
        assert "serialtrace_edge_mqtt_takeovers_total 1.0" in client.get("/metrics").text


def test_wrong_password_fails_health_naming_mqtt_and_the_plc_without_the_password(
    tmp_path: Path, mosquitto: Broker
) -> None:
    secret = "not-the-line-password"
    mqtt = {
        "ca_file": str(mosquitto.ca_file),
        "username": "line/plant1/line3",
        "password": secret,
    }
    with agent_api(tmp_path, mosquitto.url, extra={"mqtt": mqtt}) as (_, client, _):
        _, body = health_until(client, fails("mqtt", "refused", "line/plant1/line3@"))
        assert "refused" in failing(body)["plc"]
        assert secret not in client.get("/health").text
        assert secret not in client.get("/metrics").text


def test_untrusted_broker_certificate_fails_health_naming_mqtt(
    tmp_path: Path, mosquitto: Broker
) -> None:
    """No CA file: the test broker's certificate chains to no CA this client trusts."""
    secrets = mosquitto.secrets("line", "plant1", "line3")
    link = mosquitto.link_from(secrets)
    mqtt = {"username": link.username, "password": link.password}
    with agent_api(tmp_path, mosquitto.url, extra={"mqtt": mqtt}) as (_, client, _):
        health_until(client, fails("mqtt", "TLS", "not trusted"))


def test_scanner_port_lost_fails_health_naming_the_scanner(
    tmp_path: Path, mosquitto: Broker
) -> None:
    with agent_api(tmp_path, mosquitto) as (_, client, line):
        health_until(client, healthy)
        line.scanner.close()  # the case scanner's cable is pulled: its port fails
        _, body = health_until(client, fails("scanner", "scanner port"))
        assert set(failing(body)) == {"scanner"}
        assert 'serialtrace_edge_device_up{device="scanner"} 0.0' in client.get("/metrics").text


def test_camera_out_of_step_fails_health_naming_the_camera(
    tmp_path: Path, mosquitto: Broker
) -> None:
    with agent_api(tmp_path, mosquitto) as (agent, client, line):
        health_until(client, healthy)
        start_batch(client, "H5")
        for unit in ("u1", "u2"):
            assert client.post("/trigger", json={"id": unit}).status_code == 200
        assert agent.pipeline.wait_idle(20)
        health_until(client, healthy)
        line.camera.skip_triggers(500)  # its count jumps: frames no longer name their labels
        assert client.post("/trigger", json={"id": "u3"}).status_code == 200
        _, body = health_until(client, fails("camera", "out of step"))
        assert set(failing(body)) == {"camera"}


def test_plc_reported_fault_fails_health_naming_the_plc_until_resumed(
    tmp_path: Path, mosquitto: Broker
) -> None:
    with agent_api(tmp_path, mosquitto) as (_, client, _):
        health_until(client, healthy)
        start_batch(client, "H6")
        plc = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        link = mosquitto.link("plc", "plant1", "line3")
        link.configure(plc)
        plc.connect(link.host, link.port)
        plc.loop_start()
        try:
            body = json.dumps({"error": "emergency stop pressed"})
            topic = LineTopics("plant1", "line3").plc_error
            plc.publish(topic, body, qos=1).wait_for_publish(5)
            health_until(client, fails("plc", "PLC: emergency stop pressed"))
        finally:
            plc.disconnect()
            plc.loop_stop()
        assert client.post("/batch/resume", json={}).status_code == 200
        health_until(client, healthy)


def test_idle_printers_out_of_labels_fail_health_until_refilled(
    tmp_path: Path, mosquitto: Broker
) -> None:
    """No batch runs: the agent asks the idle printers for their status every
    ``devices.idle_probe_s`` (5 s by default; here 0.2 s, so the test need not wait it out)."""
    with agent_api(tmp_path, mosquitto, extra={"devices": {"idle_probe_s": 0.2}}) as (
        _,
        client,
        line,
    ):
        health_until(client, healthy)
        line.printer.set_state("paper_out")
        line.case_printer.set_state("head_open")
        health_until(client, fails("printer", "printer reports paper_out"))
        health_until(client, fails("case printer", "printer reports head_open"))
        line.printer.clear_faults()
        line.case_printer.clear_faults()
        health_until(client, healthy)
