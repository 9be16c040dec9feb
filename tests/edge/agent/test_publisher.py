"""The outbox publisher against a real Mosquitto: order, PUBACK deletes, broker outages."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge import outbox, store
from edge.config import MqttConfig, OutboxConfig
from edge.epcis_events import EpcisEvents
from edge.publisher import Publisher
from epcis.validation import validate_document
from tests.edge.agent.subscriber import Subscriber, persistent_broker
from tests.support.services import Broker

pytestmark = pytest.mark.mqtt

TOPIC = "serialtrace/v1/plant1/line3/events"
STATE = "serialtrace/v1/plant1/line3/state"
EVENTS = EpcisEvents("urn:epc:id:sgln:9506000.00000.3", "urn:epc:id:sgln:9506000.00000.0")


def fill(conn: sqlite3.Connection, count: int, start: int = 0) -> None:
    with store.transaction(conn):
        for i in range(start, start + count):
            event = {"type": "ObjectEvent", "eventID": f"urn:uuid:test-{i}", "n": i}
            outbox.append(conn, TOPIC, json.dumps(event).encode())


def publisher(db: Path, broker: Broker, **options: int) -> Publisher:
    return Publisher(
        db,
        MqttConfig(url=broker.url, secrets_file=str(broker.secrets("line", "plant1", "line3"))),
        f"test-edge-{db.parent.name}",
        STATE,
        EVENTS.envelope,
        OutboxConfig(**options),
        resend_after_s=5.0,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "edge.sqlite"


@pytest.fixture
def own_broker() -> Iterator[Broker]:
    with persistent_broker() as broker:
        yield broker


def numbers(subscriber: Subscriber) -> list[int]:
    return [event["n"] for event in subscriber.events(TOPIC)]


def test_drains_in_order_packing_events_into_documents(db: Path, mosquitto: Broker) -> None:
    conn = store.connect(db)
    fill(conn, 450)
    with store.transaction(conn):
        # A message as is, on another topic the line identity may publish to (its ACL
        # refuses any other).
        outbox.append(conn, STATE, b"as is", kind="message")
    fill(conn, 10, start=450)
    subscriber = Subscriber(mosquitto, [TOPIC, STATE])
    pub = publisher(db, mosquitto, max_events_per_message=100)
    pub.start()
    try:
        assert subscriber.wait_for(lambda: len(numbers(subscriber)) >= 460)
        assert numbers(subscriber) == list(range(460))
        # (the state topic may also carry a retained state an earlier test left)
        assert [p for p in subscriber.on(STATE) if not p.startswith(b'{"status"')] == [b"as is"]
        documents = subscriber.on(TOPIC)
        assert 5 <= len(documents) < 460  # packed, at most 100 per document
        assert all(len(json.loads(d)["epcisBody"]["eventList"]) <= 100 for d in documents)
        assert subscriber.wait_for(lambda: outbox.depth(conn) == 0, 5)
        assert pub.stats.rows_acked == 461
    finally:
        pub.stop()
        subscriber.close()


def test_documents_are_valid_epcis(db: Path, mosquitto: Broker) -> None:
    conn = store.connect(db)
    import gs1

    code = gs1.UnitCode.create(gtin="09506000134352", serial="123456", lot="L1", expiry="281130")
    with store.transaction(conn):
        outbox.append(conn, TOPIC, EVENTS.unit_commissioned(code, 7))
        outbox.append(conn, TOPIC, EVENTS.decommissioned([code.sgtin_uri(7)], "sample"))
    subscriber = Subscriber(mosquitto, [TOPIC])
    pub = publisher(db, mosquitto)
    pub.start()
    try:
        assert subscriber.wait_for(lambda: len(subscriber.events(TOPIC)) == 2)
        for payload in subscriber.on(TOPIC):
            validate_document(json.loads(payload))
    finally:
        pub.stop()
        subscriber.close()


def test_nothing_is_lost_while_the_broker_is_away(db: Path, own_broker: Broker) -> None:
    conn = store.connect(db)
    subscriber = Subscriber(own_broker, [TOPIC], client_id="test-sub-outage", persistent=True)
    pub = publisher(db, own_broker)
    pub.start()
    try:
        assert pub.wait_connected(10)
        fill(conn, 200)
        pub.wake()
        assert subscriber.wait_for(lambda: len(numbers(subscriber)) == 200)
        own_broker.stop()
        fill(conn, 300, start=200)  # the line goes on while the broker is down
        pub.wake()
        time.sleep(0.5)
        assert outbox.depth(conn) == 300
        own_broker.restart()
        assert subscriber.wait_for(lambda: len(set(numbers(subscriber))) == 500, 30)
        assert subscriber.wait_for(lambda: outbox.depth(conn) == 0, 10)
        received = numbers(subscriber)
        assert sorted(set(received)) == list(range(500))
        first_seen = sorted(set(received), key=received.index)
        assert first_seen == list(range(500))  # order per line kept
    finally:
        pub.stop()
        subscriber.close()


def test_retained_state_and_alarm_on_depth(db: Path, mosquitto: Broker) -> None:
    conn = store.connect(db)
    alarms: list[tuple[bool, int]] = []
    pub = Publisher(
        db,
        MqttConfig(url="mqtt://127.0.0.1:1"),  # nothing listens: the outbox only grows
        "test-edge-alarm",
        STATE,
        EVENTS.envelope,
        OutboxConfig(alarm_depth=50),
        on_alarm=lambda raised, depth: alarms.append((raised, depth)),
    )
    pub.start()
    try:
        fill(conn, 60)
        deadline = time.monotonic() + 5
        while not alarms and time.monotonic() < deadline:
            time.sleep(0.05)
        assert alarms == [(True, 60)]
        assert pub.stats.alarm and pub.stats.depth == 60
    finally:
        pub.stop()
    state = Publisher(
        db,
        MqttConfig(
            url=mosquitto.url, secrets_file=str(mosquitto.secrets("line", "plant1", "line3"))
        ),
        "test-edge-state",
        STATE,
        EVENTS.envelope,
        OutboxConfig(),
    )
    state.start()
    try:
        assert state.wait_connected(10)
        state.publish_state(b'{"status":"online"}')
        time.sleep(0.3)
        late = Subscriber(mosquitto, [STATE], client_id="late")
        assert late.wait_for(lambda: late.on(STATE) == [b'{"status":"online"}'], 5)
        late.close()
    finally:
        state.stop(offline_payload=b'{"status":"offline"}')
