"""Server-confirmed delivery end to end: the real edge publisher, a real secured Mosquitto
with persistence (SIGKILLed), the real trace server ingest (receiver process, SQLite store).

The issue-21 scenario: the server is away and the broker is killed three times while the
line produces; the broker loses what it held, and after each restart it has no subscription
for the server. Everything must still arrive, unit by unit, under the right case; the edge
deletes nothing before the server confirmed it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, select

from edge import outbox, store
from edge.config import MqttConfig, OutboxConfig
from edge.epcis_events import EpcisEvents
from edge.publisher import Publisher
from epcis import topics
from server import delivery
from server.ingest.mqtt import MqttIngest
from server.ingest.service import Ingestor
from server.store import create_store_engine, read_transaction, upgrade
from server.store.schema import alerts, containers, units
from tests.edge.agent.subscriber import persistent_broker
from tests.server import factory as f
from tests.server.conftest import register_line
from tests.support.services import Broker

pytestmark = pytest.mark.mqtt

SITE, LINE = "site1", "line1"
OF = topics.LineTopics(SITE, LINE)
EVENTS = EpcisEvents(f.READ_POINT, f.READ_POINT)
UNITS_PER_CASE = 10


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {what}")
        time.sleep(0.05)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Production:
    """Writes cases (commissioning of 10 units, then their packing) into the edge outbox."""

    def __init__(self, db: Path) -> None:
        self.conn = store.connect(db)
        self.parents: dict[str, str] = {}  # serial -> SSCC
        self.cases = 0

    def cases_of(self, count: int) -> None:
        with store.transaction(self.conn):
            for _ in range(count):
                self.cases += 1
                case = f.sscc(self.cases)
                serials = [f"D{self.cases:05d}{i:02d}" for i in range(UNITS_PER_CASE)]
                for event in (
                    f.commissioning(serials, time=now()),
                    f.packing(case, serials, time=now()),
                ):
                    outbox.append(self.conn, OF.events, _encode(event))
                self.parents.update(dict.fromkeys(serials, case))


def _encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


@pytest.fixture
def broker() -> Iterator[Broker]:
    with persistent_broker() as own:
        yield own


@pytest.fixture
def trace_store(tmp_path: Path) -> Iterator[Engine]:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'trace.db'}")
    upgrade(engine)
    register_line(engine, SITE, LINE, f.READ_POINT)
    yield engine
    engine.dispose()


def ingest(engine: Engine, broker: Broker) -> MqttIngest:
    identity = f"delivery-{os.getpid()}"
    consumer = MqttIngest(
        Ingestor(engine, max_payload_bytes=1024 * 1024),
        broker.link("server", identity),
        client_id=identity,
        gap_alert_seconds=600,
    )
    consumer.start()
    assert consumer.connected.wait(30), "the trace server did not connect"
    return consumer


def edge_publisher(
    db: Path, broker: Broker, confirm_by: str = "server", timeout_s: float = 2.0
) -> Publisher:
    return Publisher(
        db,
        MqttConfig(url=broker.url, secrets_file=str(broker.secrets("line", SITE, LINE))),
        f"test-delivery-{db.parent.name}",
        OF.state,
        EVENTS.envelope,
        OutboxConfig(
            confirm_by=confirm_by,  # type: ignore[arg-type]
            confirm_timeout_s=timeout_s,
            confirm_timeout_max_s=2 * timeout_s,
            max_events_per_message=20,
        ),
        resend_after_s=5.0,
        acks_topic=OF.acks,
    )


def kill_broker(broker: Broker) -> None:
    """SIGKILL: the broker loses every message and session it held in memory."""
    broker.process.kill()
    broker.process.wait(timeout=10)
    broker.restart()


def produce_while_server_away_and_broker_killed(
    production: Production, publisher: Publisher, broker: Broker, rounds: int = 3
) -> None:
    for _ in range(rounds):
        assert publisher.wait_connected(30)
        production.cases_of(10)
        publisher.wake()
        # Sent and acknowledged by the broker (PUBACK): the broker holds the only other copy.
        wait_for(
            lambda: publisher.stats.messages_sent > 0 and publisher.in_flight() == 0,
            30,
            "broker acknowledged the round",
        )
        kill_broker(broker)


def stored_parents(engine: Engine) -> dict[str, str | None]:
    with read_transaction(engine) as conn:
        rows = conn.execute(
            select(units.c.serial, containers.c.sscc).join(
                containers, containers.c.id == units.c.parent_id, isouter=True
            )
        ).all()
    return {row.serial: row.sscc for row in rows}


def test_broker_killed_three_times_while_the_server_is_away_loses_nothing(
    tmp_path: Path, broker: Broker, trace_store: Engine
) -> None:
    ingest(trace_store, broker).stop()  # the server's session exists, then it goes away
    db = tmp_path / "edge" / "edge.sqlite"
    production = Production(db)
    publisher = edge_publisher(db, broker)
    publisher.start()
    server: MqttIngest | None = None
    try:
        produce_while_server_away_and_broker_killed(production, publisher, broker)
        # Nothing was confirmed: every event is still in the outbox.
        assert outbox.depth(production.conn) == 3 * 10 * 2
        assert publisher.stats.rows_confirmed == 0
        server = ingest(trace_store, broker)
        production.cases_of(5)  # the line goes on: the server sees the gap below these
        publisher.wake()
        wait_for(lambda: outbox.depth(production.conn) == 0, 120, "every event confirmed")
        assert stored_parents(trace_store) == production.parents  # unit by unit, right case
        with read_transaction(trace_store) as conn:
            levels = conn.execute(select(containers.c.level)).scalars().all()
            (line,) = delivery.line_states(conn)
        assert sorted(set(levels)) == [1] and len(levels) == production.cases
        total = production.cases * 2  # a commissioning and a packing per case
        assert (line.contiguous, line.highest, line.gaps) == (total, total, ())
        assert publisher.stats.last_confirmed_seq == total
        assert publisher.stats.confirm_resends + publisher.stats.missing_resends > 0
        assert publisher.delivery()["unconfirmed"] == 0
    finally:
        publisher.stop()
        if server is not None:
            server.stop()


def test_the_server_names_a_missing_range_and_gets_it_at_once(
    tmp_path: Path, broker: Broker, trace_store: Engine
) -> None:
    """With a resend timeout far beyond the test, only the server's ``missing`` ranges can
    bring back what the killed broker lost."""
    ingest(trace_store, broker).stop()
    db = tmp_path / "edge" / "edge.sqlite"
    production = Production(db)
    publisher = edge_publisher(db, broker, timeout_s=600.0)
    publisher.start()
    server: MqttIngest | None = None
    try:
        produce_while_server_away_and_broker_killed(production, publisher, broker, rounds=1)
        server = ingest(trace_store, broker)
        production.cases_of(2)  # seqs 21-24 arrive; 1-20 were lost with the broker
        publisher.wake()
        wait_for(lambda: outbox.depth(production.conn) == 0, 60, "every event confirmed")
        assert publisher.stats.confirm_resends == 0
        assert publisher.stats.missing_resends >= 20
        assert stored_parents(trace_store) == production.parents
    finally:
        publisher.stop()
        if server is not None:
            server.stop()


def test_a_gap_that_stays_open_raises_an_alert_and_acks_name_it(
    broker: Broker, trace_store: Engine
) -> None:
    """A line (its own identity) sends numbers 1 and 3 only: the server acknowledges up to 1,
    names 2 as missing, and alerts once the gap is older than its limit."""
    server = MqttIngest(
        Ingestor(trace_store, max_payload_bytes=1 << 20),
        broker.link("server", f"gaps-{os.getpid()}"),
        client_id="gaps",
        gap_alert_seconds=1.0,
        delivery_check_seconds=0.2,
    )
    server.start()
    acks: list[bytes] = []
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    broker.link("line", SITE, LINE).configure(client)
    client.on_message = lambda _c, _u, message: acks.append(bytes(message.payload))
    subscribed = threading.Event()
    client.on_subscribe = lambda *_: subscribed.set()
    link = broker.link("line", SITE, LINE)
    client.connect(link.host, link.port)
    client.loop_start()
    try:
        assert server.connected.wait(30)
        client.subscribe(OF.acks, qos=1)
        assert subscribed.wait(30), "the acks subscription was not acknowledged"
        events = [
            {**f.commissioning([f"G{i}"], time=now()), delivery.SEQ_FIELD: seq}
            for i, seq in enumerate((1, 3))
        ]
        document = outbox.pack_events([_encode(e) for e in events], EVENTS.envelope())
        client.publish(OF.events, document, qos=1).wait_for_publish(10)
        wait_for(lambda: bool(acks), 30, "an acknowledgement")
        assert json.loads(acks[0]) == {"upTo": 1, "seqs": [3], "missing": [[2, 2]]}
        wait_for(lambda: server.gap_alerts == 1, 30, "the gap alert")
        with read_transaction(trace_store) as conn:
            (line,) = delivery.line_states(conn)
            kinds = conn.execute(select(alerts.c.kind)).scalars().all()
        assert kinds == ["delivery_gap"] and line.gaps[0].alerted
    finally:
        client.disconnect()
        client.loop_stop()
        server.stop()


def test_confirmed_by_the_broker_alone_the_same_outage_loses_events(
    tmp_path: Path, broker: Broker, trace_store: Engine
) -> None:
    """The failure the server's confirmation prevents (and proof that the test above can
    fail): deleting on PUBACK, the killed broker's copy was the only one."""
    ingest(trace_store, broker).stop()
    db = tmp_path / "edge" / "edge.sqlite"
    production = Production(db)
    publisher = edge_publisher(db, broker, confirm_by="broker")
    publisher.start()
    server: MqttIngest | None = None
    try:
        produce_while_server_away_and_broker_killed(production, publisher, broker, rounds=1)
        assert outbox.depth(production.conn) == 0  # deleted on PUBACK
        server = ingest(trace_store, broker)
        production.cases_of(1)
        publisher.wake()
        wait_for(lambda: len(stored_parents(trace_store)) >= 10, 60, "the live case stored")
        time.sleep(1.0)  # (nothing else can come: the edge holds nothing more)
        assert len(stored_parents(trace_store)) == 10  # the 100 units before the kill are lost
    finally:
        publisher.stop()
        if server is not None:
            server.stop()


