"""MQTT ingest from a real Mosquitto: ack after commit, shared subscriptions, SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, func, select

from epcis.broker import BrokerLink
from server.errors import ConfigError
from server.ingest import mqtt as mqtt_ingest
from server.ingest.mqtt import MqttIngest, events_subscription
from server.ingest.receiver import site_line
from server.ingest.service import Ingestor
from server.store import create_store_engine, read_transaction, upgrade
from server.store.schema import dead_letters, events, units
from tests.server import factory as f
from tests.server.conftest import WIDE_WINDOW_DAYS, register_line
from tests.support.services import Broker, free_port, start_mosquitto, wait_for_port

pytestmark = pytest.mark.mqtt
TOPIC = "serialtrace/v1/site1/line{}/events"
#: Tests that kill receivers start the next one at once (the default waits 1 s, doubling).
RESTART = 0.05


def read_point(line: int) -> str:
    return f.READ_POINT[: -len("1")] + str(line)


def publisher(broker: Broker, line: int = 1) -> Iterator[mqtt.Client]:
    """A client of line ``site1/line{line}``'s identity (its edge agent's publisher)."""
    link = broker.link("line", "site1", f"line{line}")
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    link.configure(client)
    client.connect(link.host, link.port)
    client.loop_start()
    yield client
    client.disconnect()  # first: it wakes the network thread, which loop_stop() waits for
    client.loop_stop()


def publish_all(client: mqtt.Client, payloads: list[tuple[str, bytes]]) -> None:
    infos = [client.publish(topic, payload, qos=1) for topic, payload in payloads]
    for info in infos:
        info.wait_for_publish(timeout=10)


def count(store: Engine, table: object) -> int:
    with read_transaction(store) as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def wait_until(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def case_payloads(cases: int, prefix: str, line: int = 1) -> list[tuple[str, bytes]]:
    out = []
    for case in range(cases):
        serials = [f"{prefix}{case:04d}{i:02d}" for i in range(10)]
        out.append(
            (
                TOPIC.format(line),
                f.payload(
                    [f.commissioning(serials), f.packing(f.sscc(10_000 * line + case), serials)]
                ).replace(f.READ_POINT.encode(), read_point(line).encode()),
            )
        )
    return out


def register_lines(store: Engine) -> None:
    """Lines site1/line1 and site1/line2, each with its own read point."""
    for line in (1, 2):
        register_line(store, "site1", f"line{line}", read_point(line))


def make_consumer(store: Engine, broker: Broker, name: str, **options: Any) -> MqttIngest:
    """An MqttIngest on ``store`` with a server identity of this test's own."""
    register_lines(store)
    identity = f"{name}-{os.getpid()}-{store.dialect.name}"
    return MqttIngest(
        Ingestor(store, max_payload_bytes=64 * 1024),
        broker.link("server", identity),
        client_id=identity,
        **options,
    )


def test_topic_helpers() -> None:
    assert site_line("serialtrace/v1/s1/l2/events") == ("s1", "l2")
    assert site_line("other/topic") == (None, None)
    assert events_subscription("ingest") == "$share/ingest/serialtrace/v1/+/+/events"
    assert BrokerLink.parse("mqtt://127.0.0.1:1884") == BrokerLink("127.0.0.1", 1884)
    with pytest.raises(ConfigError, match="mqtt_url: expected mqtt://HOST"):
        MqttIngest(None, "http://x", client_id="x")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="mqtt_share_group: "):
        events_subscription("a/b")


def test_ingest_acknowledges_after_commit_and_dead_letters(
    store: Engine, mosquitto: Broker
) -> None:
    ingest = make_consumer(store, mosquitto, "test")
    ingest.start()
    try:
        assert ingest.connected.wait(10)  # set once the broker granted the subscription
        for client in publisher(mosquitto):
            payloads = case_payloads(20, "M")
            payloads.append((TOPIC.format(1), b"not json"))
            payloads.append((TOPIC.format(1), b"{" + b" " * 70_000 + b"}"))
            publish_all(client, payloads + payloads[:5])  # with duplicates
            expected = len(payloads) + 5
            wait_until(lambda n=expected: ingest.applied + ingest.dead_lettered == n)
    finally:
        ingest.stop()
    assert count(store, units) == 200
    assert count(store, events) == 40
    with read_transaction(store) as conn:
        reasons = conn.execute(select(dead_letters.c.reason).order_by(dead_letters.c.id)).all()
        site = conn.execute(select(events.c.site, events.c.line).limit(1)).one()
    assert [r[0].split(":")[0] for r in reasons] == ["payload", "payload"]
    assert tuple(site) == ("site1", "line1")


def test_shared_subscription_splits_the_load(store: Engine, mosquitto: Broker) -> None:
    group = f"g{os.getpid()}{store.dialect.name}"
    consumers = [make_consumer(store, mosquitto, f"shared-{i}", share_group=group) for i in (0, 1)]
    for consumer in consumers:
        consumer.start()
    try:
        for consumer in consumers:
            assert consumer.connected.wait(10)  # subscribed
        for client in publisher(mosquitto, line=2):
            publish_all(client, case_payloads(40, "S", line=2))
            wait_until(lambda: sum(c.applied for c in consumers) == 40)
    finally:
        for consumer in consumers:
            consumer.stop()
    assert all(c.applied > 0 for c in consumers)  # both got work
    assert count(store, units) == 400


def test_a_receiver_killed_mid_ingest_is_replaced_and_nothing_is_lost(
    store: Engine, mosquitto: Broker
) -> None:
    ingest = make_consumer(
        store, mosquitto, "rkill", max_inflight=20, group_commit=5, receiver_restart_seconds=RESTART
    )
    ingest.start()
    try:
        assert ingest.connected.wait(10)  # subscribed
        first = ingest.receiver_pid
        assert first is not None
        for client in publisher(mosquitto):
            publish_all(client, case_payloads(300, "R"))
            wait_until(lambda: ingest.applied >= 20)  # mid-ingest
            os.kill(first, signal.SIGKILL)
            wait_until(lambda: count(store, units) == 3000, timeout=60)
        assert ingest.receiver_starts == 2
        assert ingest.receiver_pid not in (None, first)
        assert ingest.connected.wait(10)
    finally:
        ingest.stop()
    assert ingest.receiver_pid is None
    assert count(store, events) == 600
    assert count(store, dead_letters) == 0


def test_a_receiver_that_cannot_be_started_is_tried_again(
    store: Engine, mosquitto: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest = make_consumer(store, mosquitto, "rfail", receiver_restart_seconds=RESTART)
    ingest.start()
    try:
        assert ingest.connected.wait(10)
        first = ingest.receiver_pid
        assert first is not None
        failures = []
        popen = subprocess.Popen

        def fail_once(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
            if not failures:
                failures.append(args)
                raise OSError(24, "Too many open files")
            return popen(*args, **kwargs)

        monkeypatch.setattr(mqtt_ingest.subprocess, "Popen", fail_once)
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: ingest.receiver_starts == 3 and ingest.connected.is_set(), 20)
        assert failures
    finally:
        ingest.stop()


def receivers_of(pid: int) -> list[int]:
    """The pids of ``pid``'s MQTT receiver processes."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += (task / "children").read_text().split()
    return [
        int(child)
        for child in children
        if b"server.ingest.receiver" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def mqtt_connected(port: int) -> bool:
    try:
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
    except httpx.HTTPError:
        return False
    return bool(health.get("mqtt", {}).get("connected"))


def test_sigkill_during_ingest_loses_nothing(tmp_path: Path) -> None:
    broker = start_mosquitto(tmp_path / "broker")
    db = tmp_path / "trace.db"
    port = free_port()
    secrets = broker.secrets("server", "kill-test")
    engine = create_store_engine(f"sqlite:///{db}")
    upgrade(engine)
    register_lines(engine)

    def server() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "serialtrace",
                "server",
                "--db",
                f"sqlite:///{db}",
                "--mqtt",
                broker.url,
                "--mqtt-secrets",
                str(secrets),
                "--port",
                str(port),
            ],
            env={
                **os.environ,
                # the test documents carry 2025 event times
                "SERIALTRACE_SERVER__EVENT_TIME_MAX_AGE_DAYS": str(WIDE_WINDOW_DAYS),
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    process = server()
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        # Publish only once the server's subscription exists (its session keeps the rest).
        wait_until(lambda: mqtt_connected(port), timeout=30)
        # Enough that the kill lands mid-ingest: the server ingests a few thousand units in
        # the time the poll below takes to notice the first 200.
        payloads = case_payloads(2000, "K")
        done = threading.Event()

        def publish() -> None:
            for client in publisher(broker):
                publish_all(client, payloads)
            done.set()

        thread = threading.Thread(target=publish)
        thread.start()
        wait_until(lambda: count(engine, units) >= 200)  # mid-ingest
        receivers = receivers_of(process.pid)
        assert len(receivers) == 1
        process.send_signal(signal.SIGKILL)
        process.wait()
        wait_until(lambda: not running(receivers[0]), timeout=10)  # it ends with its server
        killed_at = count(engine, units)
        thread.join(timeout=30)
        assert done.is_set()
        process = server()
        wait_until(lambda: count(engine, units) == 20_000, timeout=60)
        assert killed_at < 20_000
        assert count(engine, events) == 4000
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
        assert health["mqtt"]["connected"] is True
        assert httpx.get(f"http://127.0.0.1:{port}/batches", timeout=5).status_code == 401
        engine.dispose()
    finally:
        process.kill()
        process.wait()
        broker.stop()