def test_hostile_acknowledgements_are_ignored_and_never_delete(
    tmp_path: Path, broker: Broker
) -> None:
    """Garbage, wrong types and a claim beyond what the line issued on the acks topic."""
    db = tmp_path / "edge" / "edge.sqlite"
    production = Production(db)
    production.cases_of(2)  # line seqs 1-4
    publisher = edge_publisher(db, broker)
    publisher.start()
    link = broker.link("server", f"hostile-{os.getpid()}")
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    link.configure(client)
    client.connect(link.host, link.port)
    client.loop_start()
    try:
        assert publisher.wait_connected(30)
        wait_for(lambda: publisher.stats.messages_sent > 0, 30, "sent")
        time.sleep(0.5)  # the publisher's subscription to its acks topic
        for payload in (b"not json", b"[]", b'{"upTo": "4"}', b'{"upTo": true}', b'{"upTo": -1}'):
            client.publish(OF.acks, payload, qos=1).wait_for_publish(10)
        wait_for(lambda: publisher.stats.bad_acks == 5, 20, "five bad acknowledgements")
        assert outbox.depth(production.conn) == 4
        # A claim beyond what the line issued cannot be right: nothing is deleted on it.
        client.publish(OF.acks, b'{"upTo": 1000, "seqs": [2000]}', qos=1).wait_for_publish(10)
        wait_for(lambda: publisher.stats.bad_acks == 6, 20, "the claim refused")
        assert outbox.depth(production.conn) == 4
        assert "issued up to 4: ignored" in (publisher.stats.last_error or "")
        client.publish(OF.acks, b'{"upTo": 1, "seqs": [3]}', qos=1).wait_for_publish(10)
        wait_for(lambda: outbox.depth(production.conn) == 2, 20, "1 and 3 confirmed")
        assert [row.line_seq for row in outbox.pending(production.conn, 0, 10)] == [2, 4]
        assert publisher.stats.last_confirmed_seq == 1
    finally:
        client.disconnect()  # first: it wakes the network loop, which loop_stop() waits for
        client.loop_stop()
        publisher.stop()


def test_line_sequence_numbers_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "edge.sqlite"
    first = store.connect(db)
    with store.transaction(first):
        outbox.append(first, OF.events, b'{"eventID":"a"}')
        outbox.append(first, OF.state, b"as is", kind="message")
        outbox.append(first, OF.events, b"{ }")
    first.close()
    again = store.connect(db)
    with store.transaction(again):
        outbox.append(again, OF.events, b'{"eventID":"c"}')
    rows = outbox.pending(again, 0, 10)
    assert [row.line_seq for row in rows] == [1, None, 2, 3]
    assert [row.payload for row in rows] == [
        b'{"serialtrace:seq":1,"eventID":"a"}',
        b"as is",
        b'{"serialtrace:seq":2}',
        b'{"serialtrace:seq":3,"eventID":"c"}',
    ]
    with pytest.raises(ValueError, match="expected a JSON object"):
        outbox.with_line_seq(b"[1]", 4)
